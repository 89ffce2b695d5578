/// Decides when a scenario's faults fire and what each one does: which task to signal, what fault
/// file each task should follow, which checkpoint to damage, what the timeline should say. A pure
/// state machine: the scenario runner feeds it the passing time, the cluster's global step and the
/// tasks' starts and exits, and performs the directives it returns.
///
/// What it decides:
/// - a fault fires on the first tick at or past its trigger (global step, or seconds since start);
///   a random target is drawn then, from a generator seeded by the scenario, in firing order;
/// - a preempted task gets SIGTERM, and SIGKILL after its grace period only if the same process
///   (the same start of the task) is still running;
/// - every shaping fault in force (slow, delay, bandwidth, partition) is composed into each task's
///   `TaskFaults`, written again whenever it changes and when a fault's duration ends;
/// - a connection reset raises the task's reset generation by one;
/// - a damaged checkpoint is damaged again 30, 60 and 90 ms later if `latest` moved on, in case one
///   was being written as the fault fired;
/// - past the scenario's timeout the job is cancelled (once);
/// - every parameter server holds the cluster at each step a fault is triggered by until that fault
///   has fired (`initialFaults`, `TaskFaults.holdAtSteps`), so a step trigger fires at exactly its
///   step however fast the cluster runs or however slowly the launcher gets to look;
/// - while a fault with a duration is in force (a shaping fault not yet lifted, a pause not yet
///   resumed), every parameter server also holds the cluster at the step before the last, so the
///   job cannot end before the fault does: what happens after it (the recovery) is always there
///   to see, however fast the machine trains.
public struct FaultScheduler: Sendable {
    /// The signals a fault sends to a task's process group.
    public enum Signal: Sendable, Equatable {
        case kill, terminate, stop, resume
    }

    public enum Event: Sendable, Equatable {
        /// Every pass of the launcher's loop: seconds since the launcher started, and the cluster's
        /// global step as last seen.
        case tick(elapsed: Double, step: Int64)
        /// A process of `task` was started (the first time or again).
        case taskStarted(TaskID)
        /// The process of `task` ended and was reaped.
        case taskExited(TaskID)
        /// What a `damageLatestCheckpoint` directive found: the checkpoint it damaged, or nil when
        /// there was none (or only `unless`).
        case checkpointDamaged(fault: Int, name: String?)
    }

    public enum Directive: Sendable, Equatable {
        /// Send `signal` to the running process of `task`.
        case signal(TaskID, Signal)
        /// Write `faults` to the fault file of `task`.
        case setFaults(TaskID, TaskFaults)
        /// Damage the checkpoint `latest` names, unless it is `unless`; answer with `checkpointDamaged`.
        case damageLatestCheckpoint(fault: Int, mode: Scenario.CorruptionMode, unless: String?)
        /// End the job as CANCELLED.
        case cancel(reason: String)
        /// A line for the scenario's timeline (`fault`, `fault_end`, `timeout`).
        case note(kind: String, text: String)
    }

    /// A fault that shapes tasks while it is in force, with its target drawn.
    private enum Shaping: Sendable {
        case slow(TaskID, factor: Double)
        case link(TaskID, delay: Double, bandwidth: Double?)
        case partition(Scenario.Partition)
    }

    private enum Timer: Sendable {
        case escalate(TaskID, start: Int, grace: Double)
        case resume(TaskID)
        case lift(fault: Int, record: Int, summary: String)
        case damageAgain(fault: Int, mode: Scenario.CorruptionMode, unless: String)
    }

    public let faults: [Scenario.Fault]
    public let tasks: [TaskID]
    /// Seconds after which the job is cancelled; nil = never.
    public let timeout: Double?
    /// The faults fired so far, in firing order, for `ScenarioAnalysis`.
    public private(set) var fired: [ScenarioObservations.FiredFault] = []
    /// The fault files as last written, per task.
    public private(set) var inForce: [TaskID: TaskFaults] = [:]
    private var rng: SplitMix64
    private var waiting: [Int]
    private var timers: [(at: Double, timer: Timer)] = []
    private var starts: [TaskID: Int] = [:]
    private var running: Set<TaskID> = []
    private var shaping: [Int: Shaping] = [:]
    private var awaitingDamage: Set<Int> = []
    private var timedOut = false

    /// Whether the ps hold the cluster at each step trigger until its fault fires (scenario runs do).
    public let holdsAtFaultSteps: Bool
    /// The step before the last (max steps − 1), held while a fault with a duration is in force;
    /// nil: never.
    public let finalHoldStep: Int64?

    public init(faults: [Scenario.Fault], tasks: [TaskID], seed: UInt64, timeout: Double? = nil, holdsAtFaultSteps: Bool = false,
                finalHoldStep: Int64? = nil) {
        self.holdsAtFaultSteps = holdsAtFaultSteps
        self.finalHoldStep = holdsAtFaultSteps ? finalHoldStep : nil
        self.faults = faults
        self.tasks = tasks
        self.timeout = timeout
        rng = SplitMix64(seed: seed, stream: 0xFA17)
        waiting = Array(faults.indices)
        for task in tasks where task.type == .ps && !heldSteps.isEmpty {
            inForce[task] = TaskFaults(holdAtSteps: heldSteps)
        }
    }

    /// The fault files to write before any task starts: each ps holds at every fault's step.
    public var initialFaults: [TaskID: TaskFaults] { inForce }

    /// The steps of the step-triggered faults that have not fired yet, ascending.
    private var heldSteps: [Int64] {
        guard holdsAtFaultSteps else { return [] }
        var steps = Set(waiting.compactMap { i -> Int64? in
            if case .step(let s) = faults[i].trigger { return Int64(s) }
            return nil
        })
        if let last = finalHoldStep, timedFaultInForce { steps.insert(last) }
        return steps.sorted()
    }

    /// Whether a fault with a duration has fired and not ended: a shaping fault whose lift is
    /// pending, or a pause whose resume is.
    private var timedFaultInForce: Bool {
        timers.contains { t in
            switch t.timer {
            case .lift, .resume: return true
            case .escalate, .damageAgain: return false
            }
        }
    }

    public init(scenario: Scenario) {
        self.init(faults: scenario.faults, tasks: scenario.topology.tasks, seed: scenario.seed, timeout: scenario.timeout, holdsAtFaultSteps: true,
                  finalHoldStep: scenario.training.maxSteps > 1 ? Int64(scenario.training.maxSteps - 1) : nil)
    }

    public mutating func handle(_ event: Event) -> [Directive] {
        switch event {
        case .taskStarted(let task):
            starts[task, default: 0] += 1
            running.insert(task)
            return []
        case .taskExited(let task):
            running.remove(task)
            return []
        case .checkpointDamaged(let fault, let name):
            guard awaitingDamage.remove(fault) != nil, case .corruptCheckpoint(let mode) = faults[fault].action,
                  let firedAt = fired.last(where: { $0.index == fault })?.firedAt else { return [] }
            guard let name else { return [.note(kind: "fault", text: "no checkpoint to corrupt yet")] }
            for delay in [0.03, 0.06, 0.09] { timers.append((firedAt + delay, .damageAgain(fault: fault, mode: mode, unless: name))) }
            return []
        case .tick(let elapsed, let step):
            return tick(elapsed: elapsed, step: step)
        }
    }

    private mutating func tick(elapsed: Double, step: Int64) -> [Directive] {
        var out: [Directive] = []
        if let timeout, elapsed > timeout, !timedOut {
            timedOut = true
            out.append(.note(kind: "timeout", text: "the scenario ran past its \(JSONValue.format(timeout)) s limit"))
            out.append(.cancel(reason: "scenario timeout after \(JSONValue.format(timeout)) s"))
        }
        let due = waiting.filter { i in
            switch faults[i].trigger {
            case .step(let s): return step >= Int64(s)
            case .seconds(let t): return elapsed >= t
            }
        }
        waiting.removeAll { due.contains($0) }
        for i in due { out += fire(i, elapsed: elapsed, step: step) }
        // Release the steps whose faults have all fired.
        if due.contains(where: { if case .step = faults[$0].trigger { return true }; return false }) { out += recompose() }
        let ready = timers.filter { $0.at <= elapsed }
        timers.removeAll { $0.at <= elapsed }
        for t in ready { out += expire(t.timer, elapsed: elapsed) }
        return out
    }

    private mutating func resolve(_ target: Scenario.Target) -> TaskID? {
        switch target {
        case .task(let t): return t
        case .random(let type):
            let candidates = tasks.filter { type == nil || $0.type == type }
            return candidates.isEmpty ? nil : candidates[Int(rng.next() % UInt64(candidates.count))]
        }
    }

    private mutating func fire(_ index: Int, elapsed: Double, step: Int64) -> [Directive] {
        let fault = faults[index]
        let target = fault.action.target.flatMap { resolve($0) }
        var targets = target.map { [$0] } ?? []
        if case .partition(let sides, _) = fault.action { targets = sides.tasks }
        var summary = fault.summary
        if case .random? = fault.action.target, let target { summary += " → \(target)" }
        var out: [Directive] = [.note(kind: "fault", text: "\(summary) (global step \(step))")]
        fired.append(.init(index: index, summary: summary, targets: targets, firedAt: elapsed, firedAtStep: step,
                           endedAt: fault.action.duration.map { elapsed + $0 }))
        let record = fired.count - 1

        switch fault.action {
        case .kill:
            guard let target else { break }
            out.append(running.contains(target) ? .signal(target, .kill) : .note(kind: "fault", text: "\(target) was not running"))
        case .preempt(_, let grace):
            guard let target, running.contains(target) else {
                out.append(.note(kind: "fault", text: "the target was not running"))
                break
            }
            out.append(.signal(target, .terminate))
            timers.append((elapsed + grace, .escalate(target, start: starts[target] ?? 0, grace: grace)))
        case .pause(_, let duration):
            guard let target else { break }
            if running.contains(target) { out.append(.signal(target, .stop)) }
            timers.append((elapsed + duration, .resume(target)))
            out += recompose()
        case .slow(_, let factor, let duration):
            guard let target else { break }
            out += shape(index, .slow(target, factor: factor), duration: duration, elapsed: elapsed, record: record, summary: summary)
        case .delay(_, let seconds, let duration):
            guard let target else { break }
            out += shape(index, .link(target, delay: seconds, bandwidth: nil), duration: duration, elapsed: elapsed, record: record, summary: summary)
        case .bandwidth(_, let rate, let duration):
            guard let target else { break }
            out += shape(index, .link(target, delay: 0, bandwidth: rate), duration: duration, elapsed: elapsed, record: record, summary: summary)
        case .partition(let sides, let duration):
            out += shape(index, .partition(sides), duration: duration, elapsed: elapsed, record: record, summary: summary)
        case .reset:
            guard let target else { break }
            var f = inForce[target] ?? TaskFaults()
            f.resetGeneration += 1
            inForce[target] = f
            out.append(.setFaults(target, f))
        case .corruptCheckpoint(let mode):
            awaitingDamage.insert(index)
            out.append(.damageLatestCheckpoint(fault: index, mode: mode, unless: nil))
        }
        return out
    }

    private mutating func shape(_ index: Int, _ s: Shaping, duration: Double?, elapsed: Double, record: Int, summary: String) -> [Directive] {
        shaping[index] = s
        if let duration { timers.append((elapsed + duration, .lift(fault: index, record: record, summary: summary))) }
        return recompose()
    }

    private mutating func expire(_ timer: Timer, elapsed: Double) -> [Directive] {
        switch timer {
        case .escalate(let task, let start, let grace):
            guard running.contains(task), starts[task] == start else { return [] }
            return [.signal(task, .kill), .note(kind: "fault", text: "\(task) outlived its \(JSONValue.format(grace)) s grace period: SIGKILL")]
        case .resume(let task):
            return (running.contains(task) ? [.signal(task, .resume)] : []) + recompose() + [.note(kind: "fault_end", text: "\(task) resumed (SIGCONT)")]
        case .lift(let fault, let record, let summary):
            shaping[fault] = nil
            fired[record].endedAt = elapsed
            return recompose() + [.note(kind: "fault_end", text: "lifted: \(summary)")]
        case .damageAgain(let fault, let mode, let unless):
            return [.damageLatestCheckpoint(fault: fault, mode: mode, unless: unless)]
        }
    }

    /// Every task's faults from the shaping faults in force (in fault order) and its reset
    /// generation; a `setFaults` for each task whose faults changed.
    private mutating func recompose() -> [Directive] {
        var out: [Directive] = []
        let inEffect = shaping.sorted { $0.key < $1.key }.map(\.value)
        for task in tasks {
            var f = TaskFaults(resetGeneration: inForce[task]?.resetGeneration ?? 0,
                               holdAtSteps: task.type == .ps ? heldSteps : [])
            for s in inEffect {
                switch s {
                case .slow(let target, let factor) where target == task:
                    f.slowFactor = max(f.slowFactor, factor)
                case .slow:
                    break
                case .link(let target, let delay, let bandwidth):
                    // The target's own sends to everyone, and everyone's sends to the target.
                    f.links.append(.init(peers: target == task ? nil : [target], delay: delay, bandwidth: bandwidth))
                case .partition(let sides):
                    if sides.a.contains(task) { f.links.append(.init(peers: sides.b, partitioned: true)) }
                    if sides.b.contains(task) { f.links.append(.init(peers: sides.a, partitioned: true)) }
                }
            }
            if f != (inForce[task] ?? TaskFaults()) {
                inForce[task] = f
                out.append(.setFaults(task, f))
            }
        }
        return out
    }
}
