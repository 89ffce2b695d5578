/// What `trainyard train` was asked to run: the topology, where, and the training settings.
public struct LaunchSettings: Sendable, Equatable {
    public var topology = Topology(workers: 2, parameterServers: 2)
    public var training = TrainSettings()
    /// The job folder; nil = a new folder under `./trainyard-jobs/`.
    public var jobDirectory: String?
    /// The first port of a consecutive block; nil = ports the system picks.
    public var startPort: Int?
    public var restartPolicy = RestartPolicy.onFailure
    /// Per-role policies that replace `restartPolicy` (keyed by chief, worker, ps).
    public var rolePolicies: [TaskType: RestartPolicy] = [:]
    public var backoffLimit = 3
    /// A scale tier from the catalog (`STANDARD_1`, `standard-1`, `CUSTOM`, …) instead of counts.
    public var scaleTier: String?
    public var custom = CustomClusterFlags()
    /// Limit each task's links to its machine type's bandwidth × this factor; nil = the default
    /// factor, local cores ÷ the cluster's cloud vCPUs (Docs/cost-model.md).
    public var bandwidthScale: Double?
    public var emulateBandwidth = true
    /// Let tasks on this host talk over Unix-domain sockets (the same-host fast path) rather than
    /// TCP loopback; TF_CONFIG keeps the TCP addresses either way.
    public var localSockets = true
    /// On those same-host connections, move large arrays (pushes, pulled values) through shared
    /// memory, with only the frame's other bytes on the socket.
    public var sharedMemory = true
    /// Where the tier catalog is; nil = found next to the executable or in ./ScaleTiers.
    public var tiersDirectory: String?

    /// The restart policy of `task`.
    public func policy(for task: TaskID) -> RestartPolicy {
        rolePolicies[task.type.isChief ? .chief : task.type] ?? restartPolicy
    }

    public init() {}

    /// `trainyard train`'s own options, declared once (the training options are `TrainSettings.options`).
    public static let options = OptionTable<LaunchSettings>([
        .int("workers", \.topology.workers, in: 0...ResourceCheck.maxWorkers, placeholder: "N", help: "worker tasks besides the chief"),
        .int("ps", \.topology.parameterServers, in: 1...ResourceCheck.maxParameterServers, placeholder: "M", help: "parameter servers"),
        .string("job-dir", \.jobDirectory, placeholder: "DIR", help: "where logs, metrics, checkpoints and the model go",
                default: "a new folder under ./trainyard-jobs/"),
        .int("start-port", \.startPort, in: 1...65535, placeholder: "P", help: "use ports P, P+1, …", default: "free ports picked by the system"),
        RestartPolicy.option(\.restartPolicy, help: "Never, OnFailure, Always or ExitCode, as Kubeflow TFJob"),
        RestartPolicy.backoffLimitOption(\.backoffLimit),
        CustomClusterFlags.scaleTierOption(\.scaleTier),
    ] + CustomClusterFlags.options.options.map { $0.scoped(\.custom) } + [
        .double("bandwidth-scale", \.bandwidthScale, in: 1e-9...1000, placeholder: "F",
                help: "with a tier: each task's links get its machine type's bandwidth × F", default: "local cores ÷ the cluster's vCPUs"),
        .flag("no-bandwidth-emulation", \.emulateBandwidth, inverted: true, help: "with a tier: do not limit the tasks' bandwidth"),
        .flag("no-local-sockets", \.localSockets, inverted: true, help: "tasks talk over TCP loopback, not the same-host Unix-domain sockets"),
        .flag("no-shared-memory", \.sharedMemory, inverted: true, help: "same-host connections send every array through the socket, not through shared memory"),
        .string("tiers-dir", \.tiersDirectory, placeholder: "DIR", help: "the scale-tier catalog", default: "$TRAINYARD_TIERS, else ScaleTiers/ of this checkout"),
    ], defaults: LaunchSettings())

    /// `trainyard train`'s own options for help texts (the training options are `TrainSettings.help`).
    public static var help: [(String, String)] { options.helpLines }

    /// Parses `trainyard train`'s options. Pure: no files, no processes.
    public static func parse(_ argv: [String]) throws(UsageError) -> LaunchSettings {
        var args = Arguments(argv)
        var s = LaunchSettings()
        let given = try options.parse(&args, into: &s)
        if !s.custom.isEmpty {
            if s.scaleTier == nil { s.scaleTier = "CUSTOM" }
            guard s.scaleTier?.uppercased() == "CUSTOM" else {
                throw UsageError("--master-machine-type, --worker-count and the other CUSTOM flags need --scale-tier CUSTOM, not \(s.scaleTier!)")
            }
        }
        if s.scaleTier != nil && (given.contains("workers") || given.contains("ps")) {
            throw UsageError("--workers and --ps cannot be combined with --scale-tier: the tier gives the cluster (use --scale-tier CUSTOM with --worker-count and --parameter-server-count)")
        }
        try TrainSettings.options.parse(&args, into: &s.training)
        try args.finish()
        try s.training.validate()
        if let start = s.startPort, start + s.topology.taskCount - 1 > 65535 {
            throw UsageError("--start-port \(start) leaves no room for \(s.topology.taskCount) ports below 65536")
        }
        return s
    }
}
