import Foundation
import TrainyardCore

/// The checkpoints of one job: `<job-dir>/checkpoints/ckpt-<step>.tyckpt` plus a `latest` pointer.
///
/// A save writes the checkpoint atomically, then the pointer (atomically, last), then removes the
/// oldest beyond `keep`. A load trusts the pointer but verifies the checksum, and falls back to
/// the newest intact checkpoint when the pointed-to file is damaged or missing.
public struct CheckpointStore: Sendable {
    public let directory: String
    public static let pointerName = "latest"

    public init(directory: String) { self.directory = directory }
    public init(jobDirectory: String) { self.init(directory: jobDirectory + "/checkpoints") }

    public var pointerPath: String { directory + "/" + CheckpointStore.pointerName }

    /// Saves `checkpoint`, reads it back (every byte, and the checksum), points `latest` at it and
    /// keeps the newest `keep`. Returns its path; throws when any of that fails, naming the file.
    @discardableResult
    public func save(_ checkpoint: Checkpoint, keep: Int) throws -> String {
        try Files.createDirectory(directory)
        let name = Checkpoint.fileName(step: checkpoint.globalStep)
        let path = directory + "/" + name
        let bytes = checkpoint.encoded()
        try Files.writeAtomically(bytes, to: path)
        try CheckpointStore.verify(path, holds: bytes)
        try Files.writeAtomically(name + "\n", to: pointerPath)
        guard pointedName() == name else { throw ReadBackError(path: pointerPath, reason: "does not name \(name) after it was written") }
        let all = checkpointNames()
        if all.count > keep {
            for old in all.prefix(all.count - keep) where old != name { Files.remove(directory + "/" + old) }
        }
        return path
    }

    /// Checkpoint file names, oldest first.
    public func checkpointNames() -> [String] {
        Files.list(directory)
            .compactMap { name in Checkpoint.step(fromFileName: name).map { (name, $0) } }
            .sorted { $0.1 < $1.1 }
            .map(\.0)
    }

    /// The file `latest` names, if the pointer exists and names a plain file of this folder.
    public func pointedName() -> String? {
        pointer().name
    }

    /// What `latest` says: the name it gives when that is a plain file of this folder, else why
    /// it is passed over (`../../other-job/checkpoints/ckpt-9.tyckpt`, an absolute path, a link).
    func pointer() -> (name: String?, refusal: String?) {
        guard Posix.fileKind(pointerPath) == .file, let text = try? Files.readText(pointerPath) else { return (nil, nil) }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { return (nil, nil) }
        guard PathContainment.isPlainName(name) else {
            return (nil, "latest names \"\(name.prefix(200))\", which is not a file of \(directory): ignored")
        }
        guard Posix.fileKind(directory + "/" + name) == .file else {
            return (nil, "latest names \(name), which is not a plain file of \(directory): ignored")
        }
        return (name, nil)
    }

    /// The result of looking for the checkpoint to restore from.
    public struct Found: Sendable {
        public var checkpoint: Checkpoint
        public var path: String
        /// Checkpoints passed over because they were damaged, with the reason (newest first).
        public var skipped: [(path: String, reason: String)]
    }

    /// The newest intact checkpoint: the one `latest` names when it verifies, else the newest other
    /// that does. Nil when there is none.
    public func latestValid() -> Found? { search().found }

    /// What a search for the newest intact checkpoint found, and every damaged one it passed over.
    public func search() -> (found: Found?, skipped: [(path: String, reason: String)]) {
        var skipped: [(path: String, reason: String)] = []
        var candidates = checkpointNames().reversed().filter { Posix.fileKind(directory + "/" + $0) == .file }
        let (pointed, refusal) = pointer()
        if let refusal { skipped.append((pointerPath, refusal)) }
        if let pointed {
            candidates.removeAll { $0 == pointed }
            candidates.insert(pointed, at: 0)
        }
        for name in candidates {
            let path = directory + "/" + name
            do {
                let checkpoint = try Checkpoint(decoding: try Files.read(path))
                return (Found(checkpoint: checkpoint, path: path, skipped: skipped), skipped)
            } catch {
                skipped.append((path, "\(error)"))
            }
        }
        return (nil, skipped)
    }
}

extension CheckpointStore {
    /// Reads `path` back and checks that it holds exactly `bytes` and decodes as a checkpoint
    /// (checksum included): a write that "succeeded" onto a full or failing disk is caught here.
    public static func verify(_ path: String, holds bytes: [UInt8]) throws {
        let back = try Files.read(path)
        guard back == bytes else {
            throw ReadBackError(path: path, reason: "reads back \(back.count) bytes that differ from the \(bytes.count) written")
        }
        do { _ = try Checkpoint(decoding: back) } catch { throw ReadBackError(path: path, reason: "does not verify: \(error)") }
    }
}

/// A file that was written but did not read back as written.
public struct ReadBackError: TrainyardError, Equatable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var exitCode: ExitCode { .systemError }
    public var description: String { "\(path) \(reason)" }
}
