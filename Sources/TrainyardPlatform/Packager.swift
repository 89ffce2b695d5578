import Foundation
import TrainyardCore

/// Packages a trainer folder as AI Platform does with `--package-path`: the files the ignore
/// rules leave in (`.gcloudignore`, else `.gitignore`; `.git/` always out), named by the SHA-256 of
/// their paths and contents, as a tar.gz whose top folder is the package's name.
public enum Packager {
    public struct Package: Sendable {
        public var name: String
        /// Relative paths of the files packed, sorted.
        public var files: [String]
        /// SHA-256 over every file's path and bytes (independent of times and owners).
        public var hash: String
        /// Which rules file was honoured, if any.
        public var rulesFile: String?
    }

    /// The files of `directory` the ignore rules keep, with their content hash.
    public static func scan(_ directory: String) throws -> Package {
        guard Files.isDirectory(directory) else {
            throw FieldError(source: directory, path: "", "--package-path must be a folder", exitCode: .invalidInput)
        }
        var rules = IgnoreRules()
        var rulesFile: String?
        for candidate in [".gcloudignore", ".gitignore"] where rulesFile == nil {
            if let text = try? Files.readText(directory + "/" + candidate) {
                rules = IgnoreRules(parsing: text) { try? Files.readText(directory + "/" + $0) }
                rulesFile = candidate
            }
        }
        var files: [String] = []
        func walk(_ relative: String) {
            for name in Files.list(relative.isEmpty ? directory : directory + "/" + relative) {
                let path = relative.isEmpty ? name : relative + "/" + name
                let full = directory + "/" + path
                let isDir = Files.isDirectory(full)
                if name == ".git" && isDir { continue }
                if rules.ignores(path, isDirectory: isDir) { continue }
                if isDir { walk(path) } else { files.append(path) }
            }
        }
        walk("")
        files.sort()
        var sha = SHA256()
        for f in files {
            sha.update(f)
            sha.update([0])
            sha.update(try Files.read(directory + "/" + f))
            sha.update([0])
        }
        let name = (Files.absolute(directory) as NSString).lastPathComponent
        return Package(name: name, files: files, hash: sha.finalize(), rulesFile: rulesFile)
    }

    /// Writes the package as a tar.gz at `destination` (atomically), with `name/` as its top folder.
    public static func archive(_ package: Package, from directory: String, to destination: String) throws {
        let work = NSTemporaryDirectory() + "trainyard-package-\(UInt32.random(in: 0...UInt32.max))"
        try Files.createDirectory(work)
        defer { Files.remove(work) }
        let list = work + "/files"
        try Files.writeAtomically(package.files.map { package.name + "/" + $0 }.joined(separator: "\n") + "\n", to: list, durable: false)
        let parent = (Files.absolute(directory) as NSString).deletingLastPathComponent
        let temp = work + "/package.tar.gz"
        try runTool("/usr/bin/env", ["tar", "--create", "--gzip", "--file", temp, "--directory", parent, "--owner=0", "--group=0",
                                     "--numeric-owner", "--mtime=@0", "--no-recursion", "--files-from", list], log: work + "/tar.log")
        try Files.createDirectory((destination as NSString).deletingLastPathComponent)
        try Files.writeAtomically(try Files.read(temp), to: destination)
    }

    /// The top folder of an archive `archive` wrote (`NAME.tar.gz` holds `NAME/`).
    public static func packageName(ofArchive path: String) -> String {
        let file = (path as NSString).lastPathComponent
        return file.hasSuffix(".tar.gz") ? String(file.dropLast(".tar.gz".count)) : file
    }

    /// Unpacks a tar.gz into `directory`.
    public static func extract(_ archive: String, into directory: String) throws {
        try Files.createDirectory(directory)
        try runTool("/usr/bin/env", ["tar", "--extract", "--gzip", "--file", archive, "--directory", directory, "--no-same-owner"],
                    log: directory + "/.trainyard-unpack.log")
        Files.remove(directory + "/.trainyard-unpack.log")
    }

    static func runTool(_ executable: String, _ arguments: [String], log: String) throws {
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: executable, arguments: arguments,
                                                        environment: ProcessInfo.processInfo.environment, outputPath: log))
        let t = ProcessSpawner.wait(pid, timeout: 600)
        guard t == .exited(0) else {
            let output = (try? Files.readText(log)) ?? ""
            throw RuntimeFailure("\(arguments.first ?? executable) failed (\(t?.description ?? "timed out")): \(output.trimmingCharacters(in: .whitespacesAndNewlines))", exitCode: .systemError)
        }
    }
}

/// An exclusive lock on a file (flock), held while `body` runs: the job record's read-modify-write
/// by the supervisor and by `jobs cancel` never interleave.
public enum FileLock {
    public static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = try Posix.open(path, O_RDWR | O_CREAT, mode: 0o644)
        defer { Posix.close(fd) }
        try Posix.lockExclusively(fd, path)
        defer { Posix.unlock(fd) }
        return try body()
    }
}
