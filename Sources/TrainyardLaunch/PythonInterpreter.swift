import Foundation
import TrainyardCore
import TrainyardPlatform

/// Which Python a `--module-name` job runs, and what to tell the user when it is not the one asked
/// for. In order: `--python PATH` (an interpreter, or a virtual environment's folder), the
/// environment variable `TRAINYARD_PYTHON` (the same), `pythonX.Y` on PATH for `--python-version
/// X.Y`, else `python3` on PATH.
public enum PythonInterpreter {
    public static let environmentVariable = "TRAINYARD_PYTHON"

    /// The version `python` reports (`3.11.7`), or nil when it does not run.
    public static func version(of python: String) -> String? {
        let output = NSTemporaryDirectory() + "/trainyard-python-\(Posix.getpid())-\(UInt32.random(in: 0...UInt32.max)).txt"
        defer { Files.remove(output) }
        guard let pid = try? ProcessSpawner.spawn(SpawnRequest(executable: python, arguments: ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                                                               environment: ProcessInfo.processInfo.environment, outputPath: output)) else { return nil }
        guard let end = ProcessSpawner.wait(pid, timeout: 20) else {
            ProcessSpawner.signalGroup(pid, Signals.kill)
            _ = ProcessSpawner.wait(pid, timeout: 2)
            return nil
        }
        guard end.succeeded, let text = try? Files.readText(output) else { return nil }
        let v = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return v.isEmpty ? nil : v
    }

    /// The interpreter's path and, when it stands in for the version asked, a note saying so.
    ///
    /// - Throws: `UsageError` when `--python` or `TRAINYARD_PYTHON` names nothing runnable.
    public static func resolve(_ spec: JobSpec, environment: [String: String]) throws(UsageError) -> (path: String, note: String?) {
        for (given, source) in [(spec.python, "--python"), (environment[environmentVariable], environmentVariable)] {
            guard let given, !given.isEmpty else { continue }
            let path = Files.isDirectory(given) ? given + "/bin/python" : given
            guard Posix.isExecutable(path) else {
                throw UsageError("\(source) \(given): \(path) is not an executable interpreter (give a python executable or a virtualenv folder)")
            }
            var note: String?
            if let v = spec.pythonVersion { note = "Python \(v) asked for: the job runs \(path) (from \(source)) as given." }
            return (path, note)
        }
        if let v = spec.pythonVersion {
            // A name on PATH may not run (a pyenv shim of a version not selected): ask it.
            if let exact = Shim.findInPath("python\(v)"), version(of: exact) != nil { return (exact, nil) }
            let fallback = Shim.findInPath("python3") ?? "python3"
            let actual = version(of: fallback).map { "Python \($0)" } ?? "python3"
            return (fallback, "Python \(v) is not installed here (no python\(v) that runs on PATH): the job runs \(fallback) (\(actual)) instead. "
                + "Name another with --python PATH or \(environmentVariable).")
        }
        return (Shim.findInPath("python3") ?? "python3", nil)
    }
}
