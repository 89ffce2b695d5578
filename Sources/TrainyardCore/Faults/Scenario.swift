/// A failure scenario: a cluster, training settings, a restart policy, faults on a timeline, and
/// the outcome expected. Read from `Scenarios/*.json` (format in Docs/scenarios.md); every error
/// names the field.
public struct Scenario: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        case kill, preempt, pause, slow, delay, bandwidth, partition, reset
        case corruptCheckpoint = "corrupt_checkpoint"
    }

    /// When a fault fires.
    public enum Trigger: Sendable, Equatable, CustomStringConvertible {
        case step(Int)
        case seconds(Double)
        public var description: String {
            switch self {
            case .step(let s): return "at step \(s)"
            case .seconds(let t): return "at \(JSONValue.format(t)) s"
            }
        }
    }

    /// Which task a fault hits: a named one, or one drawn (seeded) from a type or from all.
    public enum Target: Sendable, Equatable, CustomStringConvertible {
        case task(TaskID)
        case random(TaskType?)
        public var description: String {
            switch self {
            case .task(let t): return t.description
            case .random(let type): return type.map { "random \($0)" } ?? "random task"
            }
        }
    }

    public struct Fault: Sendable, Equatable {
        public var trigger: Trigger
        public var action: Action
        public var target: Target?
        /// Partition: the two sides.
        public var between: ([TaskID], [TaskID])?
        /// How long a pause, slowdown, delay, cap or partition lasts; nil = to the end of the job.
        public var duration: Double?
        public var factor: Double = 1
        public var delay: Double = 0
        public var bandwidth: Double = 0
        public var grace: Double = 5
        public var truncate = true

        public static func == (a: Fault, b: Fault) -> Bool {
            a.trigger == b.trigger && a.action == b.action && a.target == b.target && a.between?.0 == b.between?.0
                && a.between?.1 == b.between?.1 && a.duration == b.duration && a.factor == b.factor && a.delay == b.delay
                && a.bandwidth == b.bandwidth && a.grace == b.grace && a.truncate == b.truncate
        }

        public var summary: String {
            var s = "\(action.rawValue)"
            if let target { s += " \(target)" }
            if let between { s += " \(between.0.map(\.description).joined(separator: ",")) | \(between.1.map(\.description).joined(separator: ","))" }
            switch action {
            case .slow: s += " ×\(JSONValue.format(factor))"
            case .delay: s += " +\(JSONValue.format(delay * 1000)) ms"
            case .bandwidth: s += " \(JSONValue.format(bandwidth)) B/s"
            case .corruptCheckpoint: s += truncate ? " (truncate)" : " (flip bytes)"
            default: break
            }
            if let duration { s += " for \(JSONValue.format(duration)) s" }
            return s + " \(trigger)"
        }
    }

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
        for f in try root.optional("faults")?.array() ?? [] {
            try f.rejectUnknownKeys(["at_step", "at_seconds", "action", "target", "between", "duration_seconds", "factor", "delay_ms",
                                     "bytes_per_second", "grace_seconds", "mode"])
            let step = try f.optional("at_step")
            let seconds = try f.optional("at_seconds")
            let trigger: Trigger
            switch (step, seconds) {
            case (let s?, nil): trigger = .step(try s.int(in: 0...Int.max))
            case (nil, let t?):
                let v = try t.double()
                guard v >= 0 else { throw t.fail("must be ≥ 0") }
                trigger = .seconds(v)
            case (nil, nil): throw f.fail("needs at_step or at_seconds")
            default: throw f.fail("has both at_step and at_seconds; give one")
            }
            let actionField = try f.required("action")
            let actionName = try actionField.string()
            guard let action = Action(rawValue: actionName) else {
                throw actionField.fail("unknown action \"\(actionName)\" (expected \(Action.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var fault = Fault(trigger: trigger, action: action)
            if let t = try f.optional("target") {
                let text = try t.string()
                if text == "random" {
                    fault.target = .random(nil)
                } else if text.hasPrefix("random:") {
                    guard let type = TaskType(rawValue: String(text.dropFirst(7))), taskList.contains(where: { $0.type == type }) else {
                        throw t.fail("\"\(text)\": no tasks of that type in this cluster")
                    }
                    fault.target = .random(type)
                } else {
                    fault.target = .task(try task(t))
                }
            }
            if let d = try f.optional("duration_seconds") {
                let v = try d.double()
                guard v > 0 else { throw d.fail("must be positive") }
                fault.duration = v
            }
            switch action {
            case .partition:
                let sides = try f.required("between").array()
                guard sides.count == 2 else { throw FieldError(source: source, path: f.childPath("between"), "needs two lists of tasks") }
                var a: [TaskID] = [], b: [TaskID] = []
                for x in try sides[0].array() { a.append(try task(x)) }
                for x in try sides[1].array() { b.append(try task(x)) }
                guard !a.isEmpty, !b.isEmpty, Set(a).isDisjoint(with: b) else {
                    throw FieldError(source: source, path: f.childPath("between"), "needs two non-empty lists with no task in both")
                }
                fault.between = (a, b)
                guard fault.duration != nil else { throw FieldError(source: source, path: f.childPath("duration_seconds"), "is required for a partition") }
            case .corruptCheckpoint:
                if let m = try f.optional("mode") {
                    switch try m.string() {
                    case "truncate": fault.truncate = true
                    case "flip": fault.truncate = false
                    default: throw m.fail("must be truncate or flip")
                    }
                }
            default:
                guard fault.target != nil else { throw FieldError(source: source, path: f.childPath("target"), "is required for \(action.rawValue)") }
            }
            switch action {
            case .pause:
                guard fault.duration != nil else { throw FieldError(source: source, path: f.childPath("duration_seconds"), "is required for a pause") }
            case .slow:
                let x = try f.required("factor")
                fault.factor = try x.double()
                guard fault.factor >= 1 else { throw x.fail("must be ≥ 1") }
            case .delay:
                let x = try f.required("delay_ms")
                fault.delay = try x.double() / 1000
                guard fault.delay > 0 else { throw x.fail("must be positive") }
            case .bandwidth:
                let x = try f.required("bytes_per_second")
                fault.bandwidth = try x.double()
                guard fault.bandwidth > 0 else { throw x.fail("must be positive") }
            case .preempt:
                if let g = try f.optional("grace_seconds") {
                    fault.grace = try g.double()
                    guard fault.grace >= 0 else { throw g.fail("must be ≥ 0") }
                }
            default: break
            }
            faults.append(fault)
        }

        var e = Expectations()
        if let x = try root.optional("expect") {
            try x.rejectUnknownKeys(["state", "final_loss_at_most", "eval_accuracy_at_least", "steps_lost_at_most", "recovery_seconds_at_most",
                                     "restarts", "restores_at_least", "no_process_left", "reason_contains", "step_rate_ratio_at_least",
                                     "step_rate_ratio_at_most", "damaged_checkpoint_skipped"])
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
