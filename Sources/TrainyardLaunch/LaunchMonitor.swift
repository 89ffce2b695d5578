import TrainyardCore
import TrainyardPlatform

/// Something that watches a job as it runs and may act on it: the scenario runner's fault
/// injector, the job supervisor's running marker. The launcher calls `handle` on its own thread for
/// every event and performs the actions returned, in order; a monitor never calls into the
/// launcher.
public protocol LaunchMonitor: AnyObject {
    func handle(_ event: LaunchEvent, _ view: LaunchView) -> [LaunchAction]
}

/// What happened in the launcher. Times are `MonotonicClock` seconds.
public enum LaunchEvent: Sendable, Equatable {
    /// Every pass of the launcher's loop while the job runs (about every 50 ms).
    case tick(now: Double)
    /// A process of `task` was started; `restart` when it is not the first.
    case taskStarted(TaskID, restart: Bool, now: Double)
    /// The process of `task` ended and was reaped.
    case taskExited(TaskID, Termination, now: Double)
}

/// What a monitor may see of the job as an event is handled.
public struct LaunchView: Sendable {
    public var jobDirectory: String
    public var cluster: ClusterSpec
    /// The cluster's shared secret (for a probe that asks the chief for its step).
    public var token: String
    /// When the launcher started (`MonotonicClock`).
    public var started: Double
    /// The tasks with a process running now.
    public var running: Set<TaskID>
}

/// What a monitor asks the launcher to do.
public enum LaunchAction: Sendable, Equatable {
    /// Send `signal` to the task's process group, if it is running.
    case signal(TaskID, Int32)
    /// Write the faults the task should follow to its fault file.
    case setFaults(TaskID, TaskFaults)
    /// End the job as CANCELLED (at the next pass of the loop).
    case cancel(reason: String)
}
