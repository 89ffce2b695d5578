import Foundation
import TrainyardCore
import TrainyardPlatform

/// Runs one failure scenario: the job through the `Launcher`, its faults on the timeline, the
/// cluster's step watched by a `ClusterProbe`, and the expectations checked at the end. Keeps its
/// evidence in the job folder: `scenario.json`, `timeline.jsonl`, `scenario-result.json`, logs.
public final class ScenarioRunner: LauncherObserver {
    public struct Result {
        public var scenario: Scenario
        public var file: String
        public var jobDirectory: String
        public var observations: ScenarioObservations
        public var reports: [FaultReport]
        public var expectations: [ExpectationResult]
        public var timeline: [(time: Double, kind: String, text: String)]
        public var wallSeconds: Double
        public var passed: Bool { expectations.allSatisfy(\.passed) }
    }

    private struct Pending {
        var at: Double
        var action: () -> Void
    }

    private let scenario: Scenario
    private let file: String
    private let jobDirectory: String
    private let showProgress: Bool
    private var probe: ClusterProbe?
    private var observations = ScenarioObservations()
    private var timeline: [(time: Double, kind: String, text: String)] = []
    private var fired = Set<Int>()
    private var pending: [Pending] = []
    private var rng: SplitMix64
    private var faultState: [TaskID: TaskFaults] = [:]
    /// Duration faults in force that shape tasks: fault index → (fault, resolved targets).
    private var shaping: [Int: (Scenario.Fault, [TaskID])] = [:]
    private var started = 0.0
    private var wallStart = 0.0
    private var metricsOffset = 0
    private var partialLine = ""

    public init(scenario: Scenario, file: String, jobDirectory: String, showProgress: Bool) {
        self.scenario = scenario
        self.file = file
        self.jobDirectory = jobDirectory
        self.showProgress = showProgress
        rng = SplitMix64(seed: scenario.seed, stream: 0xFA17)
    }

    public func run() throws -> Result {
        var settings = LaunchSettings()
        settings.topology = scenario.topology
        settings.training = scenario.training
        settings.jobDirectory = jobDirectory
        settings.restartPolicy = scenario.defaultPolicy
        settings.rolePolicies = scenario.restartPolicy
        settings.backoffLimit = scenario.backoffLimit
        var options = Launcher.Options()
        options.showProgress = showProgress
        let launcher = try Launcher(settings: settings, options: options)
        launcher.observer = self
        started = launcher.started
        wallStart = MonotonicClock.wallNow() - (MonotonicClock.now() - started)
        try Files.createDirectory(jobDirectory)
        if let text = try? Files.readText(file) { try Files.writeAtomically(text, to: jobDirectory + "/scenario.json") }
        note("start", "\(scenario.name): \(scenario.topology), \(scenario.training.maxSteps) steps, restart policy \(scenario.defaultPolicy)"
             + (scenario.training.sync ? ", synchronous" : ""))

        let summary = try launcher.run()
        probe?.stop()
        readRestores()
        observations.samples = probe?.all ?? []
        observations.outcome = summary.outcome
        observations.summary = summary
        observations.restartCounts = launcher.restartCounts
        observations.endedAt = MonotonicClock.now() - started
        observations.processesLeft = ProcessTable.processes(mentioning: jobDirectory)
        note("finish", "\(summary.outcome.status.rawValue): \(summary.outcome.reason)")

        let reports = ScenarioAnalysis.faultReports(observations)
        for r in reports {
            var text = "fault \(r.index + 1) (\(r.summary))"
            if let rec = r.recoveredAt, let secs = r.recoverySeconds {
                text += String(format: ": training moving again at %.2fs, %.2f s after the fault %@", rec, secs, r.endedAt == nil ? "fired" : "was lifted")
            } else {
                text += ": training did not move again"
            }
            if r.stepsLost > 0 { text += ", \(r.stepsLost) steps lost" }
            let rates = [("before", r.rateBefore), ("during", r.rateDuring), ("after", r.rateAfter)]
                .compactMap { name, v in v.map { "\(Int($0.rounded()))/s \(name)" } }
            if !rates.isEmpty { text += "; step rate " + rates.joined(separator: ", ") }
            timeline.append((r.recoveredAt ?? observations.endedAt, "recover", text))
        }
        timeline.sort { $0.time < $1.time }
        let expectations = ScenarioAnalysis.check(scenario.expect, observations, reports)
        let result = Result(scenario: scenario, file: file, jobDirectory: jobDirectory, observations: observations, reports: reports,
                            expectations: expectations, timeline: timeline, wallSeconds: observations.endedAt)
        let lines = timeline.map { e in
            JSONValue.object([("time", JSONValue((e.time * 1000).rounded() / 1000)), ("event", .string(e.kind)), ("text", .string(e.text))]).serialized()
        }
        try Files.writeAtomically(lines.joined(separator: "\n") + "\n", to: jobDirectory + "/timeline.jsonl")
        try Files.writeAtomically(ScenarioRunner.json(result).prettySerialized() + "\n", to: jobDirectory + "/scenario-result.json")
        return result
    }

    private func note(_ kind: String, _ text: String, at time: Double? = nil) {
        timeline.append((time ?? (MonotonicClock.now() - started), kind, text))
    }

    // MARK: LauncherObserver

    public func taskStarted(_ launcher: Launcher, task: TaskID, restart: Bool, now: Double) {
        guard restart else { return }
        observations.restarts.append((now - started, task))
        note("restart", "\(task) started again")
    }

    public func taskExited(_ launcher: Launcher, task: TaskID, termination: Termination, now: Double) {
        note("exit", "\(task): \(termination)")
    }

    public func tick(_ launcher: Launcher, now: Double) {
        let elapsed = now - started
        if probe == nil {
            let p = ClusterProbe(start: started)
            p.run(cluster: launcher.cluster, token: launcher.token)
            probe = p
        }
        if elapsed > scenario.timeout {
            note("timeout", "the scenario ran past its \(JSONValue.format(scenario.timeout)) s limit")
            launcher.cancel(reason: "scenario timeout after \(JSONValue.format(scenario.timeout)) s")
            scenarioTimedOut = true
        }
        let step = probe?.latestStep ?? 0
        for (i, fault) in scenario.faults.enumerated() where !fired.contains(i) {
            let due: Bool
            switch fault.trigger {
            case .step(let s): due = step >= Int64(s)
            case .seconds(let t): due = elapsed >= t
            }
            if due {
                fired.insert(i)
                fire(i, fault, launcher: launcher, elapsed: elapsed, step: step)
            }
        }
        let ready = pending.filter { $0.at <= elapsed }
        pending.removeAll { $0.at <= elapsed }
        for p in ready { p.action() }
        readRestores()
    }

    private var scenarioTimedOut = false

    // MARK: Faults

    private func resolve(_ target: Scenario.Target?) -> TaskID? {
        switch target {
        case .task(let t)?: return t
        case .random(let type)?:
            let candidates = scenario.topology.tasks.filter { type == nil || $0.type == type }
            return candidates.isEmpty ? nil : candidates[Int(rng.next() % UInt64(candidates.count))]
        case nil: return nil
        }
    }

    private func fire(_ index: Int, _ fault: Scenario.Fault, launcher: Launcher, elapsed: Double, step: Int64) {
        let target = resolve(fault.target)
        var targets = target.map { [$0] } ?? []
        if let between = fault.between { targets = between.0 + between.1 }
        var summary = fault.summary
        if case .random = fault.target, let target { summary += " → \(target)" }
        note("fault", "\(summary) (global step \(step))")
        var fired = ScenarioObservations.FiredFault(index: index, summary: summary, targets: targets, firedAt: elapsed, firedAtStep: step)
        if let d = fault.duration, [.pause, .slow, .delay, .bandwidth, .partition].contains(fault.action) { fired.endedAt = elapsed + d }
        observations.faults.append(fired)
        let slot = observations.faults.count - 1

        switch fault.action {
        case .kill:
            if let target, !launcher.signal(target, Signals.kill) { note("fault", "\(target) was not running") }
        case .preempt:
            guard let target, let pid = launcher.pid(of: target) else { note("fault", "the target was not running"); break }
            launcher.signal(target, Signals.terminate)
            pending.append(Pending(at: elapsed + fault.grace) { [weak self] in
                if launcher.pid(of: target) == pid {
                    launcher.signal(target, Signals.kill)
                    self?.note("fault", "\(target) outlived its \(JSONValue.format(fault.grace)) s grace period: SIGKILL")
                }
            })
        case .pause:
            guard let target else { break }
            launcher.signal(target, Signals.stop)
            pending.append(Pending(at: elapsed + (fault.duration ?? 0)) { [weak self] in
                launcher.signal(target, Signals.resume)
                self?.note("fault_end", "\(target) resumed (SIGCONT)")
            })
        case .slow, .delay, .bandwidth, .partition:
            shaping[index] = (fault, targets)
            applyShaping(launcher)
            if let d = fault.duration {
                pending.append(Pending(at: elapsed + d) { [weak self] in
                    guard let self else { return }
                    shaping[index] = nil
                    applyShaping(launcher)
                    note("fault_end", "lifted: \(summary)")
                    observations.faults[slot].endedAt = MonotonicClock.now() - started
                })
            }
        case .reset:
            guard let target else { break }
            var f = faultState[target] ?? TaskFaults()
            f.resetGeneration += 1
            faultState[target] = f
            try? launcher.setFaults(f, on: target)
        case .corruptCheckpoint:
            let store = CheckpointStore(jobDirectory: launcher.jobDirectory)
            guard let name = damageLatest(store, truncate: fault.truncate, already: nil) else {
                note("fault", "no checkpoint to corrupt yet")
                break
            }
            // A checkpoint being written as the fault fires may still land after it: damage that
            // one too (the chief cannot start another while a ps is down).
            for delay in [0.03, 0.06, 0.09] {
                pending.append(Pending(at: elapsed + delay) { [weak self] in _ = self?.damageLatest(store, truncate: fault.truncate, already: name) })
            }
        }
    }

    /// Damages the checkpoint `latest` names (in place, as a disk would) unless it is `already`.
    /// Returns its name.
    private func damageLatest(_ store: CheckpointStore, truncate: Bool, already: String?) -> String? {
        guard let name = store.pointedName(), name != already, let bytes = try? Files.read(store.directory + "/" + name) else { return nil }
        var damaged = bytes
        if truncate {
            damaged = Array(bytes.prefix(bytes.count / 2))
        } else {
            let mid = bytes.count / 2
            for i in mid..<min(bytes.count, mid + 64) { damaged[i] ^= 0xFF }
        }
        FileManager.default.createFile(atPath: store.directory + "/" + name, contents: Data(damaged))
        note("fault", "damaged \(name) (\(truncate ? "truncated to \(damaged.count) bytes" : "64 bytes flipped"))")
        return name
    }

    /// Recomputes every task's fault file from the shaping faults in force.
    private func applyShaping(_ launcher: Launcher) {
        var next: [TaskID: TaskFaults] = [:]
        for task in scenario.topology.tasks {
            var f = TaskFaults(resetGeneration: faultState[task]?.resetGeneration ?? 0)
            for (fault, targets) in shaping.values {
                switch fault.action {
                case .slow where targets.contains(task):
                    f.slowFactor = max(f.slowFactor, fault.factor)
                case .delay, .bandwidth:
                    let bw = fault.action == .bandwidth ? fault.bandwidth : nil
                    if targets.contains(task) {
                        f.links.append(.init(peers: nil, delay: fault.delay, bandwidth: bw))
                    } else {
                        f.links.append(.init(peers: targets, delay: fault.delay, bandwidth: bw))
                    }
                case .partition:
                    if let (a, b) = fault.between {
                        if a.contains(task) { f.links.append(.init(peers: b, partitioned: true)) }
                        if b.contains(task) { f.links.append(.init(peers: a, partitioned: true)) }
                    }
                default: break
                }
            }
            next[task] = f
        }
        for (task, f) in next where f != (faultState[task] ?? TaskFaults()) {
            faultState[task] = f
            try? launcher.setFaults(f, on: task)
        }
    }

    /// The chief's restores after the first initialization, from metrics.jsonl.
    private func readRestores() {
        let (bytes, next) = Files.readFrom(jobDirectory + "/metrics.jsonl", offset: metricsOffset)
        guard !bytes.isEmpty else { return }
        metricsOffset = next
        var lines = (partialLine + String(decoding: bytes, as: UTF8.self)).split(separator: "\n", omittingEmptySubsequences: false)
        partialLine = String(lines.removeLast())
        for line in lines {
            guard let r = try? JSONParser.parse(String(line)), r["kind"] == "restore", let inc = r["incarnation"]?.intValue, inc > 1 else { continue }
            let time = (r["time"]?.doubleValue ?? wallStart) - wallStart
            let step = Int64(r["step"]?.intValue ?? 0)
            let skipped = r["skipped_damaged"]?.intValue ?? 0
            observations.restores.append((time, step, skipped))
            let source = r["source"]?.stringValue ?? "?"
            note("restore", "the chief restored every ps from \(source) under incarnation \(inc)"
                 + (skipped > 0 ? " (skipped \(skipped) damaged checkpoint\(skipped == 1 ? "" : "s"))" : ""), at: time)
        }
    }

    /// Reads and validates a scenario file.
    public static func load(_ file: String) throws -> Scenario {
        let text: String
        do { text = try Files.readText(file) } catch { throw FieldError(source: file, path: "", "cannot read the scenario: \(error)") }
        return try Scenario(parsing: text, source: file)
    }

    /// A new job folder for a run of `scenario` under `parent`.
    public static func newJobDirectory(parent: String, _ s: Scenario) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        return "\(parent)/scenario-\(s.name)-\(f.string(from: Date()))-\(String(UInt16.random(in: 0...UInt16.max), radix: 16))"
    }

    // MARK: Output

    public static func json(_ r: Result) -> JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { JSONValue(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("scenario", .string(r.scenario.name)),
            ("file", .string(r.file)),
            ("job_dir", .string(r.jobDirectory)),
            ("passed", .bool(r.passed)),
            ("state", .string(r.observations.outcome?.status.rawValue ?? "none")),
            ("reason", .string(r.observations.outcome?.reason ?? "")),
            ("wall_seconds", num(r.wallSeconds)),
            ("steps", JSONValue(r.observations.summary?.steps ?? 0)),
            ("final_loss", num(r.observations.summary?.finalLoss)),
            ("eval_accuracy", num(r.observations.summary?.evalAccuracy)),
            ("restarts", .object(r.observations.restartCounts.sorted { $0.key < $1.key }.filter { $0.value > 0 }.map { ($0.key.description, JSONValue($0.value)) })),
            ("restores", JSONValue(r.observations.restores.count)),
            ("faults", .array(r.reports.map { f in
                .object([
                    ("fault", .string(f.summary)), ("fired_at_seconds", num(f.firedAt)), ("fired_at_step", JSONValue(Int(f.firedAtStep))),
                    ("ended_at_seconds", num(f.endedAt)), ("recovered_at_seconds", num(f.recoveredAt)), ("recovery_seconds", num(f.recoverySeconds)),
                    ("steps_lost", JSONValue(Int(f.stepsLost))), ("step_rate_before", num(f.rateBefore)), ("step_rate_during", num(f.rateDuring)),
                    ("step_rate_after", num(f.rateAfter)), ("step_rate_ratio", num(f.rateRatio)),
                ])
            })),
            ("expectations", .array(r.expectations.map { e in
                .object([("name", .string(e.name)), ("expected", .string(e.expected)), ("actual", .string(e.actual)), ("passed", .bool(e.passed))])
            })),
            ("timeline", .array(r.timeline.map { e in
                .object([("time", num(e.time)), ("event", .string(e.kind)), ("text", .string(e.text))])
            })),
        ])
    }

    public static func text(_ r: Result) -> String {
        var lines = ["scenario \(r.scenario.name) — \(r.scenario.description)", "timeline"]
        for e in r.timeline {
            lines.append(String(format: "  %7.2fs  ", e.time) + e.kind.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + e.text)
        }
        lines.append("expectations")
        for e in r.expectations {
            lines.append("  \(e.passed ? "PASS" : "FAIL")  \(e.name): expected \(e.expected), got \(e.actual)")
        }
        lines.append("\(r.passed ? "PASSED" : "FAILED") in \(String(format: "%.1f", r.wallSeconds)) s — evidence in \(r.jobDirectory)")
        return lines.joined(separator: "\n")
    }
}
