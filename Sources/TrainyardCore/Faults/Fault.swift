/// One fault of a scenario: when it fires and what it does. Each action carries exactly the values
/// it needs (a slowdown its factor, a partition its two sides); the `FaultScheduler` turns them into
/// signals and fault files. Read from a scenario's `faults` list (format in Docs/scenarios.md).
extension Scenario {
    /// When a fault fires.
    public enum Trigger: Sendable, Equatable, CustomStringConvertible {
        /// Once the cluster's global step reaches this.
        case step(Int)
        /// This many seconds after the launcher started.
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

    /// How a checkpoint is damaged: cut to half its length, or 64 bytes in its middle inverted.
    public enum CorruptionMode: String, Sendable, Equatable, CaseIterable {
        case truncate
        case flip
    }

    /// The two sides of a network partition: no message crosses between them. Neither is empty and
    /// no task is on both.
    public struct Partition: Sendable, Equatable {
        public var a: [TaskID]
        public var b: [TaskID]
        public init(_ a: [TaskID], _ b: [TaskID]) {
            self.a = a
            self.b = b
        }
        public var tasks: [TaskID] { a + b }
    }

    /// What a fault does. Durations are seconds; a nil duration lasts to the end of the job.
    public enum Action: Sendable, Equatable {
        /// SIGKILL the task's process.
        case kill(Target)
        /// SIGTERM, then SIGKILL if the same process still runs `grace` seconds later.
        case preempt(Target, grace: Double)
        /// SIGSTOP, then SIGCONT after `duration`.
        case pause(Target, duration: Double)
        /// Every training step of the task takes `factor` (≥ 1) times its compute time.
        case slow(Target, factor: Double, duration: Double?)
        /// `seconds` added to every message the task sends and every message sent to it.
        case delay(Target, seconds: Double, duration: Double?)
        /// The task's links, both ways, capped at `bytesPerSecond`.
        case bandwidth(Target, bytesPerSecond: Double, duration: Double?)
        /// Nothing gets through between the two sides for `duration`.
        case partition(Partition, duration: Double)
        /// The task drops every connection it has.
        case reset(Target)
        /// The checkpoint `latest` names is damaged in place.
        case corruptCheckpoint(CorruptionMode)

        /// The action's name in a scenario file.
        public enum Kind: String, Sendable, CaseIterable {
            case kill, preempt, pause, slow, delay, bandwidth, partition, reset
            case corruptCheckpoint = "corrupt_checkpoint"
        }

        public var kind: Kind {
            switch self {
            case .kill: return .kill
            case .preempt: return .preempt
            case .pause: return .pause
            case .slow: return .slow
            case .delay: return .delay
            case .bandwidth: return .bandwidth
            case .partition: return .partition
            case .reset: return .reset
            case .corruptCheckpoint: return .corruptCheckpoint
            }
        }

        /// The task the action hits, for the actions that hit one.
        public var target: Target? {
            switch self {
            case .kill(let t), .preempt(let t, _), .pause(let t, _), .slow(let t, _, _), .delay(let t, _, _), .bandwidth(let t, _, _), .reset(let t):
                return t
            case .partition, .corruptCheckpoint:
                return nil
            }
        }

        /// How long the action's effect lasts, for the actions that are lifted again (nil: to the end).
        public var duration: Double? {
            switch self {
            case .pause(_, let d), .partition(_, let d): return d
            case .slow(_, _, let d), .delay(_, _, let d), .bandwidth(_, _, let d): return d
            case .kill, .preempt, .reset, .corruptCheckpoint: return nil
            }
        }
    }

    public struct Fault: Sendable, Equatable {
        public var trigger: Trigger
        public var action: Action

        public init(trigger: Trigger, action: Action) {
            self.trigger = trigger
            self.action = action
        }

        /// One line for timelines and reports, e.g. `slow worker-2 ×20 for 1 s at step 400`.
        public var summary: String {
            var s = action.kind.rawValue
            if let target = action.target { s += " \(target)" }
            switch action {
            case .partition(let sides, _):
                s += " \(sides.a.map(\.description).joined(separator: ",")) | \(sides.b.map(\.description).joined(separator: ","))"
            case .slow(_, let factor, _): s += " ×\(JSONValue.format(factor))"
            case .delay(_, let seconds, _): s += " +\(JSONValue.format(seconds * 1000)) ms"
            case .bandwidth(_, let rate, _): s += " \(JSONValue.format(rate)) B/s"
            case .corruptCheckpoint(let mode): s += mode == .truncate ? " (truncate)" : " (flip bytes)"
            case .kill, .preempt, .pause, .reset: break
            }
            if let duration = action.duration { s += " for \(JSONValue.format(duration)) s" }
            return s + " \(trigger)"
        }

        static let knownKeys: Set<String> = ["at_step", "at_seconds", "action", "target", "between", "duration_seconds", "factor", "delay_ms",
                                             "bytes_per_second", "grace_seconds", "mode"]

        /// Reads one entry of a scenario's `faults` list; `task` reads and checks a task name of the
        /// scenario's cluster. Keys an action does not use are accepted and ignored (a `target` on a
        /// partition, a `duration_seconds` on a kill).
        init(parsing f: JSONField, tasks: [TaskID], task: (JSONField) throws(FieldError) -> TaskID) throws(FieldError) {
            try f.rejectUnknownKeys(Fault.knownKeys)
            func missing(_ key: String, _ message: String) -> FieldError { FieldError(source: f.source, path: f.childPath(key), message) }
            switch (try f.optional("at_step"), try f.optional("at_seconds")) {
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
            guard let kind = Action.Kind(rawValue: actionName) else {
                throw actionField.fail("unknown action \"\(actionName)\" (expected \(Action.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var target: Target?
            if let t = try f.optional("target") {
                let text = try t.string()
                if text == "random" {
                    target = .random(nil)
                } else if text.hasPrefix("random:") {
                    guard let type = TaskType(rawValue: String(text.dropFirst(7))), tasks.contains(where: { $0.type == type }) else {
                        throw t.fail("\"\(text)\": no tasks of that type in this cluster")
                    }
                    target = .random(type)
                } else {
                    target = .task(try task(t))
                }
            }
            var duration: Double?
            if let d = try f.optional("duration_seconds") {
                let v = try d.double()
                guard v > 0 else { throw d.fail("must be positive") }
                duration = v
            }
            func targetRequired() throws(FieldError) -> Target {
                guard let target else { throw missing("target", "is required for \(kind.rawValue)") }
                return target
            }
            switch kind {
            case .partition:
                let sides = try f.required("between").array()
                guard sides.count == 2 else { throw missing("between", "needs two lists of tasks") }
                var a: [TaskID] = [], b: [TaskID] = []
                for x in try sides[0].array() { a.append(try task(x)) }
                for x in try sides[1].array() { b.append(try task(x)) }
                guard !a.isEmpty, !b.isEmpty, Set(a).isDisjoint(with: b) else { throw missing("between", "needs two non-empty lists with no task in both") }
                guard let duration else { throw missing("duration_seconds", "is required for a partition") }
                action = .partition(Partition(a, b), duration: duration)
            case .corruptCheckpoint:
                var mode = CorruptionMode.truncate
                if let m = try f.optional("mode") {
                    guard let parsed = CorruptionMode(rawValue: try m.string()) else { throw m.fail("must be truncate or flip") }
                    mode = parsed
                }
                action = .corruptCheckpoint(mode)
            case .kill:
                action = .kill(try targetRequired())
            case .reset:
                action = .reset(try targetRequired())
            case .pause:
                let target = try targetRequired()
                guard let duration else { throw missing("duration_seconds", "is required for a pause") }
                action = .pause(target, duration: duration)
            case .slow:
                let target = try targetRequired()
                let x = try f.required("factor")
                let factor = try x.double()
                guard factor >= 1 else { throw x.fail("must be ≥ 1") }
                action = .slow(target, factor: factor, duration: duration)
            case .delay:
                let target = try targetRequired()
                let x = try f.required("delay_ms")
                let seconds = try x.double() / 1000
                guard seconds > 0 else { throw x.fail("must be positive") }
                action = .delay(target, seconds: seconds, duration: duration)
            case .bandwidth:
                let target = try targetRequired()
                let x = try f.required("bytes_per_second")
                let rate = try x.double()
                guard rate > 0 else { throw x.fail("must be positive") }
                action = .bandwidth(target, bytesPerSecond: rate, duration: duration)
            case .preempt:
                let target = try targetRequired()
                var grace = 5.0
                if let g = try f.optional("grace_seconds") {
                    grace = try g.double()
                    guard grace >= 0 else { throw g.fail("must be ≥ 0") }
                }
                action = .preempt(target, grace: grace)
            }
        }
    }
}
