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
    /// Where the tier catalog is; nil = found next to the executable or in ./ScaleTiers.
    public var tiersDirectory: String?

    /// The restart policy of `task`.
    public func policy(for task: TaskID) -> RestartPolicy {
        rolePolicies[task.type.isChief ? .chief : task.type] ?? restartPolicy
    }

    public init() {}

    public static let help: [(String, String)] = [
        ("--workers N", "worker tasks besides the chief (default 2)"),
        ("--ps M", "parameter servers (default 2)"),
        ("--job-dir DIR", "where logs, metrics, checkpoints and the model go (default: a new folder under ./trainyard-jobs/)"),
        ("--start-port P", "use ports P, P+1, … (default: free ports picked by the system)"),
        ("--restart-policy POLICY", "Never, OnFailure, Always or ExitCode, as Kubeflow TFJob (default OnFailure)"),
        ("--backoff-limit N", "restarts allowed per task before the job fails (default 3)"),
    ] + CustomClusterFlags.help + [
        ("--bandwidth-scale F", "with a tier: each task's links get its machine type's bandwidth × F (default: local cores ÷ the cluster's vCPUs)"),
        ("--no-bandwidth-emulation", "with a tier: do not limit the tasks' bandwidth"),
        ("--tiers-dir DIR", "the scale-tier catalog (default: ScaleTiers/ of this checkout)"),
    ]

    /// Parses `trainyard train`'s options. Pure: no files, no processes.
    public static func parse(_ argv: [String]) throws(UsageError) -> LaunchSettings {
        var args = Arguments(argv)
        var s = LaunchSettings()
        let workers = try args.int("--workers", in: 0...ResourceCheck.maxWorkers)
        let ps = try args.int("--ps", in: 1...ResourceCheck.maxParameterServers)
        if let w = workers { s.topology.workers = w }
        if let p = ps { s.topology.parameterServers = p }
        s.scaleTier = try args.value("--scale-tier")
        s.custom = try CustomClusterFlags.parse(&args)
        s.bandwidthScale = try args.double("--bandwidth-scale", in: 1e-9...1000)
        s.emulateBandwidth = !(try args.flag("--no-bandwidth-emulation"))
        s.tiersDirectory = try args.value("--tiers-dir")
        if !s.custom.isEmpty {
            if s.scaleTier == nil { s.scaleTier = "CUSTOM" }
            guard s.scaleTier?.uppercased() == "CUSTOM" else {
                throw UsageError("--master-machine-type, --worker-count and the other CUSTOM flags need --scale-tier CUSTOM, not \(s.scaleTier!)")
            }
        }
        if s.scaleTier != nil && (workers != nil || ps != nil) {
            throw UsageError("--workers and --ps cannot be combined with --scale-tier: the tier gives the cluster (use --scale-tier CUSTOM with --worker-count and --parameter-server-count)")
        }
        s.jobDirectory = try args.value("--job-dir")
        s.startPort = try args.int("--start-port", in: 1...65535)
        if let p = try args.value("--restart-policy") { s.restartPolicy = try RestartPolicy(parsing: p) }
        if let b = try args.int("--backoff-limit", in: 0...1000) { s.backoffLimit = b }
        s.training = try TrainSettings.parse(&args)
        try args.finish()
        try s.training.validate()
        if let start = s.startPort, start + s.topology.taskCount - 1 > 65535 {
            throw UsageError("--start-port \(start) leaves no room for \(s.topology.taskCount) ports below 65536")
        }
        return s
    }
}
