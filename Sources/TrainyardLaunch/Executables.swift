import Foundation
import TrainyardCore
import TrainyardPlatform

/// Where Trainyard's executables are: the one place that locates them.
///
/// `trainyard` re-runs itself (`_supervise`, `_shim`) and starts the role executables that sit
/// beside it (or in `TRAINYARD_BIN_DIR`, for tests and installs that keep them elsewhere).
public enum Executables {
    /// The running executable's absolute path (`/proc/self/exe`).
    public static var current: String { Files.executablePath() }

    /// The folder holding the role executables.
    public static var binDirectory: String {
        Posix.environment("TRAINYARD_BIN_DIR") ?? Files.executableDirectory()
    }

    /// The executable that runs tasks of `type`; nil for a type Trainyard has no role for (evaluator).
    public static func role(_ type: TaskType) -> String? {
        switch type {
        case .chief, .master: return binDirectory + "/trainyard-chief"
        case .worker: return binDirectory + "/trainyard-worker"
        case .ps: return binDirectory + "/trainyard-ps"
        case .evaluator: return nil
        }
    }
}
