import Foundation
import TrainyardCore
import TrainyardPlatform

/// Which Python a `--module-name` job runs, and what to tell the user when it is not the one asked
/// for. In order: `--python PATH` (an interpreter, or a virtual environment's folder), the
/// environment variable `TRAINYARD_PYTHON` (the same), `pythonX.Y` on PATH for `--python-version
/// X.Y`, else `python3` on PATH.
public enum PythonInterpreter {
    public static let environmentVariable = "TRAINYARD_PYTHON"

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
            if let exact = Shim.findInPath("python\(v)") { return (exact, nil) }
            let fallback = Shim.findInPath("python3") ?? "python3"
            let version = Posix.readLink(fallback).map { ($0 as NSString).lastPathComponent } ?? "python3"
            return (fallback, "Python \(v) is not installed here (no python\(v) on PATH): the job runs \(fallback) (\(version)) instead. "
                + "Name another with --python PATH or \(environmentVariable).")
        }
        return (Shim.findInPath("python3") ?? "python3", nil)
    }
}
