import Foundation
import TrainyardCore
import TrainyardPlatform

/// `trainyard _shim -- PROGRAM ARGS…`: runs a user's program for a task and guarantees it does not
/// outlive the launcher. The program runs in the shim's process group (which the launcher leads,
/// so its signals reach both); SIGTERM and SIGINT are passed on; if the launcher disappears the shim
/// kills the whole group. Exits with the program's status (128 + signal when it was killed).
public enum Shim {
    public static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        try args.finish()
        guard let program = args.passthrough.first else { throw UsageError("_shim needs -- PROGRAM [ARGS…]") }
        let parent = Posix.environment(RoleEnvironment.parentPID).flatMap { Int32($0) }
        let executable = program.contains("/") ? program : (findInPath(program) ?? program)
        var environment = ProcessInfo.processInfo.environment
        environment[RoleEnvironment.parentPID] = nil
        let child: Int32
        do {
            child = try ProcessSpawner.spawn(SpawnRequest(executable: executable, arguments: Array(args.passthrough.dropFirst()),
                                                          environment: environment, grouping: .sameGroup, keepStandardStreams: true))
        } catch {
            Posix.write("trainyard: cannot start \(program): \(error)\n", to: 2)
            return ExitCode(127)
        }
        while true {
            if let t = ProcessSpawner.reap(child) { return ExitCode(t.termination.code) }
            if let s = Signals.take() { Posix.kill(child, s) }
            if let parent, Posix.getppid() != parent {
                Posix.write("trainyard: the launcher is gone: stopping the task\n", to: 2)
                ProcessSpawner.signalGroup(0, Signals.kill)
                return ExitCode(137)
            }
            MonotonicClock.sleep(seconds: 0.05)
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
