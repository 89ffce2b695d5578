/// Whether a job fits this machine, checked before any process starts or any socket is bound.
///
/// Pure: the caller measures the machine (available memory, the process's file-descriptor limit)
/// and passes the topology it resolved (from `--workers/--ps`, a scale tier or CUSTOM flags). Every
/// size is computed with overflow checks; a job that would not fit, or whose sizes overflow, is a
/// `UsageError` naming the flag to change, so `trainyard train` exits 2 before starting anything
/// instead of aborting in an allocation, being OOM-killed or running out of descriptors.
///
/// The estimates are lower bounds of what the roles allocate (Docs/README.md):
/// - model: each training task (chief and workers) holds the parameters and their gradients
///   (2 copies of `parameterCount` 32-bit floats) and a batch of activations and their gradients;
///   the parameter servers together hold 1 copy plus the optimizer's slots (sgd 0, momentum 1,
///   adam 2), or the chief does without parameter servers; the chief holds 1 more to checkpoint.
/// - synthetic data: each training task holds its shard of the training split and the whole
///   held-out split, `features + 1` 32-bit values per example. A CSV or IDX file's shape is not
///   known before it is read: its model is counted with 1 input and 2 classes, its data not at all.
/// - every process (the tasks and the launcher): `processBaselineBytes`.
/// - synchronous training: no more gradients a step (`--replicas-to-aggregate`) than training
///   tasks (`tooManyToAggregate`).
/// - descriptors, per process: the launcher holds a listening socket and a log file per task; a
///   training task its listener, a connection to every ps and to the chief, and the control
///   connections of every other task; a ps its listener and a connection from every task. Each
///   also keeps `reservedDescriptors` for stdio, files and the runtime.
public enum ResourceCheck {
    /// The most workers a job may have (`--workers`, `--worker-count`, a tier's count).
    public static let maxWorkers = 1000
    /// The most parameter servers a job may have (`--ps`, `--parameter-server-count`).
    public static let maxParameterServers = 1000
    /// Memory every process needs before any model or data: the Swift runtime, stacks, buffers.
    public static let processBaselineBytes = 16 << 20
    /// Descriptors every process keeps besides its sockets: stdio, log and checkpoint files.
    public static let reservedDescriptors = 32

    /// K, when synchronous training aggregates `--replicas-to-aggregate` K gradients a step and K is
    /// more than `trainers` (the chief and the workers); nil otherwise. A synchronous step here takes
    /// one gradient from each training task at most. With more, TensorFlow's SyncReplicasOptimizer
    /// has each task compute several batches a step; Trainyard's trainers wait for the step
    /// instead, so each step would complete only through pushes retried after RPC deadlines (a
    /// step every few seconds, as measured). Every way a job starts refuses it: `train` and job
    /// specs (here), sweeps (`TrialParameterCheck`), scenarios, `export tfjob` and `cost`.
    public static func tooManyToAggregate(_ training: TrainSettings, trainers: Int) -> Int? {
        guard training.sync, let k = training.replicasToAggregate, k > trainers else { return nil }
        return k
    }

    /// Why such a job is refused, for messages.
    public static let aggregationLimit = "a synchronous step here takes one gradient from each at most (TensorFlow would have each compute several batches a step; Trainyard does not)"

    /// What a job is estimated to need (see the type's overview for what is counted).
    public struct Estimate: Sendable, Equatable {
        /// Trainable parameters of the model.
        public var parameters: Int
        /// Bytes of parameters, gradients, optimizer slots and activations, over every process.
        public var modelBytes: Int
        /// Bytes of synthetic examples over every training task (0 for CSV and IDX files).
        public var dataBytes: Int
        /// Everything, with the per-process baseline: compared with the available memory.
        public var memoryBytes: Int
        /// Descriptors of the process that needs the most: compared with the descriptor limit.
        public var descriptors: Int
    }

    /// Checks that a job with `settings` and `topology` (default: `settings.topology`; pass the one
    /// a scale tier resolved to) fits in `availableMemoryBytes` (e.g. Linux's MemAvailable) and
    /// `descriptorLimit` (the soft RLIMIT_NOFILE the launcher runs with). Pass `Int.max` for a
    /// resource that cannot be measured.
    ///
    /// - Throws: `UsageError` naming the flag to change: too many workers or ps, more gradients to
    ///   aggregate than training tasks, a model or data set whose size overflows or exceeds the
    ///   memory, or a topology that needs more descriptors.
    /// - Returns: the estimate, for logs.
    @discardableResult
    public static func check(_ settings: LaunchSettings, topology: Topology? = nil,
                             availableMemoryBytes: Int, descriptorLimit: Int) throws(UsageError) -> Estimate {
        let topology = topology ?? settings.topology
        let training = settings.training
        let flags = TopologyFlags(settings, topology)

        // Counts first: they bound every product below.
        guard (0...maxWorkers).contains(topology.workers) else {
            throw UsageError("\(flags.workers): at most \(maxWorkers) workers are supported, got \(topology.workers)")
        }
        guard (0...maxParameterServers).contains(topology.parameterServers) else {
            throw UsageError("\(flags.ps): at most \(maxParameterServers) parameter servers are supported, got \(topology.parameterServers)")
        }
        let tasks = topology.taskCount
        let trainers = topology.chiefs + topology.workers
        let ps = topology.parameterServers
        if let k = tooManyToAggregate(training, trainers: trainers) {
            let more = settings.scaleTier == nil ? "more --workers" : settings.scaleTier?.uppercased() == "CUSTOM" ? "a larger --worker-count" : "a tier with more workers"
            throw UsageError("--replicas-to-aggregate \(k): \(flags.workers) gives \(trainers) training task\(trainers == 1 ? "" : "s") (the chief and the workers), and \(aggregationLimit): use --replicas-to-aggregate \(trainers) or less, or \(more)")
        }

        // Descriptors, per process (every count is ≤ 2001 here: no overflow).
        let launcher = 2 * tasks
        let trainer = 1 + ps + 1 + tasks
        let server = 1 + trainers + 1
        let descriptors = max(launcher, trainer, server) + reservedDescriptors
        guard descriptors <= descriptorLimit else {
            throw UsageError("\(flags.topology): \(tasks) tasks need about \(descriptors) file descriptors in one process (the launcher holds a socket and a log file per task), but the limit is \(descriptorLimit): raise it (ulimit -n) or run fewer tasks")
        }

        // The model.
        let isSynthetic = training.dataset == .synthetic
        let inputs = isSynthetic ? training.features : 1
        let classes = isSynthetic ? training.classes : 2
        let widths = [inputs] + training.hidden + [classes]
        let modelFlag = "--hidden \(training.hidden.isEmpty ? "none" : training.hidden.map(String.init).joined(separator: ","))"
            + (isSynthetic ? " with --features \(training.features) --classes \(training.classes)" : "")
        var math = Checked(flag: modelFlag, what: "the model's size")
        var parameters = 0
        for l in 0..<widths.count - 1 {
            parameters = try math.sum(parameters, math.product(widths[l], widths[l + 1]), widths[l + 1])
        }
        let copy = try math.product(parameters, 4)
        let activations = try math.product(training.batchSize, widths.reduce(0, +), 2, 4)
        let perTrainer = try math.sum(math.product(copy, 2), activations)
        let shared = try math.product(copy, 1 + training.optimizerConfig.slotCount + 1)
        let modelBytes = try math.sum(math.product(perTrainer, trainers), shared)
        guard modelBytes <= availableMemoryBytes else {
            throw UsageError("\(modelFlag): the model has \(parameters) parameters (\(Self.bytes(copy)) per copy); \(trainers) training task\(trainers == 1 ? "" : "s") and the \(ps > 0 ? "parameter servers" : "chief's variables") need about \(Self.bytes(modelBytes)), but \(Self.bytes(availableMemoryBytes)) of memory is available: use narrower --hidden layers\(isSynthetic ? ", fewer --features" : "") or fewer tasks")
        }

        // Synthetic data: each training task makes its shard and the held-out set.
        var dataBytes = 0
        if isSynthetic {
            let dataFlag = "--features \(training.features) --examples \(training.examples)"
            math = Checked(flag: dataFlag, what: "the synthetic data set's size")
            let examples = training.examples
            let evalCount = min(examples - 1, max(0, Int((Double(examples) * training.evalFraction).rounded())))
            let shard = (examples - evalCount + trainers - 1) / max(1, trainers)
            let perExample = try math.product(math.sum(training.features, 1), 4)
            let perTask = try math.product(math.sum(shard, evalCount), perExample)
            dataBytes = try math.product(perTask, trainers)
            guard dataBytes <= availableMemoryBytes else {
                throw UsageError("\(dataFlag): each of \(trainers) training task\(trainers == 1 ? "" : "s") holds \(shard + evalCount) examples of \(training.features) features (\(Self.bytes(perTask))), about \(Self.bytes(dataBytes)) in all, but \(Self.bytes(availableMemoryBytes)) of memory is available: use fewer --examples or --features")
            }
        }

        math = Checked(flag: flags.topology, what: "the job's memory")
        let memoryBytes = try math.sum(modelBytes, dataBytes, math.product(tasks + 1, processBaselineBytes))
        guard memoryBytes <= availableMemoryBytes else {
            throw UsageError("\(flags.topology): \(tasks) tasks need about \(Self.bytes(memoryBytes)) (model \(Self.bytes(modelBytes)), data \(Self.bytes(dataBytes)), \(Self.bytes(processBaselineBytes)) per process), but \(Self.bytes(availableMemoryBytes)) of memory is available: run fewer tasks or a smaller model")
        }
        return Estimate(parameters: parameters, modelBytes: modelBytes, dataBytes: dataBytes, memoryBytes: memoryBytes, descriptors: descriptors)
    }

    /// `bytes` for people: `17.2 GB`, `512.0 MB`, `4 KB`.
    static func bytes(_ n: Int) -> String {
        let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
        for (scale, unit) in units where Double(n) >= scale {
            let v = Double(n) / scale
            return "\((v * 10).rounded() / 10) \(unit)"
        }
        return "\(n) bytes"
    }

    /// The flags that gave the topology, to name in errors.
    private struct TopologyFlags {
        var workers: String
        var ps: String
        var topology: String

        init(_ settings: LaunchSettings, _ topology: Topology) {
            switch settings.scaleTier?.uppercased() {
            case nil:
                workers = "--workers \(topology.workers)"
                ps = "--ps \(topology.parameterServers)"
                self.topology = "\(workers) \(ps)"
            case "CUSTOM":
                workers = "--worker-count \(topology.workers)"
                ps = "--parameter-server-count \(topology.parameterServers)"
                self.topology = "\(workers) \(ps)"
            case let tier?:
                workers = "--scale-tier \(tier)"
                ps = workers
                self.topology = workers
            }
        }
    }

    /// Sums and products that throw, naming the flag, instead of trapping on overflow.
    private struct Checked {
        var flag: String
        var what: String

        func product(_ factors: Int...) throws(UsageError) -> Int {
            var result = 1
            for f in factors {
                let (p, overflow) = result.multipliedReportingOverflow(by: f)
                guard !overflow else { throw UsageError("\(flag): \(what) overflows a 64-bit count") }
                result = p
            }
            return result
        }

        func sum(_ terms: Int...) throws(UsageError) -> Int {
            var result = 0
            for t in terms {
                let (s, overflow) = result.addingReportingOverflow(t)
                guard !overflow else { throw UsageError("\(flag): \(what) overflows a 64-bit count") }
                result = s
            }
            return result
        }
    }
}
