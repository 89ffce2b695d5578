#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TrainyardCore

/// File operations with the guarantees Trainyard promises: writes that matter are atomic (a
/// reader sees the old file or the whole new one, never half), and failures name the path.
public enum Files {
    /// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename over
    /// the target, fsync of the folder. With `durable: false` the fsyncs are skipped: readers still
    /// never see half a file, but a machine crash may lose it (for control files that only matter
    /// while the job runs, such as fault files, where an fsync's latency would matter more).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, durable: Bool = true) throws {
        try writeAtomically(to: path, durable: durable) { fd, temp in try writeAll(fd, bytes[...], temp) }
    }

    /// Writes every byte of `bytes` to `fd` (a short write goes on where it stopped).
    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, _ path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try bytes.withUnsafeBytes { raw in
                try Posix.write(fd, raw.baseAddress! + offset, count: raw.count - offset, path)
            }
            offset += n
        }
    }

    /// Copies the regular file `from` to `to` a megabyte at a time, written atomically as
    /// `writeAtomically` writes (`to`'s folder must exist): memory stays bounded whatever the
    /// file's size, and a SIGINT or SIGTERM stops it between two pieces (`Signals.Interrupted`,
    /// `during` saying what stopped) with nothing left at `to` or beside it. A FIFO, socket or
    /// device is refused as `readRegularFile` refuses it.
    public static func copyRegularFile(_ from: String, to: String, during: @autoclosure () -> String) throws {
        let source = try openRegularFile(from)
        defer { Posix.close(source) }
        try writeAtomically(to: to, durable: true) { fd, temp in
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                try Signals.checkInterrupted(during())
                let n = try buffer.withUnsafeMutableBytes { raw in try Posix.read(source, raw.baseAddress!, count: raw.count, from) }
                if n == 0 { break }
                try writeAll(fd, buffer[0..<n], temp)
            }
        }
    }

    /// Makes `path` atomically from what `write` puts in a new temporary file beside it (given
    /// its descriptor and name): fsync, rename over `path`, fsync of the folder (without them
    /// with `durable: false`). When `write` throws, the temporary file is removed and `path` is
    /// as it was.
    static func writeAtomically(to path: String, durable: Bool, _ write: (Int32, String) throws -> Void) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temp = (dir.isEmpty ? "." : dir) + "/.\(name).tmp-\(Posix.getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try Posix.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        var ok = false
        defer {
            if !ok { try? Posix.unlink(temp) }
        }
        do {
            try write(fd, temp)
            if durable { try Posix.fsync(fd, temp) }
        } catch {
            Posix.close(fd)
            throw error
        }
        Posix.close(fd)
        try Posix.rename(temp, to: path)
        ok = true
        guard durable else { return }
        if let dfd = try? Posix.open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY) {
            try? Posix.fsync(dfd)
            Posix.close(dfd)
        }
    }

    public static func writeAtomically(_ text: String, to path: String, durable: Bool = true) throws {
        try writeAtomically(Array(text.utf8), to: path, durable: durable)
    }

    /// Appends one line with a single write(2) on an O_APPEND descriptor, so lines from several
    /// processes appending to the same file never interleave.
    public static func appendLine(_ line: String, to path: String) throws {
        let fd = try Posix.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o644)
        defer { Posix.close(fd) }
        let bytes = Array((line + "\n").utf8)
        _ = try bytes.withUnsafeBytes { raw in
            try Posix.write(fd, raw.baseAddress!, count: raw.count, path)
        }
    }

    public static func read(_ path: String) throws -> [UInt8] {
        let fd = try Posix.open(path, O_RDONLY)
        defer { Posix.close(fd) }
        return try readToEnd(fd, path)
    }

    /// The whole content of the regular file at `path` (a link to one is followed). A FIFO, socket
    /// or device is refused (`RuntimeFailure`, exit 1) instead of read: a FIFO would wait for a
    /// writer forever, where Ctrl-C cannot reach. The check is made on the file opened, so nothing
    /// swapped in after a caller's look slips through.
    public static func readRegularFile(_ path: String) throws -> [UInt8] {
        let fd = try openRegularFile(path)
        defer { Posix.close(fd) }
        return try readToEnd(fd, path)
    }

    /// `path` opened for reading when it is a regular file (checked on the file opened); a FIFO,
    /// socket or device is refused (`RuntimeFailure`, exit 1), never waited on.
    private static func openRegularFile(_ path: String) throws -> Int32 {
        // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
        let fd = try Posix.open(path, O_RDONLY | O_NONBLOCK)
        var st = stat()
        do {
            try Posix.call("fstat", path) { fstat(fd, &st) }
        } catch {
            Posix.close(fd)
            throw error
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            Posix.close(fd)
            throw RuntimeFailure("\(path): not a regular file (a FIFO, socket or device is not copied)")
        }
        return fd
    }

    private static func readToEnd(_ fd: Int32, _ path: String) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try buffer.withUnsafeMutableBytes { raw in
                try Posix.read(fd, raw.baseAddress!, count: raw.count, path)
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    /// Reads at most `limit` bytes from the start of a file (a file that is not trusted to be small).
    public static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try Posix.open(path, O_RDONLY)
        defer { Posix.close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: min(max(limit, 1), 1 << 16))
        while result.count < limit {
            let want = min(buffer.count, limit - result.count)
            let n = try buffer.withUnsafeMutableBytes { raw in
                try Posix.read(fd, raw.baseAddress!, count: want, path)
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Reads from byte `offset` to the end (for following a growing log); returns the new offset.
    public static func readFrom(_ path: String, offset: Int) -> (bytes: [UInt8], offset: Int) {
        guard let fd = try? Posix.open(path, O_RDONLY) else { return ([], offset) }
        defer { Posix.close(fd) }
        guard (try? Posix.lseek(fd, to: offset, path)) != nil else { return ([], offset) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { (try? Posix.read(fd, $0.baseAddress!, count: $0.count, path)) ?? -1 }
            if n <= 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return (result, offset + result.count)
    }

    public static func exists(_ path: String) -> Bool { Posix.exists(path) }

    public static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Makes the folder `path` (and the folders above it) for this caller alone: false when the
    /// name is taken (a folder made by someone else, two commands picking the same new name, say,
    /// or anything else of that name: a file, a link).
    public static func claimDirectory(_ path: String) throws -> Bool {
        try createDirectory((path as NSString).deletingLastPathComponent)
        if mkdir(path, 0o777) == 0 { return true }
        let code = errno
        if code == EEXIST { return false }
        throw SystemError("mkdir", errno: code, detail: path)
    }

    public static func createDirectory(_ path: String) throws {
        if isDirectory(path) { return }
        // Each missing folder from the top, so the error is the system's own for the one that
        // failed (a file in the way, here or above, no permission, no space), not a guess.
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix = prefix.isEmpty && !path.hasPrefix("/") ? String(part) : prefix + "/" + part
            if isDirectory(prefix) { continue }
            if mkdir(prefix, 0o777) != 0 {  // less the umask, as FileManager made them
                let code = errno
                if code == EEXIST && isDirectory(prefix) { continue }  // made by another process meanwhile
                let inTheWay = code == ENOTDIR || (code == EEXIST && !isDirectory(prefix))
                var st = stat()
                let link = lstat(prefix, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
                let what = link ? " (a link that leads to no folder is in the way)" : " (a file is in the way)"
                throw SystemError("mkdir", errno: code == EEXIST ? ENOTDIR : code,
                                  detail: prefix + (inTheWay ? what : "") + (prefix == path ? "" : ", making " + path))
            }
        }
    }

    /// Names in a folder, sorted; empty when it does not exist.
    public static func list(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Removes `path` if it is a folder holding nothing but empty folders (links are not
    /// followed, files are never removed). Returns whether it is gone.
    @discardableResult
    public static func removeEmptyFolders(_ path: String) -> Bool {
        guard Posix.fileKind(path) == .directory else { return false }
        var empty = true
        for name in list(path) where !removeEmptyFolders(path + "/" + name) { empty = false }
        guard empty else { return false }
        return (try? FileManager.default.removeItem(atPath: path)) != nil
    }

    public static func size(_ path: String) -> Int? {
        Posix.fileSize(path)
    }

    /// An absolute, normalized path for `path` relative to the current folder.
    public static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return (full as NSString).standardizingPath
    }

    /// This process's executable, absolute (`/proc/self/exe`; argv[0] when /proc is not there).
    public static func executablePath() -> String {
        Posix.readLink("/proc/self/exe") ?? absolute(CommandLine.arguments[0])
    }

    /// The folder holding this process's executable, where the role binaries live.
    public static func executableDirectory() -> String {
        (executablePath() as NSString).deletingLastPathComponent
    }
}
