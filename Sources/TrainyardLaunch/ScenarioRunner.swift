import Foundation
import TrainyardCore
import TrainyardPlatform

/// Runs one failure scenario: the job through the `Launcher`, its faults on the timeline, the
/// cluster's step watched by a `ClusterProbe`, and the expectations checked at the end. Keeps its
/// evidence in the job folder: `scenario.json`, `timeline.jsonl`, `scenario-result.json`, logs.
///
/// A thin shell over `FaultScheduler`: as the launcher's `LaunchMonitor` it feeds the scheduler the
/// time, the global step and the tasks' starts and exits, and turns its directives into launcher
/// actions (signals, fault files, a cancel), damaged checkpoints and timeline lines.
public final class ScenarioRunner: LaunchMonitor {
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
        /// Whether Ctrl-C or SIGTERM stopped its job (the launcher took the signal).
        public var interrupted: Bool { observations.outcome?.interruptingSignal != nil }
    }

    private let scenario: Scenario
    private let file: String
    private let jobDirectory: String
    private let showProgress: Bool
    private var probe: ClusterProbe?
    private var observations = ScenarioObservations()
    private var timeline: [(time: Double, kind: String, text: String)] = []
    private var scheduler: FaultScheduler
    private var started = 0.0
    private var wallStart = 0.0
    private var metricsOffset = 0
    private var partialLine = ""

    public init(scenario: Scenario, file: String, jobDirectory: String, showProgress: Bool) {
        self.scenario = scenario
        self.file = file
        self.jobDirectory = jobDirectory
        self.showProgress = showProgress
        scheduler = FaultScheduler(scenario: scenario)
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
        options.initialFaults = scheduler.initialFaults
        let launcher = try Launcher(settings: settings, options: options)
        launcher.monitor = self
        started = launcher.started
        wallStart = MonotonicClock.wallNow() - (MonotonicClock.now() - started)
        try Files.createDirectory(jobDirectory)
        if let text = try? Files.readText(file) { try Files.writeAtomically(text, to: jobDirectory + "/scenario.json") }
        note("start", "\(scenario.name): \(scenario.topology), \(scenario.training.maxSteps) steps, restart policy \(scenario.defaultPolicy)"
             + (scenario.training.sync ? ", synchronous" : ""))

        let summary = try launcher.run()
        probe?.stop()
        readRestores()
        observations.faults = scheduler.fired
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

    // MARK: LaunchMonitor

    public func handle(_ event: LaunchEvent, _ view: LaunchView) -> [LaunchAction] {
        switch event {
        case .taskStarted(let task, let restart, let now):
            let actions = perform(scheduler.handle(.taskStarted(task)), view)
            if restart {
                observations.restarts.append((now - started, task))
                note("restart", "\(task) started again")
            }
            return actions
        case .taskExited(let task, let termination, _):
            note("exit", "\(task): \(termination)")
            return perform(scheduler.handle(.taskExited(task)), view)
        case .tick(let now):
            if probe == nil {
                let p = ClusterProbe(start: started)
                p.run(cluster: view.cluster, token: view.token)
                probe = p
            }
            let actions = perform(scheduler.handle(.tick(elapsed: now - started, step: probe?.latestStep ?? 0)), view)
            readRestores()
            return actions
        }
    }

    // MARK: Faults

    /// Carries out the fault scheduler's directives that are the runner's own (timeline lines,
    /// damaged checkpoints) and returns the ones for the launcher.
    private func perform(_ directives: [FaultScheduler.Directive], _ view: LaunchView) -> [LaunchAction] {
        var actions: [LaunchAction] = []
        for directive in directives {
            switch directive {
            case .signal(let task, let signal):
                switch signal {
                case .kill: actions.append(.signal(task, Signals.kill))
                case .terminate: actions.append(.signal(task, Signals.terminate))
                case .stop: actions.append(.signal(task, Signals.stop))
                case .resume: actions.append(.signal(task, Signals.resume))
                }
            case .setFaults(let task, let faults):
                actions.append(.setFaults(task, faults))
            case .damageLatestCheckpoint(let fault, let mode, let unless):
                let name = damageLatest(CheckpointStore(jobDirectory: view.jobDirectory), mode: mode, unless: unless)
                actions += perform(scheduler.handle(.checkpointDamaged(fault: fault, name: name)), view)
            case .cancel(let reason):
                actions.append(.cancel(reason: reason))
            case .note(let kind, let text):
                note(kind, text)
            }
        }
        return actions
    }

    /// Damages the checkpoint `latest` names (in place, as a disk would) unless it is `unless`.
    /// Returns its name.
    private func damageLatest(_ store: CheckpointStore, mode: Scenario.CorruptionMode, unless: String?) -> String? {
        guard let name = store.pointedName(), name != unless, let bytes = try? Files.read(store.directory + "/" + name) else { return nil }
        var damaged = bytes
        switch mode {
        case .truncate:
            damaged = Array(bytes.prefix(bytes.count / 2))
        case .flip:
            let mid = bytes.count / 2
            for i in mid..<min(bytes.count, mid + 64) { damaged[i] ^= 0xFF }
        }
        _ = FileManager.default.createFile(atPath: store.directory + "/" + name, contents: Data(damaged))
        note("fault", "damaged \(name) (\(mode == .truncate ? "truncated to \(damaged.count) bytes" : "64 bytes flipped"))")
        return name
    }

    /// The chief's restores after the first initialization, and each trainer's local steps, from metrics.jsonl.
    private func readRestores() {
        let (bytes, next) = Files.readFrom(jobDirectory + "/metrics.jsonl", offset: metricsOffset)
        guard !bytes.isEmpty else { return }
        metricsOffset = next
        var lines = (partialLine + String(decoding: bytes, as: UTF8.self)).split(separator: "\n", omittingEmptySubsequences: false)
        partialLine = String(lines.removeLast())
        for line in lines {
            guard let r = try? JSONParser.parse(String(line)) else { continue }
            if r["kind"] == "train", let name = r["task"]?.stringValue, let task = try? TaskID(parsing: name), let local = r["local_step"]?.intValue {
                observations.localSteps.append(((r["time"]?.doubleValue ?? wallStart) - wallStart, task, local))
                continue
            }
            guard r["kind"] == "restore", let inc = r["incarnation"]?.intValue, inc > 1 else { continue }
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
                    ("target_share_of_steps", num(f.targetShareDuring)),
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
        let verdict = r.interrupted ? "INTERRUPTED (\(r.observations.outcome?.reason ?? "stopped")) after" : r.passed ? "PASSED in" : "FAILED in"
        lines.append("\(verdict) \(String(format: "%.1f", r.wallSeconds)) s — evidence in \(r.jobDirectory)")
        return lines.joined(separator: "\n")
    }
}
