import Foundation
import TrainyardCore
import TrainyardPlatform

/// `trainyard _shim -- PROGRAM ARGS…`: runs a user's program for a task and guarantees it does not
/// outlive the launcher. The program runs in the shim's process group (which the launcher leads,
/// so its signals reach both); SIGTERM and SIGINT are passed on; if the launcher disappears the shim
/// kills the whole group. The program's stdout and stderr come through a pipe: the shim writes each
/// line to its own stdout (the task's log) with the time it arrived in front (`LogStamp`), so
/// `jobs stream-logs` can merge the tasks' lines in time order. Exits with the program's status
/// (128 + signal when it was killed).
public enum Shim {
    public static func run(_ argv: [String]) throws -> ExitCode {
        let args = Arguments(argv)
        try args.finish()
        guard let program = args.passthrough.first else { throw UsageError("_shim needs -- PROGRAM [ARGS…]") }
        let parent = Posix.environment(RoleEnvironment.parentPID).flatMap { Int32($0) }
        let executable = program.contains("/") ? program : (findInPath(program) ?? program)
        var environment = ProcessInfo.processInfo.environment
        environment[RoleEnvironment.parentPID] = nil
        // Lines reach the log as the program writes them, not in 4 KiB blocks.
        if environment["PYTHONUNBUFFERED"] == nil { environment["PYTHONUNBUFFERED"] = "1" }
        let relay = LineRelay()
        let pipe = try Posix.pipe()
        var request = SpawnRequest(executable: executable, arguments: Array(args.passthrough.dropFirst()),
                                   environment: environment, grouping: .sameGroup, keepStandardStreams: true)
        request.outputDescriptor = pipe.write
        let child: Int32
        do {
            child = try ProcessSpawner.spawn(request)
        } catch {
            Posix.close(pipe.read)
            Posix.close(pipe.write)
            relay.emit("trainyard: cannot start \(program): \(error)\n")
            return ExitCode(127)
        }
        Posix.close(pipe.write)
        var open = true
        while true {
            if open { open = relay.pump(pipe.read, waitMillis: 50) } else { MonotonicClock.sleep(seconds: 0.05) }
            if let t = ProcessSpawner.reap(child) {
                // What the program wrote before it ended (a descendant may hold the pipe: no waiting).
                while open && relay.pump(pipe.read, waitMillis: 0, once: true) {}
                relay.flush()
                Posix.close(pipe.read)
                return ExitCode(t.termination.code)
            }
            if let s = Signals.take() { Posix.kill(child, s) }
            if let parent, Posix.getppid() != parent {
                relay.flush()
                relay.emit("trainyard: the launcher is gone: stopping the task\n")
                ProcessSpawner.signalGroup(0, Signals.kill)
                return ExitCode(137)
            }
        }
    }

    public static func findInPath(_ name: String) -> String? {
        for dir in (Posix.environment("PATH") ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if Posix.isExecutable(candidate) && !Files.isDirectory(candidate) { return candidate }
        }
        return nil
    }
}

/// Copies a program's output to stdout a line at a time, each line stamped with its arrival time.
final class LineRelay {
    private var pending: [UInt8] = []

    /// Reads what is ready on `fd` (waiting up to `waitMillis`); false once the pipe is closed and
    /// drained. With `once`, false also when nothing was ready.
    func pump(_ fd: Int32, waitMillis: Int32, once: Bool = false) -> Bool {
        guard (try? Posix.poll(fd, events: Int16(POLLIN), timeoutMillis: waitMillis)) == true else { return !once }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { (try? Posix.read(fd, $0.baseAddress!, count: $0.count)) ?? 0 }
        guard n > 0 else { return false }
        pending += buffer[0..<n]
        var lines = ""
        let now = MonotonicClock.wallNow()
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            lines += LogStamp.prefix(now) + String(decoding: pending[..<nl], as: UTF8.self) + "\n"
            pending.removeSubrange(...nl)
        }
        // A very long line without an end goes out in pieces.
        if pending.count > 65536 { lines += LogStamp.prefix(now) + String(decoding: pending, as: UTF8.self) + "\n"; pending = [] }
        if !lines.isEmpty { Posix.write(lines, to: 1) }
        return true
    }

    /// Writes an unfinished last line.
    func flush() {
        guard !pending.isEmpty else { return }
        Posix.write(LogStamp.prefix(MonotonicClock.wallNow()) + String(decoding: pending, as: UTF8.self) + "\n", to: 1)
        pending = []
    }

    /// A line of the shim's own, stamped like the program's.
    func emit(_ text: String) { Posix.write(LogStamp.prefix(MonotonicClock.wallNow()) + text, to: 1) }
}
