/// What `summary.json` says about a finished job, computed from its metrics records.
public struct JobSummary: Sendable, Equatable {
    public struct TaskResult: Sendable, Equatable {
        public var task: TaskID
        public var exitCode: Int32?
        public var exit: String?
        public var restarts: Int
        /// The largest resident set of the task's processes, bytes.
        public var peakRSSBytes: Int?
        public init(task: TaskID, exitCode: Int32?, exit: String?, restarts: Int, peakRSSBytes: Int? = nil) {
            self.task = task
            self.exitCode = exitCode
            self.exit = exit
            self.restarts = restarts
            self.peakRSSBytes = peakRSSBytes
        }
    }

    public var outcome: JobOutcome
    public var topology: Topology
    public var steps: Int
    /// The global step this run started from (its first `restore` record), when it restored.
    public var startStep: Int?
    /// Global steps this run advanced: `steps` − `startStep` (all of `steps` without a restore).
    public var stepsTrained: Int
    public var firstLoss: Double?
    public var finalLoss: Double?
    public var evalLoss: Double?
    public var evalAccuracy: Double?
    public var wallSeconds: Double
    public var examplesPerSecond: Double
    public var tasks: [TaskResult]

    /// Builds the summary from `metrics.jsonl` records: `first_loss` and `final_loss` are the mean
    /// over training tasks of each one's first and last logged training loss; `steps` the highest
    /// global step recorded; `start_step` the step of this run's first restore; `eval_*` the
    /// chief's last evaluation; `examples_per_sec` the examples of the steps this run took
    /// (`stepsTrained`, each `batchesPerStep` batches of `batchSize`: one asynchronously, the
    /// replicas aggregated in synchronous training) over the job's wall time. `records` must be
    /// this run's only (`MetricsLog.records(from:)`).
    public init(outcome: JobOutcome, topology: Topology, records: [JSONValue], batchSize: Int, batchesPerStep: Int = 1, wallSeconds: Double, tasks: [TaskResult]) {
        self.outcome = outcome
        self.topology = topology
        self.wallSeconds = wallSeconds
        self.tasks = tasks
        var first: [String: (Double, Double)] = [:]  // task → (time, loss)
        var last: [String: (Double, Double)] = [:]
        var maxStep = 0
        var lastEval: (step: Int, time: Double, loss: Double?, accuracy: Double?)?
        var firstRestore: (time: Double, step: Int)?
        for r in records {
            guard let kind = r["kind"]?.stringValue, let task = r["task"]?.stringValue else { continue }
            let step = r["step"]?.intValue ?? 0
            let time = r["time"]?.doubleValue ?? 0
            if kind == "train", let loss = r["loss"]?.doubleValue {
                maxStep = max(maxStep, step)
                if first[task] == nil || time < first[task]!.0 { first[task] = (time, loss) }
                if last[task] == nil || time >= last[task]!.0 { last[task] = (time, loss) }
            } else if kind == "restore" {
                if firstRestore == nil || time < firstRestore!.time { firstRestore = (time, step) }
            } else if kind == "eval" {
                maxStep = max(maxStep, step)
                if lastEval == nil || step > lastEval!.step || (step == lastEval!.step && time >= lastEval!.time) {
                    lastEval = (step, time, r["loss"]?.doubleValue, r["accuracy"]?.doubleValue)
                }
            }
        }
        func mean(_ d: [String: (Double, Double)]) -> Double? {
            d.isEmpty ? nil : d.values.map(\.1).reduce(0, +) / Double(d.count)
        }
        steps = max(maxStep, firstRestore?.step ?? 0)
        startStep = firstRestore?.step
        stepsTrained = max(0, steps - (firstRestore?.step ?? 0))
        firstLoss = mean(first)
        finalLoss = mean(last)
        evalLoss = lastEval?.loss
        evalAccuracy = lastEval?.accuracy
        examplesPerSecond = wallSeconds > 0 ? Double(stepsTrained * batchSize * max(1, batchesPerStep)) / wallSeconds : 0
    }

    public var json: JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { JSONValue($0) } ?? .null }
        return .object([
            ("status", .string(outcome.status.rawValue)),
            ("reason", .string(outcome.reason)),
            ("exit_code", JSONValue(Int(outcome.exitCode.rawValue))),
            ("topology", ["chief": JSONValue(topology.chiefs), "workers": JSONValue(topology.workers), "ps": JSONValue(topology.parameterServers)]),
            ("steps", JSONValue(steps)),
            ("start_step", startStep.map { JSONValue($0) } ?? .null),
            ("steps_trained", JSONValue(stepsTrained)),
            ("first_loss", num(firstLoss)),
            ("final_loss", num(finalLoss)),
            ("eval_loss", num(evalLoss)),
            ("eval_accuracy", num(evalAccuracy)),
            ("wall_seconds", JSONValue((wallSeconds * 1000).rounded() / 1000)),
            ("examples_per_sec", JSONValue(examplesPerSecond.rounded())),
            ("peak_rss_bytes", tasks.compactMap(\.peakRSSBytes).max().map { JSONValue($0) } ?? .null),
            ("tasks", .object(tasks.map { t in
                (t.task.description, .object([
                    ("exit_code", t.exitCode.map { JSONValue(Int($0)) } ?? .null),
                    ("exit", t.exit.map { JSONValue($0) } ?? .null),
                    ("restarts", JSONValue(t.restarts)),
                    ("peak_rss_bytes", t.peakRSSBytes.map { JSONValue($0) } ?? .null),
                    ("log", .string("logs/\(t.task).log")),
                ]))
            })),
        ])
    }
}
