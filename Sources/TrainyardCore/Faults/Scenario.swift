/// A failure scenario: a cluster, training settings, a restart policy, faults on a timeline, and
/// the outcome expected. Read from `Scenarios/*.json` (format in Docs/scenarios.md); every error
/// names the field.
public struct Scenario: Sendable, Equatable {
    public struct RestartCount: Sendable, Equatable {
        public var atLeast: Int
        public var atMost: Int
    }

    public struct Expectations: Sendable, Equatable {
        public var state: JobOutcome.Status = .succeeded
        public var finalLossAtMost: Double?
        public var evalAccuracyAtLeast: Double?
        public var stepsLostAtMost: Int?
        public var recoverySecondsAtMost: Double?
        public var restarts: [TaskID: RestartCount] = [:]
        public var restoresAtLeast: Int?
        public var noProcessLeft = true
        public var reasonContains: String?
        public var stepRateRatioAtLeast: Double?
        public var stepRateRatioAtMost: Double?
        /// The largest share of the training steps taken while a duration fault held that its own
        /// targets may have taken (a straggler under asynchronous training: the others go on).
        public var targetShareAtMost: Double?
        public var damagedCheckpointSkipped: Bool?
    }

    public var name: String
    public var description: String
    public var topology: Topology
    /// `trainyard train` options for the job (from the `training` object).
    public var training: TrainSettings
    public var restartPolicy: [TaskType: RestartPolicy]
    public var defaultPolicy: RestartPolicy
    public var backoffLimit: Int
    public var seed: UInt64
    public var timeout: Double
    public var faults: [Fault]
    public var expect: Expectations

    public func policy(for task: TaskID) -> RestartPolicy {
        restartPolicy[task.type.isChief ? .chief : task.type] ?? defaultPolicy
    }

    public static let knownKeys: Set<String> = ["name", "description", "cluster", "training", "restart_policy", "backoff_limit", "seed", "timeout_seconds", "faults", "expect"]

    public init(parsing text: String, source: String) throws(FieldError) {
        let root = try JSONField.parse(text, source: source)
        try root.rejectUnknownKeys(Scenario.knownKeys)
        name = try root.required("name").string()
        description = try root.optional("description")?.string() ?? ""

        let cluster = try root.required("cluster")
        try cluster.rejectUnknownKeys(["workers", "ps"])
        topology = Topology(workers: try cluster.optional("workers")?.int(in: 0...64) ?? 2,
                            parameterServers: try cluster.optional("ps")?.int(in: 1...32) ?? 2)

        // Training settings: snake_case names of `trainyard train`'s options.
        training = try root.optional("training").map { (t) throws(FieldError) in try TrainSettings(decoding: t) } ?? TrainSettings()
        let trainers = topology.chiefs + topology.workers
        if let k = ResourceCheck.tooManyToAggregate(training, trainers: trainers) {
            throw FieldError(source: source, path: "training.replicas_to_aggregate",
                             "is \(k), but cluster.workers \(topology.workers) gives \(trainers) training task\(trainers == 1 ? "" : "s") (the chief and the workers), and \(ResourceCheck.aggregationLimit): use \(trainers) or less, or more cluster.workers")
        }

        defaultPolicy = .onFailure
        restartPolicy = [:]
        if let p = try root.optional("restart_policy") {
            if case .string(let s) = p.value {
                do { defaultPolicy = try RestartPolicy(parsing: s) } catch { throw p.fail(error.message) }
            } else {
                for (key, field) in try p.entries() {
                    let policy: RestartPolicy
                    let name = try field.string()
                    do { policy = try RestartPolicy(parsing: name) } catch { throw field.fail(error.message) }
                    if key == "default" { defaultPolicy = policy; continue }
                    guard let type = TaskType(rawValue: key), type != .evaluator else {
                        throw field.fail("is not a task type (expected default, chief, worker or ps)")
                    }
                    restartPolicy[type.isChief ? .chief : type] = policy
                }
            }
        }
        backoffLimit = try root.optional("backoff_limit")?.int(in: 0...100) ?? 3
        seed = UInt64(try root.optional("seed")?.int(in: 0...Int.max) ?? 1)
        timeout = try root.optional("timeout_seconds")?.double() ?? 120
        guard timeout > 0 else { throw FieldError(source: source, path: "timeout_seconds", "must be positive") }

        let taskList = topology.tasks
        let tasks = Set(taskList)
        func task(_ f: JSONField) throws(FieldError) -> TaskID {
            let text = try f.string()
            let id: TaskID
            do { id = try TaskID(parsing: text == "chief" ? "chief:0" : text) } catch { throw f.fail(error.message) }
            guard tasks.contains(id) else {
                throw f.fail("\(text) is not a task of this cluster (it has \(taskList.map(\.description).joined(separator: ", ")))")
            }
            return id
        }

        faults = []
        for f in try root.optional("faults")?.array() ?? [] { faults.append(try Fault(parsing: f, tasks: taskList, task: task)) }

        var e = Expectations()
        if let x = try root.optional("expect") {
            try x.rejectUnknownKeys(["state", "final_loss_at_most", "eval_accuracy_at_least", "steps_lost_at_most", "recovery_seconds_at_most",
                                     "restarts", "restores_at_least", "no_process_left", "reason_contains", "step_rate_ratio_at_least",
                                     "step_rate_ratio_at_most", "target_share_of_steps_at_most", "damaged_checkpoint_skipped"])
            if let s = try x.optional("state") {
                guard let status = JobOutcome.Status(rawValue: try s.string()) else { throw s.fail("must be SUCCEEDED, FAILED or CANCELLED") }
                e.state = status
            }
            e.finalLossAtMost = try x.optional("final_loss_at_most")?.double()
            e.evalAccuracyAtLeast = try x.optional("eval_accuracy_at_least")?.double()
            e.stepsLostAtMost = try x.optional("steps_lost_at_most")?.int(in: 0...Int.max)
            e.recoverySecondsAtMost = try x.optional("recovery_seconds_at_most")?.double()
            e.restoresAtLeast = try x.optional("restores_at_least")?.int(in: 0...Int.max)
            e.noProcessLeft = try x.optional("no_process_left")?.bool() ?? true
            e.reasonContains = try x.optional("reason_contains")?.string()
            e.stepRateRatioAtLeast = try x.optional("step_rate_ratio_at_least")?.double()
            e.stepRateRatioAtMost = try x.optional("step_rate_ratio_at_most")?.double()
            if let share = try x.optional("target_share_of_steps_at_most") {
                let v = try share.double()
                guard v >= 0 && v <= 1 else { throw share.fail("must be a share from 0 to 1") }
                e.targetShareAtMost = v
            }
            e.damagedCheckpointSkipped = try x.optional("damaged_checkpoint_skipped")?.bool()
            if let r = try x.optional("restarts") {
                for (key, field) in try r.entries() {
                    let id = try task(JSONField(.string(key), path: field.path, source: source))
                    if case .number = field.value {
                        let n = try field.int(in: 0...1000)
                        e.restarts[id] = RestartCount(atLeast: n, atMost: n)
                    } else {
                        try field.rejectUnknownKeys(["at_least", "at_most"])
                        e.restarts[id] = RestartCount(atLeast: try field.optional("at_least")?.int(in: 0...1000) ?? 0,
                                                      atMost: try field.optional("at_most")?.int(in: 0...1000) ?? 1000)
                    }
                }
            }
        }
        expect = e
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            result += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
