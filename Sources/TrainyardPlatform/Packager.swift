import Foundation
import TrainyardCore

/// Packages a trainer folder as AI Platform does with `--package-path`: the files the ignore
/// rules leave in (`.gcloudignore`, else `.gitignore`; `.git/` always out), named by the SHA-256 of
/// their paths and contents, as a tar.gz whose top folder is the package's name.
public enum Packager {
    public struct Package: Sendable {
        public var name: String
        /// Relative paths of the files packed, sorted (symbolic links among them).
        public var files: [String]
        /// SHA-256 over every file's path and bytes (independent of times and owners); a link
        /// counts by its target's text.
        public var hash: String
        /// Which rules file was honoured, if any.
        public var rulesFile: String?
        /// The files that are symbolic links, each pointing inside the package (stored as links).
        public var links: [String] = []
    }

    /// Refuses a `--package-path` that is not a folder (invalid input).
    public static func checkFolder(_ directory: String) throws(FieldError) {
        guard Files.isDirectory(directory) else { throw notAFolder(directory) }
    }

    static func notAFolder(_ directory: String) -> FieldError {
        FieldError(source: directory, path: "", Files.exists(directory) ? "--package-path must be a folder, not a file" : "--package-path: no such folder",
                   exitCode: .invalidInput)
    }

    /// The files of `directory` the ignore rules keep, with their content hash.
    ///
    /// Symbolic links are never followed: a link whose target stays inside the package (by a
    /// relative path) is packed as a link; any other link is refused with its path named. SIGINT
    /// and SIGTERM stop the scan between files (`Signals.Interrupted`).
    public static func scan(_ directory: String) throws -> Package {
        try checkFolder(directory)
        guard let root = Posix.realPath(directory) else {
            throw FieldError(source: directory, path: "", "--package-path: cannot resolve the folder's path", exitCode: .invalidInput)
        }
        var rules = IgnoreRules()
        var rulesFile: String?
        for candidate in [".gcloudignore", ".gitignore"] where rulesFile == nil {
            // A rules file (or an included one) may be a link, but only to a file inside the package.
            func insideFile(_ path: String) -> String? {
                guard let real = Posix.realPath(path), PathContainment.isInside(real, root), Posix.fileKind(real) == .file else { return nil }
                return try? Files.readText(real)
            }
            guard let text = insideFile(directory + "/" + candidate) else { continue }
            rules = IgnoreRules(parsing: text) { insideFile(directory + "/" + $0) }
            rulesFile = candidate
        }
        var files: [String] = []
        var links: [String: String] = [:]
        func walk(_ relative: String) throws {
            for name in Files.list(relative.isEmpty ? directory : directory + "/" + relative) {
                try Signals.checkInterrupted("packaging \(directory)")
                let path = relative.isEmpty ? name : relative + "/" + name
                let full = directory + "/" + path
                let kind = Posix.fileKind(full)
                let isDir = kind == .directory
                if name == ".git" && isDir { continue }
                if rules.ignores(path, isDirectory: isDir) { continue }
                switch kind {
                case .directory: try walk(path)
                case .file: files.append(path)
                case .symbolicLink:
                    links[path] = try insideLinkTarget(path, full: full, root: root, directory: directory)
                    files.append(path)
                case .other, nil: continue
                }
            }
        }
        try walk("")
        files.sort()
        var sha = SHA256()
        for f in files {
            try Signals.checkInterrupted("packaging \(directory)")
            sha.update(f)
            sha.update([0])
            if let target = links[f] {
                sha.update("symlink:" + target)
            } else {
                sha.update(try Files.read(directory + "/" + f))
            }
            sha.update([0])
        }
        let name = (Files.absolute(directory) as NSString).lastPathComponent
        return Package(name: name, files: files, hash: sha.finalize(), rulesFile: rulesFile, links: links.keys.sorted())
    }

    /// The target text of the link at `path` when it stays inside the package; throws otherwise.
    static func insideLinkTarget(_ path: String, full: String, root: String, directory: String) throws -> String {
        let refuse = { (why: String) in
            FieldError(source: directory, path: path, "a symbolic link that \(why): packages only keep links inside themselves (remove it or list it in .gcloudignore)", exitCode: .invalidInput)
        }
        guard let target = Posix.readLink(full) else { throw refuse("cannot be read") }
        guard !target.hasPrefix("/") else { throw refuse("points to the absolute path \(target)") }
        // Lexically: the link's folder plus its text may not climb above the package root…
        let folder = (path as NSString).deletingLastPathComponent
        guard PathContainment.normalizedRelative(folder.isEmpty ? target : folder + "/" + target) != nil else {
            throw refuse("points outside the package (\(target))")
        }
        // …and, with every further link resolved, must land on something inside it.
        guard let resolved = Posix.realPath(full) else { throw refuse("points to nothing (\(target))") }
        guard PathContainment.isInside(resolved, root) else { throw refuse("points outside the package (\(target) → \(resolved))") }
        return target
    }

    /// Writes the package as a tar.gz at `destination` (atomically), with `name/` as its top folder.
    /// SIGINT or SIGTERM stops it within a fraction of a second, leaving no partial archive.
    public static func archive(_ package: Package, from directory: String, to destination: String) throws {
        let work = NSTemporaryDirectory() + "trainyard-package-\(UInt32.random(in: 0...UInt32.max))"
        try Files.createDirectory(work)
        defer { Files.remove(work) }
        let list = work + "/files"
        try Files.writeAtomically(package.files.map { package.name + "/" + $0 }.joined(separator: "\n") + "\n", to: list, durable: false)
        let parent = (Files.absolute(directory) as NSString).deletingLastPathComponent
        let temp = work + "/package.tar.gz"
        try runTool("/usr/bin/env", ["tar", "--create", "--gzip", "--file", temp, "--directory", parent, "--owner=0", "--group=0",
                                     "--numeric-owner", "--mtime=@0", "--no-recursion", "--files-from", list], log: work + "/tar.log",
                    doing: "packaging \(directory)")
        try Signals.checkInterrupted("packaging \(directory)")
        try Files.createDirectory((destination as NSString).deletingLastPathComponent)
        try Files.writeAtomically(try Files.read(temp), to: destination)
    }

    /// The top folder of an archive `archive` wrote (`NAME.tar.gz` holds `NAME/`).
    public static func packageName(ofArchive path: String) -> String {
        let file = (path as NSString).lastPathComponent
        return file.hasSuffix(".tar.gz") ? String(file.dropLast(".tar.gz".count)) : file
    }

    /// Unpacks a tar.gz into `directory`. On any failure — tar's, a link in the archive that
    /// leads outside `directory`, or SIGINT/SIGTERM (noticed within a fraction of a second) —
    /// `directory` is removed, so no partial unpacking is left behind.
    public static func extract(_ archive: String, into directory: String) throws {
        try Files.createDirectory(directory)
        do {
            try runTool("/usr/bin/env", ["tar", "--extract", "--gzip", "--file", archive, "--directory", directory, "--no-same-owner"],
                        log: directory + "/.trainyard-unpack.log", doing: "unpacking \(archive)")
            Files.remove(directory + "/.trainyard-unpack.log")
            try checkLinksStayInside(directory)
        } catch {
            Files.remove(directory)
            throw error
        }
    }

    /// Refuses a tree holding a symbolic link that resolves outside it (a hostile archive).
    static func checkLinksStayInside(_ directory: String) throws {
        guard let root = Posix.realPath(directory) else { return }
        func walk(_ relative: String) throws {
            for name in Files.list(relative.isEmpty ? directory : directory + "/" + relative) {
                try Signals.checkInterrupted("unpacking into \(directory)")
                let path = relative.isEmpty ? name : relative + "/" + name
                switch Posix.fileKind(directory + "/" + path) {
                case .directory: try walk(path)
                case .symbolicLink:
                    let resolved = Posix.realPath(directory + "/" + path)
                    guard let resolved, PathContainment.isInside(resolved, root) else {
                        throw RuntimeFailure("the package holds a symbolic link \(path) that leads outside it (\(Posix.readLink(directory + "/" + path) ?? "?")): refused", exitCode: .invalidInput)
                    }
                default: continue
                }
            }
        }
        try walk("")
    }

    /// Runs a tool to its end, polling for SIGINT/SIGTERM every 20 ms: on one, the tool is killed
    /// and reaped and `Signals.Interrupted` thrown.
    static func runTool(_ executable: String, _ arguments: [String], log: String, doing: String) throws {
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: executable, arguments: arguments,
                                                        environment: ProcessInfo.processInfo.environment, outputPath: log))
        let deadline = Deadline.after(seconds: 600)
        var termination: Termination?
        while termination == nil {
            if Signals.pending != nil || deadline.hasPassed {
                ProcessSpawner.signalGroup(pid, Signals.kill)
                Posix.kill(pid, Signals.kill)
                _ = ProcessSpawner.wait(pid, timeout: 5)
                try Signals.checkInterrupted(doing)
                throw RuntimeFailure("\(arguments.first ?? executable) failed (timed out after 600 s)", exitCode: .systemError)
            }
            termination = ProcessSpawner.wait(pid, timeout: 0.02)
        }
        guard termination == .exited(0) else {
            try Signals.checkInterrupted(doing)
            let output = (try? Files.readText(log)) ?? ""
            throw RuntimeFailure("\(arguments.first ?? executable) failed (\(termination!.description)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))", exitCode: .systemError)
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
