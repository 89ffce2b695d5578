// The one choke point for libc calls: each wrapper retries EINTR and throws a typed error.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CTrainyardSupport
import TrainyardCore

/// A failed system call: which call, on what, and errno.
public struct SystemError: TrainyardError, Equatable {
    public var call: String
    public var errno: Int32
    public var detail: String

    public init(_ call: String, errno: Int32, detail: String = "") {
        self.call = call
        self.errno = errno
        self.detail = detail
    }

    public var exitCode: ExitCode { .systemError }
    public var description: String {
        let what = detail.isEmpty ? call : "\(call) \(detail)"
        return "\(what): \(String(cString: strerror(errno)))"
    }
}

public enum Posix {
    /// Runs `body` until it returns something other than -1/EINTR; throws on any other -1.
    @discardableResult
    public static func call<T: FixedWidthInteger>(_ name: String, _ detail: @autoclosure () -> String = "", _ body: () -> T) throws(SystemError) -> T {
        while true {
            let r = body()
            if r != -1 { return r }
            let e = errno
            if e == EINTR { continue }
            throw SystemError(name, errno: e, detail: detail())
        }
    }

    public static var currentErrno: Int32 { errno }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // never retried: on Linux the descriptor is gone even on EINTR
    }

    public static func getpid() -> Int32 { Glibc.getpid() }
    public static func getppid() -> Int32 { Glibc.getppid() }

    /// Ends the process with `code` after atexit handlers and a flush of stdio buffers.
    public static func exit(_ code: Int32) -> Never { Glibc.exit(code) }

    /// Immediate exit without running atexit handlers or flushing stdio buffers.
    public static func exitImmediately(_ code: Int32) -> Never { _exit(code) }

    /// `kill(pid, signal)`; false when the process is already gone.
    @discardableResult
    public static func kill(_ pid: Int32, _ signal: Int32) -> Bool { Glibc.kill(pid, signal) == 0 }

    /// Whether a process with this pid exists (and is not a zombie we could reap).
    public static func processExists(_ pid: Int32) -> Bool {
        Glibc.kill(pid, 0) == 0 || errno == EPERM
    }

    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    public static func environment(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        return String(cString: p)
    }

    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes a whole string to a file descriptor (stdout = 1, stderr = 2), ignoring errors
    /// (Foundation's `FileHandle.write` stops the process on EPIPE instead).
    public static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { if errno == EINTR { continue }; return }
            offset += n
        }
        bytes.removeAll()
    }
}

// MARK: Sockets
//
// Thin wrappers: each makes one call, retries EINTR where a retry is correct, and throws
// `SystemError` carrying errno, which callers such as `Socket` classify (EAGAIN: wait; ECONNRESET:
// the peer went away; …). `sockaddr` goes no further than `Socket`.

extension Posix {
    /// Large allocations from the C library's heap and freed memory kept for reuse (glibc's
    /// mallopt; nothing elsewhere): a role allocates an array per message it receives, and fresh
    /// pages for each cost a page fault per 4 KiB, which was a large part of the wire's CPU.
    @discardableResult
    public static func keepFreedMemory() -> Bool { ty_keep_freed_memory() == 0 }

    /// A new socket (close-on-exec).
    public static func socket(family: Int32, type: Int32) throws(SystemError) -> Int32 {
        try call("socket") { Glibc.socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0) }
    }

    /// Sets O_NONBLOCK on `fd`.
    public static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = try call("fcntl", "F_GETFL") { fcntl(fd, F_GETFL) }
        try call("fcntl", "O_NONBLOCK") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Sets FD_CLOEXEC on `fd`.
    public static func setCloseOnExec(_ fd: Int32) throws(SystemError) {
        try call("fcntl", "FD_CLOEXEC") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    /// An integer socket option.
    public static func setSocketOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(SystemError) {
        var v = value
        try call("setsockopt", "\(level)/\(name)") { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// SO_LINGER: with `seconds` 0, a close sends a reset.
    public static func setLinger(_ fd: Int32, seconds: Int32) throws(SystemError) {
        var l = linger(l_onoff: 1, l_linger: seconds)
        try call("setsockopt", "SO_LINGER") { setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size)) }
    }

    /// SO_ERROR: the outcome of a non-blocking connect (0 = connected).
    public static func pendingSocketError(_ fd: Int32) throws(SystemError) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        try call("getsockopt", "SO_ERROR") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) }
        return err
    }

    /// The address `fd` is bound to.
    public static func localAddress(_ fd: Int32) throws(SystemError) -> sockaddr_storage {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try call("getsockname") {
            withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        }
        return storage
    }

    /// The address of the peer `fd` is connected to.
    public static func peerAddress(_ fd: Int32) throws(SystemError) -> sockaddr_storage {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try call("getpeername") {
            withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) } }
        }
        return storage
    }

    public static func bind(_ fd: Int32, to address: sockaddr_storage, length: socklen_t, _ detail: String) throws(SystemError) {
        var address = address
        try call("bind", detail) {
            withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) } }
        }
    }

    public static func listen(_ fd: Int32, backlog: Int32, _ detail: String) throws(SystemError) {
        try call("listen", detail) { Glibc.listen(fd, backlog) }
    }

    /// Starts connecting a non-blocking socket: true when connected at once, false when the
    /// connection goes on in the background (EINPROGRESS, or EINTR, after which it also goes on:
    /// connect must not be called again). Wait for POLLOUT, then read `pendingSocketError`.
    public static func connect(_ fd: Int32, to address: sockaddr_storage, length: socklen_t, _ detail: String) throws(SystemError) -> Bool {
        var address = address
        let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) } }
        if rc == 0 { return true }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return false }
        throw SystemError("connect", errno: e, detail: detail)
    }

    /// Accepts a connection as a non-blocking, close-on-exec descriptor; EINTR retried.
    public static func accept(_ fd: Int32) throws(SystemError) -> Int32 {
        try call("accept") { ty_accept_cloexec_nonblock(fd) }
    }

    /// Waits up to `timeoutMillis` (-1: forever) for `events` on `fd`: whether any arrived; EINTR retried.
    public static func poll(_ fd: Int32, events: Int16, timeoutMillis: Int32) throws(SystemError) -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        return try call("poll") { Glibc.poll(&pfd, 1, timeoutMillis) } > 0
    }

    /// send(2) without SIGPIPE: how many bytes went; EINTR retried.
    public static func send(_ fd: Int32, _ bytes: UnsafeRawPointer, count: Int) throws(SystemError) -> Int {
        try call("send") { Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL)) }
    }

    /// send(2) without SIGPIPE, with MSG_MORE when `more` (more bytes follow at once: the kernel
    /// holds a partial packet for them); EINTR retried.
    public static func send(_ fd: Int32, _ bytes: UnsafeRawPointer, count: Int, more: Bool) throws(SystemError) -> Int {
        try call("send") { Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0)) }
    }

    /// recv(2): how many bytes came, 0 at end of stream; EINTR retried.
    public static func recv(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, count: Int) throws(SystemError) -> Int {
        try call("recv") { Glibc.recv(fd, buffer, count, 0) }
    }

    /// Shuts both directions of a connection down (waking its blocked readers); errors ignored
    /// (the connection may already be gone).
    public static func shutdown(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Resolves a numeric or named host and a port for a TCP stream, preferring IPv4.
    public static func resolveStream(host: String, port: Int) -> Result<(sockaddr_storage, socklen_t), ResolveError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        var rc: Int32
        repeat { rc = getaddrinfo(host, String(port), &hints, &result) } while rc == EAI_SYSTEM && errno == EINTR
        guard rc == 0, let first = result else { return .failure(ResolveError(String(cString: gai_strerror(rc)))) }
        defer { freeaddrinfo(result) }
        var chosen = first
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let cur = p {
            if cur.pointee.ai_family == AF_INET { chosen = cur; break }
            p = cur.pointee.ai_next
        }
        var storage = sockaddr_storage()
        let length = chosen.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: Int(length)))
        }
        return .success((storage, length))
    }

    /// Why a name did not resolve (getaddrinfo's message).
    public struct ResolveError: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The numeric host and the port of an IPv4 or IPv6 socket address.
    public static func numericHostPort(_ storage: sockaddr_storage) -> (host: String, port: Int) {
        var storage = storage
        if storage.ss_family == sa_family_t(AF_INET6) {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var addr = sin6.pointee.sin6_addr
                    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
                    return (String(cString: buffer), Int(UInt16(bigEndian: sin6.pointee.sin6_port)))
                }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var addr = sin.pointee.sin_addr
                var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
                return (String(cString: buffer), Int(UInt16(bigEndian: sin.pointee.sin_port)))
            }
        }
    }
}

// MARK: Processes

extension Posix {
    /// How `wait4` found a child: its pid, the raw wait status, and its peak resident set in bytes.
    public struct Reaped: Sendable, Equatable {
        public var pid: Int32
        public var status: Int32
        public var maxRSSBytes: Int
    }

    /// wait4(2) with WNOHANG: the child `pid` (-1: any child) if it has ended, nil while it runs;
    /// EINTR retried; throws ECHILD when there is no such child.
    public static func reap(_ pid: Int32) throws(SystemError) -> Reaped? {
        var status: Int32 = 0
        var usage = rusage()
        let r = try call("wait4", "\(pid)") { wait4(pid, &status, WNOHANG, &usage) }
        guard r > 0 else { return nil }
        return Reaped(pid: r, status: status, maxRSSBytes: Int(usage.ru_maxrss) * 1024)
    }

    /// posix_spawn(3): the new child's pid. (It reports failure as a return code, not errno, and
    /// does not fail with EINTR.)
    public static func spawn(_ path: String, actions: inout posix_spawn_file_actions_t, attributes: inout posix_spawnattr_t,
                             argv: UnsafePointer<UnsafeMutablePointer<CChar>?>, environment: UnsafePointer<UnsafeMutablePointer<CChar>?>) throws(SystemError) -> Int32 {
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
        guard rc == 0 else { throw SystemError("posix_spawn", errno: rc, detail: path) }
        return pid
    }
}

// MARK: Files and signals

extension Posix {
    /// open(2), close-on-exec added; EINTR retried.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(SystemError) -> Int32 {
        try call("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// pipe(2) with close-on-exec on both ends: (read end, write end).
    public static func pipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try call("pipe") { fds.withUnsafeMutableBufferPointer { Glibc.pipe($0.baseAddress!) } }
        try setCloseOnExec(fds[0])
        try setCloseOnExec(fds[1])
        return (fds[0], fds[1])
    }

    /// read(2): how many bytes came, 0 at the end; EINTR retried.
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, count: Int, _ detail: String = "") throws(SystemError) -> Int {
        try call("read", detail) { Glibc.read(fd, buffer, count) }
    }

    /// Writes all of `bytes` to `fd` (EINTR retried): false when the reader has gone (EPIPE:
    /// `trainyard storage cat … | head`), any other failure thrown (a full disk is not a success).
    public static func writeAll(_ bytes: [UInt8], to fd: Int32, _ detail: String = "") throws(SystemError) -> Bool {
        var failure: SystemError?
        bytes.withUnsafeBytes { b in
            var offset = 0
            while offset < b.count && failure == nil {
                do throws(SystemError) { offset += try write(fd, b.baseAddress! + offset, count: b.count - offset, detail) } catch { failure = error }
            }
        }
        if let failure { if failure.errno == EPIPE { return false }; throw failure }
        return true
    }

    /// write(2): how many bytes went; EINTR retried.
    public static func write(_ fd: Int32, _ bytes: UnsafeRawPointer, count: Int, _ detail: String = "") throws(SystemError) -> Int {
        try call("write", detail) { Glibc.write(fd, bytes, count) }
    }

    public static func lseek(_ fd: Int32, to offset: Int, _ detail: String = "") throws(SystemError) {
        try call("lseek", detail) { Glibc.lseek(fd, off_t(offset), SEEK_SET) }
    }

    public static func fsync(_ fd: Int32, _ detail: String = "") throws(SystemError) {
        try call("fsync", detail) { Glibc.fsync(fd) }
    }

    public static func rename(_ from: String, to path: String) throws(SystemError) {
        try call("rename", "\(from) → \(path)") { Glibc.rename(from, path) }
    }

    public static func unlink(_ path: String) throws(SystemError) {
        try call("unlink", path) { Glibc.unlink(path) }
    }

    /// Whether `path` exists (access F_OK).
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Whether `path` is a file this process may execute.
    public static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// CPU seconds this process has used (user + system).
    public static func processCPUSeconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
    }

    /// CPU seconds the calling thread has used (CLOCK_THREAD_CPUTIME_ID).
    public static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Clock ticks per second, the unit of /proc/PID/stat's CPU times.
    public static var clockTicksPerSecond: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }
    public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// The size of the file at `path` in bytes (stat); nil when it cannot be read.
    public static func fileSize(_ path: String) -> Int? {
        var st = stat()
        while stat(path, &st) != 0 {
            if errno != EINTR { return nil }
        }
        return Int(st.st_size)
    }

    /// Where the symbolic link at `path` points; nil when it is not one or cannot be read.
    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard let n = try? call("readlink", path, { readlink(path, &buffer, buffer.count - 1) }), n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What is at `path` itself (lstat: a symbolic link is reported as one, not followed).
    public enum FileKind: Sendable, Equatable { case file, directory, symbolicLink, other }

    /// The kind of `path` without following a final symbolic link; nil when nothing is there.
    public static func fileKind(_ path: String) -> FileKind? {
        var st = stat()
        while lstat(path, &st) != 0 {
            if errno != EINTR { return nil }
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .symbolicLink
        default: return .other
        }
    }

    /// The canonical absolute path of `path` with every symbolic link resolved (realpath(3));
    /// nil when it (or a folder on the way) does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// flock(2), waiting for the lock; EINTR retried.
    public static func lockExclusively(_ fd: Int32, _ detail: String = "") throws(SystemError) {
        try call("flock", detail) { flock(fd, LOCK_EX) }
    }

    public static func unlock(_ fd: Int32) {
        _ = flock(fd, LOCK_UN)
    }

    /// Ignores `signal` in this process (SIGPIPE: a closed socket is an error return, not a death).
    public static func ignoreSignal(_ signal: Int32) {
        _ = Glibc.signal(signal, SIG_IGN)
    }

    /// Installs `handler` (async-signal-safe code only) for `signal`, with no flags and no mask.
    public static func handleSignal(_ signal: Int32, _ handler: @convention(c) (Int32) -> Void) throws(SystemError) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        try call("sigaction", "\(signal)") { sigaction(signal, &action, nil) }
    }

    /// Timer slack for this thread and its children, in nanoseconds (prctl).
    public static func setTimerSlack(nanoseconds: Int) {
        _ = ty_set_timer_slack(UInt(nanoseconds))
    }
}

/// Monotonic time, immune to wall-clock changes.
public enum MonotonicClock {
    /// Seconds since an arbitrary fixed point.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Seconds since the Unix epoch (wall clock), for timestamps people read.
    public static func wallNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rem = timespec()
        while nanosleep(&ts, &rem) == -1 && errno == EINTR { ts = rem }
    }
}

/// A point in monotonic time by which something must finish.
public struct Deadline: Sendable, Comparable {
    public var at: Double

    public init(at: Double) { self.at = at }
    public static func after(seconds: Double) -> Deadline { Deadline(at: MonotonicClock.now() + seconds) }
    public static let never = Deadline(at: .infinity)

    public var remaining: Double { at - MonotonicClock.now() }
    public var hasPassed: Bool { remaining <= 0 }

    /// Milliseconds left, for poll(2): -1 for never, at least 0.
    var pollTimeout: Int32 {
        if at == .infinity { return -1 }
        return Int32(clamping: max(0, Int((remaining * 1000).rounded(.up))))
    }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.at < b.at }
}
