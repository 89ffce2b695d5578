// The one choke point for libc calls: each wrapper retries EINTR and throws a typed error.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
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

    /// Writes a whole string to a file descriptor (stdout = 1, stderr = 2), ignoring errors.
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
