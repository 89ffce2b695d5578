#if canImport(Glibc)
import Glibc
#endif
import CTrainyardSupport
import Synchronization
import TrainyardCore

/// The last SIGINT or SIGTERM received (0 = none), set by the handler `Signals.install` puts in.
private let pendingSignal = Atomic<Int32>(0)

/// Signal handling for Trainyard's processes: SIGINT and SIGTERM are recorded for the main loop to
/// act on, SIGPIPE is ignored (a closed socket is an error return, not a death).
public enum Signals {
    public static func install() {
        // Precise sleeps: bandwidth emulation and backoff sleep often for a fraction of a
        // millisecond, and the default 50 µs of timer slack would distort them. Inherited by children.
        Posix.setTimerSlack(nanoseconds: 1_000)
        Posix.ignoreSignal(SIGPIPE)
        try? Posix.handleSignal(SIGINT) { s in pendingSignal.store(s, ordering: .relaxed) }
        try? Posix.handleSignal(SIGTERM) { s in pendingSignal.store(s, ordering: .relaxed) }
    }

    /// The signal received since the last call, if any (and forgets it).
    public static func take() -> Int32? {
        let s = pendingSignal.exchange(0, ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// The signal received, if any, without forgetting it.
    public static var pending: Int32? {
        let s = pendingSignal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Throws `Interrupted` when SIGINT or SIGTERM has arrived (the signal stays pending for the
    /// caller's own loop). Long file work — packaging, unpacking — calls it between steps so that
    /// it stops within a fraction of a second.
    public static func checkInterrupted(_ what: @autoclosure () -> String) throws(Interrupted) {
        if let s = pending { throw Interrupted(signal: s, during: what()) }
    }

    /// Every byte `fd` (a pipe, standard input) gives until its end; Ctrl-C or SIGTERM while it
    /// waits throws `Interrupted` instead of waiting on. Foundation's `FileHandle.availableData`
    /// and `readDataToEndOfFile()` stop the process when a signal interrupts their read.
    public static func readAllUnlessInterrupted(_ fd: Int32, _ what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        let size = 65_536
        let piece = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { piece.deallocate() }
        while true {
            try checkInterrupted("reading \(what)")
            // Wait in short polls, so a signal that lands just after the check is seen at the next.
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = Glibc.poll(&waiting, 1, 200)
            if ready == 0 { continue }
            if ready < 0 {
                let e = Posix.currentErrno
                if e == EINTR { continue }  // the check above says whether it was Ctrl-C
                throw SystemError("poll", errno: e, detail: what)
            }
            let n = Glibc.read(fd, piece, size)
            if n == 0 { return bytes }
            if n > 0 { bytes += UnsafeRawBufferPointer(start: piece, count: n); continue }
            let e = Posix.currentErrno
            if e != EINTR { throw SystemError("read", errno: e, detail: what) }
        }
    }

    /// Throws `Interrupted` when `outcome` says Ctrl-C or SIGTERM stopped the job (the launcher
    /// took the signal): for work that runs jobs one after another and must stop with it.
    public static func checkInterrupted(_ outcome: JobOutcome, _ what: @autoclosure () -> String) throws(Interrupted) {
        if let s = outcome.interruptingSignal { throw Interrupted(signal: s, during: what()) }
    }

    /// Work stopped because SIGINT or SIGTERM arrived.
    public struct Interrupted: TrainyardError, Equatable {
        public var signal: Int32
        public var during: String
        public var message: String { "\(during) stopped by \(signalName(signal))" }
        /// 130 for SIGINT, 128 + the signal otherwise (143 for SIGTERM), as the launcher exits.
        public var exitCode: ExitCode { signal == SIGINT ? .interrupted : ExitCode(128 + signal) }
        public var description: String { message }
    }

    public static let interrupt = SIGINT
    public static let terminate = SIGTERM
    public static let kill = SIGKILL
    public static let stop = SIGSTOP
    public static let resume = SIGCONT
}

/// Ends this process soon after its parent dies (the launcher was killed): polls the parent pid.
///
/// Every role started by the launcher runs one (`TRAINYARD_PARENT_PID`), so that even a SIGKILL
/// of the launcher leaves no task behind for more than a fraction of a second.
public enum ParentWatchdog {
    public static func start(expectedParent: Int32, exitCode: Int32 = 1, interval: Double = 0.2) {
        startThread(name: "parent-watchdog") {
            while true {
                if Posix.getppid() != expectedParent {
                    Posix.write("parent process \(expectedParent) is gone: exiting\n", to: 2)
                    Posix.exitImmediately(exitCode)
                }
                MonotonicClock.sleep(seconds: interval)
            }
        }
    }
}
