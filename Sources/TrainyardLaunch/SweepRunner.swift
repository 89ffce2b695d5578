import Foundation
import TrainyardCore
import TrainyardPlatform

/// Sweep records on disk: `$TRAINYARD_HOME/sweeps/<id>/sweep.json`.
public enum SweepStore {
    public static var root: String { Home.path + "/sweeps" }

    public static func load(_ id: String) throws -> JSONValue {
        guard let text = try? Files.readText(root + "/\(id)/sweep.json") else { throw UsageError("no sweep \(id) (`trainyard sweep list` lists them)") }
        return try JSONParser.parse(text)
    }

    public static func all() -> [JSONValue] {
        Files.list(root).compactMap { try? JSONParser.parse(Files.readText(root + "/\($0)/sweep.json")) }
    }
}

/// Runs a sweep in the foreground: starts trials as jobs within the limits, reads what they
/// report, stops the hopeless ones by the early-termination policy, and keeps the record.
public final class SweepRunner {
    final class Trial {
        let index: Int
        let params: [(String, JSONValue)]
        let job: String
        var state = "QUEUED"
        var terminatedBy: String?
        var reports: [TrialMetrics.Report] = []
        var history: [Double] = []
        var steps = 0
        /// The global step of the evaluation that early termination stopped the trial at.
        var stoppedAt: Int?
        var started: Double?
        var ended: Double?
        var logOffset = 0
        var fileOffset = 0
        init(index: Int, params: [(String, JSONValue)], job: String) {
            self.index = index
            self.params = params
            self.job = job
        }
        var finished: Bool { ["COMPLETED", "FAILED", "CANCELLED", "EARLY_TERMINATED"].contains(state) }
        /// The value the sweep ranks the trial by: its last report of the primary metric (for
        /// Trainyard's trainer, the final evaluation, the one its exported model records).
        var metric: Double? { history.last }
    }

    let spec: SweepSpec
    /// A built-in trial's `max_steps` (the trainer's default when the spec does not set it).
    let maxSteps: Int?
    private(set) var id: String
    private(set) var folder: String
    let progress: Bool
    var trials: [Trial] = []
    var state = "RUNNING"
    let startedAt = MonotonicClock.wallNow()
    let monotonicStart = MonotonicClock.now()

    public init(spec: SweepSpec, specText: String, progress: Bool) throws {
        self.spec = spec
        self.progress = progress
        if case .builtIn(let arguments, _, _) = spec.trial {
            var probe = Arguments(arguments)
            maxSteps = (try? TrainSettings.parse(&probe))?.maxSteps ?? TrainSettings().maxSteps
        } else {
            maxSteps = nil
        }
        // The trial's folder, by the name the spec gave it: Azure's `code` (relative to the spec
        // file's folder) or `package_path` (relative to the folder the sweep runs in).
        if case .job(let job) = spec.trial, let path = job.packagePath, !Files.isDirectory(path) {
            if job.packageIsWorkingDirectory { throw FieldError(path: "trial.code", "no such folder: \(path) (a path relative to the spec file's folder)") }
            throw FieldError(path: "trial.package_path", Files.exists(path) ? "\(path) is a file: give the trainer's folder"
                             : "no such folder: \(path)" + (path.hasPrefix("/") ? "" : " (relative to the folder the sweep runs in)"))
        }
        func named(_ n: Int) -> (id: String, folder: String, trials: [Trial]) {
            let id = "\(spec.name)-\(n)"
            let jobPrefix = String(id.map { $0 == "-" ? "_" : $0 })
            return (id, SweepStore.root + "/" + id,
                    spec.trials().enumerated().map { i, p in Trial(index: i, params: p, job: "\(jobPrefix)_t\(String(format: "%02d", i))") })
        }
        var n = 1
        while Files.exists(SweepStore.root + "/\(spec.name)-\(n)") { n += 1 }
        (id, folder, trials) = named(n)
        try checkTrials()
        // The first free number, claimed: another sweep of the same name may have taken this one
        // while the trials were checked, and a number whose trial job names are taken (a sweep
        // named with _ for -, or a sweep folder removed without its jobs) is passed over.
        while try trials.contains(where: { JobStore.exists($0.job) }) || !Files.claimDirectory(folder) {
            n += 1
            (id, folder, trials) = named(n)
        }
        try Files.writeAtomically(specText, to: folder + "/spec.json")
    }

    /// Every trial's job through `submit`'s own checks (`JobService.check`; the interpreter once,
    /// as no trial changes it) before anything is written or started. A mistake every trial
    /// shares (a tier this machine cannot hold, say) is one invalid-input error (exit 3), not a
    /// sweep of trials that failed to start; so is a value some trials draw that their job
    /// refuses (a model too large for this machine's memory), as `TrialParameterCheck` treats a
    /// value the trainer refuses.
    func checkTrials() throws {
        let catalog = try Catalog.load()
        // Read once: every trial is checked against the same machine.
        let limits = (memoryBytes: MachineLimits.availableMemoryBytes(), descriptors: try MachineLimits.descriptorLimit())
        func everyTrial(_ reason: String) -> FieldError {
            FieldError(path: "trial", "every trial's job would be refused: \(reason) (no trial was started)")
        }
        if let first = trials.first {
            // No trial changes the interpreter: asked once.
            let job = jobSpec(for: first)
            if job.moduleName != nil || !job.packages.isEmpty {
                do { _ = try PythonInterpreter.resolve(job, environment: ProcessInfo.processInfo.environment) } catch { throw everyTrial("\(error)") }
            }
        }
        var refused: [(trial: Trial, reason: String)] = []
        for t in trials {
            do {
                try JobService.check(jobSpec(for: t), catalog: catalog, limits: limits)
            } catch {
                if error is Signals.Interrupted { throw error }
                refused.append((t, "\(error)"))
            }
        }
        guard let first = refused.first else { return }
        if refused.count == trials.count && Set(refused.map(\.reason)).count == 1 { throw everyTrial(first.reason) }
        let values = first.trial.params.map { "\($0.0)=\(describe($0.1))" }.joined(separator: ", ")
        throw FieldError(path: "trial", "trial \(first.trial.index)'s job (\(values)) would be refused: \(first.reason) "
                         + "(\(refused.count) of the \(trials.count) trials' jobs would be refused; no trial was started)")
    }

    /// The job trial `t` runs: the trial's job or Trainyard's trainer with the trial's values.
    func jobSpec(for t: Trial) -> JobSpec {
        var job: JobSpec
        let trialDir = folder + "/trials/\(t.job)"
        switch spec.trial {
        case .builtIn(let arguments, let workers, let ps):
            job = JobSpec()
            job.workers = workers
            job.parameterServers = ps
            var args = arguments + t.params.map { spec.argument($0.0, $0.1) }
            if !args.contains(where: { $0.hasPrefix("--eval-every") }) {
                // Several evaluations per trial: the intervals early termination looks at.
                args += ["--eval-every", String(max(1, (maxSteps ?? 1) / 10))]
            }
            // Every trial trains on the same data (the trial's `seed`, else the trainer's default)
            // unless the search space varies `seed`.
            job.userArgs = args
            job.jobDir = trialDir
        case .job(let base):
            job = spec.job(base, parameters: t.params)
            job.jobDir = (base.jobDir.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/" + t.job }) ?? trialDir
        }
        job.restartPolicy = .never
        job.trial = String(t.index)
        return job
    }

    let terminal = Posix.isTerminal(2)

    func note(_ s: String) {
        guard progress else { return }
        Posix.write((terminal ? "\r\u{1B}[2K" : "") + String(format: "[%6.1fs] ", MonotonicClock.now() - monotonicStart) + s + "\n", to: 2)
    }

    public func run() throws -> JSONValue {
        note("sweep \(id): \(trials.count) trials, at most \(spec.maxConcurrentTrials) at once, \(spec.primaryMetric) to \(spec.goal.rawValue)"
             + (spec.earlyTermination.map { ", early termination: \($0.name)" } ?? ""))
        for line in spec.notes { note("note: " + line) }
        var lastDraw = 0.0
        var interrupted = false
        while trials.contains(where: { !$0.finished }) {
            let now = MonotonicClock.now()
            if let s = Signals.take() {
                note("interrupted (\(signalName(s))): cancelling the running trials")
                interrupted = true
            }
            let timedOut = spec.timeout.map { now - monotonicStart > $0 } ?? false
            if timedOut || interrupted {
                state = "CANCELLED"
                for t in trials where !t.finished {
                    if t.state == "RUNNING" { cancel(t) }
                    t.state = "CANCELLED"
                    t.terminatedBy = timedOut ? "the sweep's timeout of \(JSONValue.format(spec.timeout!)) s" : "the sweep was interrupted"
                    t.ended = MonotonicClock.wallNow()
                }
                break
            }
            // Start trials up to the concurrency limit.
            while trials.filter({ $0.state == "RUNNING" }).count < spec.maxConcurrentTrials, let next = trials.first(where: { $0.state == "QUEUED" }) {
                do {
                    try start(next)
                } catch {
                    // Interrupted while starting it (staging a package): the trial stays queued
                    // and the loop's next turn cancels the sweep, this trial with the rest.
                    if error is Signals.Interrupted || Signals.pending != nil { break }
                    // A trial that cannot start (its job folder cannot be made, its job is
                    // refused) has failed, with the reason; the sweep goes on with the others and
                    // keeps its record true, rather than stopping with trials left running. A job
                    // record made before the failure is stopped, an empty trial folder removed.
                    let reason = "could not start: \(error)"
                    if let record = try? JobStore.load(next.job), !record.state.isTerminal {
                        if record.supervisorPID != nil {
                            cancel(next)
                        } else {
                            _ = try? JobStore.update(next.job) { r in try r.transition(to: .failed, at: MonotonicClock.wallNow(), error: reason) }
                        }
                    }
                    Files.removeEmptyFolders(folder + "/trials/\(next.job)")
                    next.state = "FAILED"
                    next.terminatedBy = reason
                    next.ended = MonotonicClock.wallNow()
                    note("trial \(next.index) failed: \(reason)")
                }
            }
            for t in trials where t.state == "RUNNING" { try poll(t) }
            try save()
            if progress && terminal && now - lastDraw > 0.5 {
                lastDraw = now
                let running = trials.filter { $0.state == "RUNNING" }.count
                let done = trials.filter { $0.state == "COMPLETED" }.count
                let stopped = trials.filter { $0.state == "EARLY_TERMINATED" }.count
                let best = spec.goal.best(trials.filter { $0.state == "COMPLETED" }.compactMap(\.metric))
                Posix.write("\r\u{1B}[2K" + String(format: "%6.1fs · running %d · completed %d · early-terminated %d · failed %d · best %@ %@",
                                                   now - monotonicStart, running, done, stopped, trials.filter { $0.state == "FAILED" || $0.state == "CANCELLED" }.count,
                                                   spec.primaryMetric, best.map { String(format: "%.4f", $0) } ?? "–"), to: 2)
            }
            // Short: a built-in chief waits for the verdict on each evaluation.
            MonotonicClock.sleep(seconds: 0.05)
        }
        if state == "RUNNING" {
            // A sweep succeeds when at least one trial ran to the end and left a model to rank.
            state = trials.contains { $0.state == "COMPLETED" } ? "COMPLETED" : "FAILED"
            if state == "FAILED" { note("sweep \(id) failed: no trial completed") }
        }
        if progress && terminal { Posix.write("\r\u{1B}[2K", to: 2) }
        if let problem = metricProblem { note(problem) }
        let record = try save()
        try Files.writeAtomically(SweepChart.svg(trials: trials, spec: spec, title: "\(id): \(spec.primaryMetric) by interval"), to: folder + "/metric.svg")
        return record
    }

    func start(_ t: Trial) throws {
        let job = jobSpec(for: t)
        if case .builtIn = spec.trial {
            // The chief waits here for a verdict on each evaluation (TrialVerdictGate).
            try Files.createDirectory(TrialVerdict.folder(jobDirectory: job.jobDir!))
        }
        _ = try JobService.submit(name: t.job, spec: job, template: nil)
        t.state = "RUNNING"
        t.started = MonotonicClock.wallNow()
        note("started trial \(t.index) (\(t.job)): " + t.params.map { "\($0.0)=\(describe($0.1))" }.joined(separator: ", "))
    }

    func describe(_ v: JSONValue) -> String {
        if let d = v.doubleValue, d.rounded() != d { return String(format: "%.4g", d) }
        return v.stringValue ?? v.serialized()
    }

    func poll(_ t: Trial) throws {
        let record = try JobStore.load(t.job)
        // New reports.
        var fresh: [TrialMetrics.Report] = []
        if case .builtIn = spec.trial {
            let all = TrialMetrics.fromRecords(MetricsLog(jobDirectory: record.jobDirectory).records())
            fresh = Array(all.dropFirst(t.reports.count))
            let steps = MetricsLog(jobDirectory: record.jobDirectory).records().compactMap { $0["step"]?.intValue }.max() ?? 0
            t.steps = max(t.steps, steps)
        } else {
            let log = JobStore.logFolder(t.job) + "/\(record.spec.useChiefInTFConfig ? "chief" : "master")-0.log"
            let (bytes, next) = Files.readFrom(log, offset: t.logOffset)
            if let cut = bytes.lastIndex(of: UInt8(ascii: "\n")) {
                t.logOffset += cut + 1
                for line in String(decoding: bytes[...cut], as: UTF8.self).split(separator: "\n") {
                    if let r = TrialMetrics.fromLogLine(line) { fresh.append(r) }
                }
            }
            _ = next
            let (fbytes, _) = Files.readFrom(JobStore.folder(t.job) + "/reported-metrics.jsonl", offset: t.fileOffset)
            if let cut = fbytes.lastIndex(of: UInt8(ascii: "\n")) {
                t.fileOffset += cut + 1
                for line in String(decoding: fbytes[...cut], as: UTF8.self).split(separator: "\n") {
                    if let r = TrialMetrics.fromJSONLine(line) { fresh.append(r) }
                }
            }
        }
        for r in fresh {
            t.reports.append(r)
            if let s = r.step { t.steps = max(t.steps, s) } else if case .job = spec.trial { t.steps = t.reports.count }
            guard let v = r.values[spec.primaryMetric] else { continue }
            t.history.append(v)
            let peers = trials.filter { $0 !== t }.map { EarlyTerminationPolicy.Peer(history: $0.history, finished: $0.state == "COMPLETED") }
            let verdict = record.state.isTerminal ? .proceed
                : TrialVerdict.decide(spec.earlyTermination, history: t.history, peers: peers, goal: spec.goal, step: r.step, maxSteps: maxSteps)
            if let step = r.step, maxSteps != nil {
                // The built-in chief is waiting for this before it trains on (TrialVerdictGate).
                try? Files.writeAtomically(verdict.encoded, to: TrialVerdict.folder(jobDirectory: record.jobDirectory) + "/" + TrialVerdict.fileName(step: step),
                                           durable: false)
            }
            if case .stop(let why) = verdict {
                cancel(t)
                t.state = "EARLY_TERMINATED"
                t.terminatedBy = why
                t.stoppedAt = r.step
                t.ended = MonotonicClock.wallNow()
                note("trial \(t.index) early-terminated" + (r.step.map { " at step \($0)" } ?? "") + ": \(why)")
                return
            }
        }
        if let limit = spec.trialTimeout, let s = t.started, MonotonicClock.wallNow() - s > limit, !record.state.isTerminal {
            cancel(t)
            t.state = "CANCELLED"
            t.terminatedBy = "the trial timeout of \(JSONValue.format(limit)) s"
            t.ended = MonotonicClock.wallNow()
            note("trial \(t.index) cancelled: trial timeout")
            return
        }
        if record.state.isTerminal {
            t.state = record.state == .succeeded ? "COMPLETED" : (record.state == .cancelled ? "CANCELLED" : "FAILED")
            t.terminatedBy = record.errorMessage ?? (t.state == "COMPLETED" ? nil : "job \(t.job) ended \(record.state.rawValue) (`trainyard jobs describe \(t.job)`)")
            t.ended = record.endTime
            if t.state == "FAILED", let line = lastLogLine(of: t, record: record), !(t.terminatedBy ?? "").contains(line) {
                t.terminatedBy = (t.terminatedBy ?? "failed") + " (its log ends: \"\(line)\")"
            }
            if t.state == "COMPLETED" && t.history.isEmpty {
                t.state = "FAILED"
                t.terminatedBy = "the trial reported no \(spec.primaryMetric)"
            }
            note("trial \(t.index) \(t.state.lowercased())" + (t.metric.map { String(format: ": final %@ %.4f", spec.primaryMetric, $0) } ?? "")
                 + (t.state == "COMPLETED" ? "" : ": " + (t.terminatedBy ?? "no reason recorded")))
        }
    }

    /// The last non-empty line of a trial's chief (or master) log, for a failed trial's reason.
    func lastLogLine(of t: Trial, record: JobRecord) -> String? {
        let role = record.spec.builtIn || record.spec.useChiefInTFConfig ? "chief" : "master"
        let path = JobStore.logFolder(t.job) + "/\(role)-0.log"
        guard let text = try? Files.readText(path) else { return nil }
        let line = text.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }
        return line.map { String($0.prefix(300)) }
    }

    /// Stops a trial's job without waiting: its supervisor stops every task.
    func cancel(_ t: Trial) {
        _ = try? JobStore.update(t.job) { r in if !r.state.isTerminal && r.state != .cancelling { try r.transition(to: .cancelling, at: MonotonicClock.wallNow()) } }
        if let pid = (try? JobStore.load(t.job))?.supervisorPID { Posix.kill(pid, Signals.terminate) }
    }

    /// The trial the sweep calls best: the best final value of the primary metric among the trials
    /// that ran to the end (only they leave a model, and the model records that same value).
    var bestTrial: Trial? {
        TrialRanking.best(trials.map { TrialRanking.Entry(metric: $0.metric, completed: $0.state == "COMPLETED") }, goal: spec.goal).map { trials[$0] }
    }

    /// Global steps the early-terminated built-in trials did not run (max_steps minus where they stopped).
    var stepsSaved: Int {
        guard let maxSteps else { return 0 }
        return trials.filter { $0.state == "EARLY_TERMINATED" }.map { max(0, maxSteps - ($0.stoppedAt ?? $0.steps)) }.reduce(0, +)
    }

    /// When trials ended but none ever logged the primary metric: says so, with the names they
    /// did log (the usual cause is a metric logged under another name).
    var metricProblem: String? {
        // Only trials that started count: one that never ran logged nothing, whatever its metric's name.
        guard trials.contains(where: { $0.finished && $0.started != nil }), !trials.contains(where: { !$0.history.isEmpty }) else { return nil }
        let logged = Set(trials.flatMap { $0.reports.flatMap { $0.values.keys } }).sorted()
        return "no trial ever logged the primary metric \(spec.primaryMetric)"
            + (logged.isEmpty ? "; the trials logged no metrics at all" : "; the trials logged: \(logged.joined(separator: ", "))")
            + " (objective.primary_metric must be the name the trial logs)"
    }

    @discardableResult
    func save() throws -> JSONValue {
        let best = bestTrial
        func number(_ d: Double?) -> JSONValue { d.map { JSONValue($0) } ?? .null }
        func trialJSON(_ t: Trial) -> JSONValue {
            let lastMetrics: [(String, JSONValue)] = (t.reports.last?.values ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, JSONValue($0.value)) }
            let fields: [(String, JSONValue)] = [
                ("trial", JSONValue(t.index)), ("job", .string(t.job)), ("state", .string(t.state)),
                ("terminated_by", t.terminatedBy.map { JSONValue($0) } ?? .null),
                ("parameters", .object(t.params)),
                ("history", .array(t.history.map { JSONValue($0) })),
                ("metric", number(t.metric)),
                ("peak_metric", number(spec.goal.best(t.history))),
                ("last_metrics", .object(lastMetrics)),
                ("steps", JSONValue(t.steps)),
                ("stopped_at_step", t.stoppedAt.map { JSONValue($0) } ?? .null),
                ("started", number(t.started)), ("ended", number(t.ended)),
            ]
            return .object(fields)
        }
        let record = JSONValue.object([
            ("id", .string(id)), ("name", .string(spec.name)), ("state", .string(state)),
            ("created", JSONValue(startedAt)), ("folder", .string(folder)),
            ("objective", .object([("primary_metric", .string(spec.primaryMetric)), ("goal", .string(spec.goal.rawValue)),
                                   ("ranked_by", "final")])),
            ("sampling", .string(spec.sampling.rawValue)), ("early_termination", .string(spec.earlyTermination?.name ?? "none")),
            ("limits", .object([("max_total_trials", JSONValue(spec.maxTotalTrials)), ("max_concurrent_trials", JSONValue(spec.maxConcurrentTrials))])),
            ("max_steps", maxSteps.map { JSONValue($0) } ?? .null),
            ("trial_steps", JSONValue(trials.map(\.steps).reduce(0, +))),
            ("steps_saved", JSONValue(stepsSaved)),
            ("trials", .array(trials.map(trialJSON))),
            ("best_trial", best.map(trialJSON) ?? .null),
            ("chart", .string(folder + "/metric.svg")),
            ("primary_metric_logged", .bool(trials.contains { !$0.history.isEmpty })),
            ("problem", metricProblem.map { JSONValue($0) } ?? .null),
            ("notes", JSONValue(spec.notes)),
            ("azure", spec.azure ? spec.metadata.json : .null),
        ])
        try Files.writeAtomically(record.prettySerialized() + "\n", to: folder + "/sweep.json", durable: false)
        return record
    }

    /// The trials of a sweep record in rank order: by `metric` (the final value of the primary
    /// metric), best first; trials without one last, in trial order.
    public static func ranked(_ r: JSONValue) -> [JSONValue] {
        let goal = Goal(rawValue: r["objective"]?["goal"]?.stringValue ?? "maximize") ?? .maximize
        let trials = r["trials"]?.arrayValue ?? []
        let entries = trials.map { TrialRanking.Entry(metric: $0["metric"]?.doubleValue, completed: $0["state"] == "COMPLETED") }
        return TrialRanking.order(entries, goal: goal).map { trials[$0] }
    }

    public static func describe(_ r: JSONValue) -> String {
        let metric = r["objective"]?["primary_metric"]?.stringValue ?? "metric"
        let trials = ranked(r)
        var rows = [["trial", "state", "final " + metric, "steps", "parameters"]]
        for t in trials {
            let params = (t["parameters"]?.objectValue ?? []).map { k, v -> String in
                if let d = v.doubleValue, d.rounded() != d { return "\(k)=\(String(format: "%.4g", d))" }
                return "\(k)=\(v.stringValue ?? v.serialized())"
            }.joined(separator: " ")
            rows.append([t["trial"]?.intValue.map(String.init) ?? "?", t["state"]?.stringValue ?? "?",
                         t["metric"]?.doubleValue.map { String(format: "%.4f", $0) } ?? "–", String(t["steps"]?.intValue ?? 0), params])
        }
        var head = "sweep \(r["id"]?.stringValue ?? "?"): \(r["state"]?.stringValue ?? "?"), early termination \(r["early_termination"]?.stringValue ?? "none"), \(r["trial_steps"]?.intValue ?? 0) trial-steps in all"
        if let saved = r["steps_saved"]?.intValue, saved > 0 { head += ", \(saved) saved by early termination" }
        var lines = [head, TextTable.render(rows)]
        for t in trials where t["state"] != "COMPLETED" {
            let verb = t["state"] == "EARLY_TERMINATED" ? "stopped" + (t["stopped_at_step"]?.intValue.map { " at step \($0)" } ?? "") + " by" : (t["state"]?.stringValue?.lowercased() ?? "ended") + ":"
            lines.append("  trial \(t["trial"]?.intValue ?? -1) \(verb) \(t["terminated_by"]?.stringValue ?? "no reason recorded")")
        }
        if let best = r["best_trial"], best != .null {
            lines.append("best trial: \(best["trial"]?.intValue ?? -1) (\(best["job"]?.stringValue ?? "?")) with final \(metric) \(best["metric"]?.doubleValue.map { String(format: "%.4f", $0) } ?? "–")")
        } else {
            lines.append("best trial: none (no trial completed)")
        }
        if let problem = r["problem"]?.stringValue { lines.append("problem: " + problem) }
        if let azure = r["azure"], azure != .null {
            lines.append("compute: local" + (azure["compute"]?.stringValue.map { " (the spec asks for \($0))" } ?? ""))
        }
        lines.append("chart: \(r["chart"]?.stringValue ?? "–")")
        return lines.joined(separator: "\n")
    }
}

/// The primary metric over intervals, one line per trial (dashed when early-terminated, thick for the best).
enum SweepChart {
    /// Each trial's primary metric at every interval it reported: the best trial drawn thick, the
    /// early-terminated ones dashed.
    static func svg(trials: [SweepRunner.Trial], spec: SweepSpec, title: String) -> String {
        let best = TrialRanking.best(trials.map { TrialRanking.Entry(metric: $0.metric, completed: $0.state == "COMPLETED") }, goal: spec.goal).map { trials[$0] }
        let series = trials.filter { !$0.history.isEmpty }.map { t in
            SVGPlot.Series("t\(t.index)\(t === best ? " (best)" : "")\(t.state == "EARLY_TERMINATED" ? " early-terminated" : "")",
                           t.history.enumerated().map { (Double($0.offset + 1), $0.element) },
                           style: .lineAndMarkers, dashed: t.state == "EARLY_TERMINATED", strokeWidth: t === best ? 3.5 : 1.5,
                           color: SVGPlot.palette[t.index % SVGPlot.palette.count])
        }
        return SVGPlot.svg(SVGPlot.Chart(
            title: title, subtitle: "each trial's \(spec.primaryMetric) per reporting interval; dashed: stopped early",
            x: .init("interval (report number)", integer: true), y: .init(spec.primaryMetric),
            series: series, emptyMessage: "no trial has reported \(spec.primaryMetric) yet", width: 780, height: 460))
    }
}
