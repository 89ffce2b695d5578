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
    }

    let spec: SweepSpec
    let id: String
    let folder: String
    let progress: Bool
    var trials: [Trial] = []
    var state = "RUNNING"
    let startedAt = MonotonicClock.wallNow()
    let monotonicStart = MonotonicClock.now()

    public init(spec: SweepSpec, specText: String, progress: Bool) throws {
        self.spec = spec
        self.progress = progress
        var n = 1
        while Files.exists(SweepStore.root + "/\(spec.name)-\(n)") { n += 1 }
        id = "\(spec.name)-\(n)"
        folder = SweepStore.root + "/" + id
        try Files.createDirectory(folder)
        try Files.writeAtomically(specText, to: folder + "/spec.json")
        let jobPrefix = String(id.map { $0 == "-" ? "_" : $0 })
        trials = spec.trials().enumerated().map { i, p in Trial(index: i, params: p, job: "\(jobPrefix)_t\(String(format: "%02d", i))") }
    }

    let terminal = Posix.isTerminal(2)

    func note(_ s: String) {
        guard progress else { return }
        Posix.write((terminal ? "\r\u{1B}[2K" : "") + String(format: "[%6.1fs] ", MonotonicClock.now() - monotonicStart) + s + "\n", to: 2)
    }

    public func run() throws -> JSONValue {
        note("sweep \(id): \(trials.count) trials, at most \(spec.maxConcurrentTrials) at once, \(spec.primaryMetric) to \(spec.goal.rawValue)"
             + (spec.earlyTermination.map { ", early termination: \($0.name)" } ?? ""))
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
                try start(next)
            }
            for t in trials where t.state == "RUNNING" { try poll(t) }
            try save()
            if progress && terminal && now - lastDraw > 0.5 {
                lastDraw = now
                let running = trials.filter { $0.state == "RUNNING" }.count
                let done = trials.filter { $0.state == "COMPLETED" }.count
                let stopped = trials.filter { $0.state == "EARLY_TERMINATED" }.count
                let best = spec.goal.best(trials.compactMap { spec.goal.best($0.history) })
                Posix.write("\r\u{1B}[2K" + String(format: "%6.1fs · running %d · completed %d · early-terminated %d · failed %d · best %@ %@",
                                                   now - monotonicStart, running, done, stopped, trials.filter { $0.state == "FAILED" || $0.state == "CANCELLED" }.count,
                                                   spec.primaryMetric, best.map { String(format: "%.4f", $0) } ?? "–"), to: 2)
            }
            MonotonicClock.sleep(seconds: 0.2)
        }
        if state == "RUNNING" { state = "COMPLETED" }
        if progress && terminal { Posix.write("\r\u{1B}[2K", to: 2) }
        let record = try save()
        try Files.writeAtomically(SweepChart.svg(trials: trials, spec: spec, title: "\(id): \(spec.primaryMetric) by interval"), to: folder + "/metric.svg")
        return record
    }

    func start(_ t: Trial) throws {
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
                var probe = Arguments(arguments)
                let maxSteps = (try? TrainSettings.parse(&probe))?.maxSteps ?? TrainSettings().maxSteps
                args += ["--eval-every", String(max(1, maxSteps / 10))]
            }
            if !args.contains(where: { $0.hasPrefix("--seed") }) { args += ["--seed", String(spec.seed &+ UInt64(t.index))] }
            job.userArgs = args
            job.jobDir = trialDir
        case .job(let base):
            job = base
            job.userArgs = base.userArgs + t.params.map { spec.argument($0.0, $0.1) }
            job.jobDir = (base.jobDir.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/" + t.job }) ?? trialDir
        }
        job.restartPolicy = .never
        job.trial = String(t.index)
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
            if let policy = spec.earlyTermination, !record.state.isTerminal {
                let peers = trials.filter { $0 !== t }.map { EarlyTerminationPolicy.Peer(history: $0.history, finished: $0.state == "COMPLETED") }
                if let why = policy.decide(history: t.history, peers: peers, goal: spec.goal) {
                    cancel(t)
                    t.state = "EARLY_TERMINATED"
                    t.terminatedBy = why
                    t.ended = MonotonicClock.wallNow()
                    note("trial \(t.index) early-terminated: \(why)")
                    return
                }
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
            t.terminatedBy = record.errorMessage
            t.ended = record.endTime
            if t.state == "COMPLETED" && t.history.isEmpty {
                t.state = "FAILED"
                t.terminatedBy = "the trial reported no \(spec.primaryMetric)"
            }
            note("trial \(t.index) \(t.state.lowercased())" + (spec.goal.best(t.history).map { String(format: ": best %@ %.4f", spec.primaryMetric, $0) } ?? ""))
        }
    }

    /// Stops a trial's job without waiting: its supervisor stops every task.
    func cancel(_ t: Trial) {
        _ = try? JobStore.update(t.job) { r in if !r.state.isTerminal && r.state != .cancelling { try r.transition(to: .cancelling, at: MonotonicClock.wallNow()) } }
        if let pid = (try? JobStore.load(t.job))?.supervisorPID { Posix.kill(pid, Signals.terminate) }
    }

    @discardableResult
    func save() throws -> JSONValue {
        let best = trials.filter { !$0.history.isEmpty && $0.state != "FAILED" }
            .max { a, b in spec.goal.better(spec.goal.best(b.history)!, than: spec.goal.best(a.history)!) }
        func trialJSON(_ t: Trial) -> JSONValue {
            .object([
                ("trial", JSONValue(t.index)), ("job", .string(t.job)), ("state", .string(t.state)),
                ("terminated_by", t.terminatedBy.map { JSONValue($0) } ?? .null),
                ("parameters", .object(t.params)),
                ("history", .array(t.history.map { JSONValue($0) })),
                ("best_metric", spec.goal.best(t.history).map { JSONValue($0) } ?? .null),
                ("last_metrics", .object((t.reports.last?.values ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, JSONValue($0.value)) })),
                ("steps", JSONValue(t.steps)),
                ("started", t.started.map { JSONValue($0) } ?? .null), ("ended", t.ended.map { JSONValue($0) } ?? .null),
            ])
        }
        let record = JSONValue.object([
            ("id", .string(id)), ("name", .string(spec.name)), ("state", .string(state)),
            ("created", JSONValue(startedAt)), ("folder", .string(folder)),
            ("objective", .object([("primary_metric", .string(spec.primaryMetric)), ("goal", .string(spec.goal.rawValue))])),
            ("sampling", .string(spec.sampling.rawValue)), ("early_termination", .string(spec.earlyTermination?.name ?? "none")),
            ("limits", .object([("max_total_trials", JSONValue(spec.maxTotalTrials)), ("max_concurrent_trials", JSONValue(spec.maxConcurrentTrials))])),
            ("trial_steps", JSONValue(trials.map(\.steps).reduce(0, +))),
            ("trials", .array(trials.map(trialJSON))),
            ("best_trial", best.map(trialJSON) ?? .null),
            ("chart", .string(folder + "/metric.svg")),
        ])
        try Files.writeAtomically(record.prettySerialized() + "\n", to: folder + "/sweep.json", durable: false)
        return record
    }

    public static func describe(_ r: JSONValue) -> String {
        let metric = r["objective"]?["primary_metric"]?.stringValue ?? "metric"
        let goal = Goal(rawValue: r["objective"]?["goal"]?.stringValue ?? "maximize") ?? .maximize
        let trials = (r["trials"]?.arrayValue ?? []).sorted { a, b in
            switch (a["best_metric"]?.doubleValue, b["best_metric"]?.doubleValue) {
            case let (x?, y?): return goal.better(x, than: y)
            case (_?, nil): return true
            default: return false
            }
        }
        var rows = [["trial", "state", metric, "steps", "parameters"]]
        for t in trials {
            let params = (t["parameters"]?.objectValue ?? []).map { k, v -> String in
                if let d = v.doubleValue, d.rounded() != d { return "\(k)=\(String(format: "%.4g", d))" }
                return "\(k)=\(v.stringValue ?? v.serialized())"
            }.joined(separator: " ")
            rows.append([t["trial"]?.intValue.map(String.init) ?? "?", t["state"]?.stringValue ?? "?",
                         t["best_metric"]?.doubleValue.map { String(format: "%.4f", $0) } ?? "–", String(t["steps"]?.intValue ?? 0), params])
        }
        var lines = ["sweep \(r["id"]?.stringValue ?? "?"): \(r["state"]?.stringValue ?? "?"), early termination \(r["early_termination"]?.stringValue ?? "none"), \(r["trial_steps"]?.intValue ?? 0) trial-steps in all",
                     TextTable.render(rows)]
        for t in trials where t["state"] == "EARLY_TERMINATED" {
            lines.append("  trial \(t["trial"]?.intValue ?? -1) stopped by \(t["terminated_by"]?.stringValue ?? "?")")
        }
        if let best = r["best_trial"], best != .null {
            lines.append("best trial: \(best["trial"]?.intValue ?? -1) (\(best["job"]?.stringValue ?? "?")) with \(metric) \(best["best_metric"]?.doubleValue.map { String(format: "%.4f", $0) } ?? "–")")
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
        let best = trials.filter { !$0.history.isEmpty }.max { spec.goal.better(spec.goal.best($1.history)!, than: spec.goal.best($0.history)!) }
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
