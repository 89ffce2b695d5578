import TrainyardCore
import TrainyardPlatform

/// What the launcher needs of the operating system's processes. `SystemProcesses` is the real one;
/// tests drive the launcher with a fake where a real process is not the point.
public protocol ProcessControl: AnyObject {
    /// Whether an executable the launcher is about to start exists.
    func executableExists(_ path: String) -> Bool
    /// Starts a process; returns its pid.
    func spawn(_ request: SpawnRequest) throws -> Int32
    /// How `pid` ended and its peak resident set in bytes, once it has; nil while it runs. Only that
    /// child is reaped.
    func reap(_ pid: Int32) -> (termination: Termination, peakRSSBytes: Int)?
    /// Sends `signal` to the process group `pid` leads.
    func signalGroup(_ pid: Int32, _ signal: Int32)
}

/// Real processes: `posix_spawn`, `wait4` on one pid, `kill` of a process group.
public final class SystemProcesses: ProcessControl {
    public init() {}
    public func executableExists(_ path: String) -> Bool { Files.exists(path) }
    public func spawn(_ request: SpawnRequest) throws -> Int32 { try ProcessSpawner.spawn(request) }
    public func reap(_ pid: Int32) -> (termination: Termination, peakRSSBytes: Int)? { ProcessSpawner.reap(pid) }
    public func signalGroup(_ pid: Int32, _ signal: Int32) { ProcessSpawner.signalGroup(pid, signal) }
}
