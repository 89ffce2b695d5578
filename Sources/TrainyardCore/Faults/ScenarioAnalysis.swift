/// What a scenario run observed, and the measurements and verdicts drawn from it. Pure: the
/// runner collects the observations; this turns them into recovery times, steps lost, step rates
/// and pass/fail per expectation (definitions in Docs/scenarios.md).
public struct ScenarioObservations: Sendable {
    /// (seconds since start, global step) from polling the cluster.
    public var samples: [(time: Double, step: Int64)] = []
    public struct FiredFault: Sendable {
        public var index: Int
        public var summary: String
        public var targets: [TaskID]
        public var firedAt: Double
        public var firedAtStep: Int64
        /// When the fault's effect was lifted (a duration fault), else nil.
        public var endedAt: Double?
        public init(index: Int, summary: String, targets: [TaskID], firedAt: Double, firedAtStep: Int64, endedAt: Double? = nil) {
            self.index = index
            self.summary = summary
            self.targets = targets
            self.firedAt = firedAt
            self.firedAtStep = firedAtStep
            self.endedAt = endedAt
        }
    }
    public var faults: [FiredFault] = []
    /// Processes started again by the restart policy: (time, task).
    public var restarts: [(time: Double, task: TaskID)] = []
    /// The chief's restores after the first initialization: (time, step restored, checkpoints skipped).
    public var restores: [(time: Double, step: Int64, skipped: Int)] = []
    public var outcome: JobOutcome?
    public var summary: JobSummary?
    public var restartCounts: [TaskID: Int] = [:]
    public var processesLeft: [Int32] = []
    public var endedAt: Double = 0
    /// Each training task's own progress from its `train` records: (seconds since start, task, local step).
    public var localSteps: [(time: Double, task: TaskID, localStep: Int)] = []

    public init() {}

    public func step(at time: Double) -> Int64 {
        samples.last { $0.time <= time }?.step ?? 0
    }

    /// The local steps `task` took in [from, to]: its last record by `to` less its last record by
    /// `from` (0 before its first record; a restart, which starts counting again, counts from 0).
    public func localProgress(of task: TaskID, from: Double, to: Double) -> Int {
        let mine = localSteps.filter { $0.task == task }
        let start = mine.last { $0.time <= from }?.localStep ?? 0
        let end = mine.last { $0.time <= to }?.localStep ?? start
        return end >= start ? end - start : end
    }

    /// Steps per second over [from, to] from the samples, nil when the window holds under two samples.
    public func rate(from: Double, to: Double) -> Double? {
        let window = samples.filter { $0.time >= from && $0.time <= to }
        guard let first = window.first, let last = window.last, last.time - first.time > 0.05 else { return nil }
        return Double(last.step - first.step) / (last.time - first.time)
    }
}

public struct FaultReport: Sendable, Equatable {
    public var index: Int
    public var summary: String
    public var firedAt: Double
    public var firedAtStep: Int64
    public var endedAt: Double?
    public var recoveredAt: Double?
    /// From when the fault's effect ended (it fired, or was lifted) to the first global step after
    /// the cluster was whole again.
    public var recoverySeconds: Double?
    public var rateBefore: Double?
    public var rateDuring: Double?
    public var rateAfter: Double?
    /// The run's own step rate while no fault held: every interval between samples outside all
    /// fault windows, from the first step on. The yardstick for rate ratios, so that a machine
    /// whose load changes during the run moves the numerator and the denominator alike.
    public var rateBaseline: Double?
    public var stepsLost: Int64
    /// Of the training steps every task took while the fault held (a duration fault), the share
    /// its own targets took: counted in one window, so a busy machine moves both sides alike.
    public var targetShareDuring: Double? = nil

    /// The rate while the fault held (a duration fault) or after recovery, over the run's own rate
    /// outside every fault window (`rateBaseline`; the rate just before the fault when there is none).
    public var rateRatio: Double? {
        guard let base = rateBaseline ?? rateBefore, base > 0 else { return nil }
        guard let other = rateDuring ?? rateAfter else { return nil }
        return other / base
    }
}

public struct ExpectationResult: Sendable, Equatable {
    public var name: String
    public var expected: String
    public var actual: String
    public var passed: Bool
}

public enum ScenarioAnalysis {
    public static let rateWindow = 2.0

    /// The run's step rate outside every fault window (fired → lifted, or fired → recovered), from
    /// the first sample past step 0.
    public static func baselineRate(_ o: ScenarioObservations, windows: [(Double, Double)]) -> Double? {
        let samples = o.samples.drop { $0.step == 0 }
        var steps = 0.0, seconds = 0.0
        for (a, b) in zip(samples, samples.dropFirst()) {
            let clear = windows.allSatisfy { w in b.time <= w.0 || a.time >= w.1 }
            guard clear, b.step >= a.step else { continue }
            steps += Double(b.step - a.step)
            seconds += b.time - a.time
        }
        return seconds > 0.2 ? steps / seconds : nil
    }

    public static func faultReports(_ o: ScenarioObservations) -> [FaultReport] {
        let reports = rawFaultReports(o)
        // Fault windows: from firing to the later of being lifted and recovering (+0.2 s settling).
        let windows = reports.map { r in (r.firedAt, max(r.endedAt ?? r.firedAt, r.recoveredAt ?? o.endedAt) + 0.2) }
        let baseline = baselineRate(o, windows: windows)
        return reports.map { r in
            var r = r
            r.rateBaseline = baseline
            return r
        }
    }

    static func rawFaultReports(_ o: ScenarioObservations) -> [FaultReport] {
        o.faults.map { f in
            // The cluster is whole again once the fault is lifted, every hit task is running again,
            // and any restore the fault caused is done.
            // Each hit task's first restart after the fault is the one this fault caused: a later one
            // belongs to a later fault that hit the same task (and is measured there).
            var reference = f.endedAt ?? f.firedAt
            for task in f.targets {
                if let r = o.restarts.first(where: { $0.task == task && $0.time >= f.firedAt && $0.time < f.firedAt + 30 }) {
                    reference = max(reference, r.time)
                }
            }
            // A restore belongs to the last fault that fired before it.
            let restore = o.restores.first { r in
                r.time >= f.firedAt && r.time < f.firedAt + 30
                    && !o.faults.contains { $0.index != f.index && ($0.firedAt > f.firedAt || ($0.firedAt == f.firedAt && $0.index > f.index)) && $0.firedAt <= r.time }
            }
            if let restore { reference = max(reference, restore.time) }
            // After a restore the step goes back to the checkpoint's: progress is measured from there.
            let stepAtReference = restore.map { min($0.step, o.step(at: reference)) } ?? o.step(at: reference)
            let recovered = o.samples.first { $0.time > reference && $0.step > stepAtReference }
            // Progress lost by the failure: from the step the cluster had reached when the fault struck
            // back to the step restored. (Steps the surviving shards took after it, on a broken
            // cluster, were never progress.)
            let lost = restore.map { max(0, f.firedAtStep - $0.step) } ?? 0
            let before = o.rate(from: max(0, f.firedAt - rateWindow), to: f.firedAt)
            let during = f.endedAt.flatMap { o.rate(from: f.firedAt + 0.2, to: $0) }
            let after = recovered.flatMap { o.rate(from: $0.time, to: min(o.endedAt, $0.time + rateWindow)) }
            var share: Double?
            if let end = f.endedAt {
                let trainers = Set(o.localSteps.map(\.task))
                let progress = trainers.map { ($0, o.localProgress(of: $0, from: f.firedAt + 0.2, to: end)) }
                let total = progress.reduce(0) { $0 + $1.1 }
                let targets = progress.filter { f.targets.contains($0.0) }.reduce(0) { $0 + $1.1 }
                share = total > 0 ? Double(targets) / Double(total) : nil
            }
            return FaultReport(index: f.index, summary: f.summary, firedAt: f.firedAt, firedAtStep: f.firedAtStep, endedAt: f.endedAt,
                               recoveredAt: recovered?.time, recoverySeconds: recovered.map { $0.time - (f.endedAt ?? f.firedAt) },
                               rateBefore: before, rateDuring: during, rateAfter: after, rateBaseline: nil, stepsLost: lost,
                               targetShareDuring: share)
        }
    }

    public static func check(_ e: Scenario.Expectations, _ o: ScenarioObservations, _ reports: [FaultReport]) -> [ExpectationResult] {
        var results: [ExpectationResult] = []
        func add(_ name: String, _ expected: String, _ actual: String, _ passed: Bool) {
            results.append(ExpectationResult(name: name, expected: expected, actual: actual, passed: passed))
        }
        func f(_ d: Double?) -> String { d.map { JSONValue.format(($0 * 1000).rounded() / 1000) } ?? "none" }

        add("state", e.state.rawValue, o.outcome?.status.rawValue ?? "none", o.outcome?.status == e.state)
        if let limit = e.finalLossAtMost {
            let v = o.summary?.finalLoss
            add("final loss", "≤ \(f(limit))", f(v), v.map { $0 <= limit } ?? false)
        }
        if let limit = e.evalAccuracyAtLeast {
            let v = o.summary?.evalAccuracy
            add("eval accuracy", "≥ \(f(limit))", f(v), v.map { $0 >= limit } ?? false)
        }
        if let limit = e.stepsLostAtMost {
            let lost = reports.map(\.stepsLost).reduce(0, +)
            add("steps lost", "≤ \(limit)", String(lost), lost <= Int64(limit))
        }
        if let limit = e.recoverySecondsAtMost {
            let times = reports.map(\.recoverySeconds)
            let worst = times.compactMap { $0 }.max()
            let allRecovered = !times.contains { $0 == nil }
            add("recovery time", "≤ \(f(limit)) s", allRecovered ? "\(f(worst)) s" : "did not recover", allRecovered && (worst ?? 0) <= limit)
        }
        for (task, count) in e.restarts.sorted(by: { $0.key < $1.key }) {
            let n = o.restartCounts[task] ?? 0
            let expected = count.atLeast == count.atMost ? "\(count.atLeast)" : "\(count.atLeast)…\(count.atMost)"
            add("restarts of \(task)", expected, String(n), (count.atLeast...count.atMost).contains(n))
        }
        if let n = e.restoresAtLeast {
            add("restores", "≥ \(n)", String(o.restores.count), o.restores.count >= n)
        }
        if let text = e.reasonContains {
            let reason = o.outcome?.reason ?? ""
            add("reason", "mentions \"\(text)\"", reason, reason.contains(text))
        }
        if let limit = e.stepRateRatioAtLeast {
            let ratio = reports.compactMap(\.rateRatio).min()
            add("step rate ratio", "≥ \(f(limit))", f(ratio), ratio.map { $0 >= limit } ?? false)
        }
        if let limit = e.stepRateRatioAtMost {
            let ratio = reports.compactMap(\.rateRatio).max()
            add("step rate ratio", "≤ \(f(limit))", f(ratio), ratio.map { $0 <= limit } ?? false)
        }
        if let limit = e.targetShareAtMost {
            let share = reports.compactMap(\.targetShareDuring).max()
            add("target's share of steps while the fault held", "≤ \(f(limit))", f(share), share.map { $0 <= limit } ?? false)
        }
        if let want = e.damagedCheckpointSkipped {
            let skipped = o.restores.contains { $0.skipped > 0 }
            add("damaged checkpoint skipped", String(want), String(skipped), skipped == want)
        }
        if e.noProcessLeft {
            add("no process left", "0", String(o.processesLeft.count), o.processesLeft.isEmpty)
        }
        return results
    }
}
