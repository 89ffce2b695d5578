/// How many tasks of each kind a job runs: the shape a scale tier or `--workers/--ps` gives.
public struct Topology: Sendable, Equatable, CustomStringConvertible {
    /// Whether there is a chief (always, for Trainyard's own roles).
    public var chiefs: Int
    public var workers: Int
    public var parameterServers: Int
    /// Name the chief `master` in TF_CONFIG (AI Platform's TF 1 naming) instead of `chief`.
    public var useMasterName: Bool

    public init(workers: Int, parameterServers: Int, chiefs: Int = 1, useMasterName: Bool = false) {
        self.chiefs = chiefs
        self.workers = workers
        self.parameterServers = parameterServers
        self.useMasterName = useMasterName
    }

    public var chiefType: TaskType { useMasterName ? .master : .chief }

    /// Every task in launch-listing order: chief, workers, parameter servers.
    public var tasks: [TaskID] {
        (0..<chiefs).map { TaskID(chiefType, $0) } + (0..<workers).map(TaskID.worker) + (0..<parameterServers).map(TaskID.ps)
    }

    public var taskCount: Int { chiefs + workers + parameterServers }

    public var description: String {
        "\(chiefs) \(chiefType) + \(workers) worker\(workers == 1 ? "" : "s") + \(parameterServers) ps"
    }

    /// Checks that Trainyard's own trainer can run this cluster: workers need parameter servers to
    /// share variables through (only a chief may train alone, with its variables in process).
    /// `hint` says how the caller's user adds parameter servers (a flag or a field).
    public func checkTrainable(hint: String = "--ps N") throws(UsageError) {
        if workers > 0 && parameterServers == 0 {
            throw UsageError("Trainyard's trainer needs parameter servers when there are workers: add \(hint) (only the chief may train alone)")
        }
    }

    /// The cluster spec with consecutive ports from `startPort` on `host`, in the order chief,
    /// workers, ps.
    public func clusterSpec(host: String = "localhost", startPort: Int) -> ClusterSpec {
        var port = startPort
        func next() -> HostPort { defer { port += 1 }; return HostPort(host: host, port: port) }
        var spec = ClusterSpec()
        spec.set(chiefType, (0..<chiefs).map { _ in next() })
        spec.set(.worker, (0..<workers).map { _ in next() })
        spec.set(.ps, (0..<parameterServers).map { _ in next() })
        return spec
    }

    /// The cluster spec with the given address for each task (in `tasks` order).
    public func clusterSpec(addresses: [TaskID: HostPort]) -> ClusterSpec {
        var spec = ClusterSpec()
        for type in [chiefType, .worker, .ps] {
            let list = tasks.filter { $0.type == type }.map { addresses[$0]! }
            spec.set(type, list)
        }
        return spec
    }
}
