import Foundation
import TrainyardCore
import TrainyardPlatform
import TrainyardLaunch

/// `trainyard cost`, `cost compare` and `cost validate`: predicted step time, throughput, time and
/// price of a job on a tier, from the calibrated machine and the model in Docs/cost-model.md.
enum CostCommand {
    static let help = HelpPage(
        usage: "trainyard cost [compare|validate] --scale-tier TIER [model and training options] [--max-steps S | --epochs E --examples N] [--json]",
        summary: "Predicts a job's step time, throughput, time and price on a tier from the calibrated machine (Docs/cost-model.md).",
        options: options + [("--bandwidth-scale F", "with --local: links at the machine types' bandwidth × F"),
                            ("--tiers-dir DIR", "the scale-tier catalog (default: $TRAINYARD_TIERS, else ScaleTiers/ of this checkout)")] + TrainSettings.help,
        subcommands: [
            .init(words: ["compare"], usage: "trainyard cost compare [--svg FILE] [--local] [model and training options] [--json]", summary: "Every tier side by side; --svg draws time against cost."),
            .init(words: ["validate"], usage: "trainyard cost validate [--json] [--quick] [--tiny] [--rounds N] [--run-seconds S]", summary: "Runs 16 local configurations, one per regime, N rounds interleaved (default 3) with a calibration before the first round and after each, and sets predicted (each run from the calibrations around its round) against the median measured throughput, with the ranking and the tiers' order."),
        ])

    static let options: [(String, String)] = CustomClusterFlags.help + [
        ("--epochs E --examples N", "instead of --max-steps: E passes over N examples"),
        ("--local", "predict the run on this machine (bandwidth emulation on) instead of the cloud"),
        ("--explain", "every bound with its value, the bottleneck and the next one, and how far time and cost move when each input moves ±20%"),
        ("--from-job NAME", "cost a finished job's own program (--command / --module-name) from its measured run (Docs/cost-model.md)"),
        ("--bytes-per-step B", "with --from-job: bytes a training task sends per step, instead of its measured write counters"),
        ("--json", "JSON output"),
        ("compare [--svg FILE]", "every tier side by side; --svg draws time against cost"),
        ("validate [--json] [--quick] [--tiny] [--rounds N] [--run-seconds S]", "run local configurations N rounds (default 3; 1 with --quick or --tiny), each run about S seconds (0.5–60; default 2.5, 1 with --quick or --tiny), calibrating before the first round and after each (once with --quick or --tiny), and compare predicted with the median measured throughput (--tiny: two tiny ones, to check the output)"),
    ]

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        let sub = args.items.first.flatMap { ["compare", "validate"].contains($0) ? $0 : nil }
        if sub != nil { _ = args.positional() }
        let json = try args.flag("--json")
        let local = try args.flag("--local")
        let svg = try args.value("--svg")
        let quick = try args.flag("--quick")
        let tiny = try args.flag("--tiny")
        let rounds = try args.int("--rounds", in: 1...20)
        let runSeconds = try args.double("--run-seconds", in: 0.5...60)
        let explain = try args.flag("--explain")
        let fromJob = try args.value("--from-job")
        let bytesPerStep = try args.double("--bytes-per-step", in: 0...1e15)
        let tiersDir = try args.value("--tiers-dir")
        let tierName = try args.value("--scale-tier")
        var custom = try CustomClusterFlags.parse(&args)
        let epochs = try args.double("--epochs", in: 1e-6...1e9)
        let examples = try args.int("--examples", in: 1...Int.max)
        let scale = try args.double("--bandwidth-scale", in: 1e-9...1000)
        var training = try TrainSettings.parse(&args)
        try args.finish()
        try training.validate()
        if examples != nil { training.examples = examples! }
        let catalog = try Catalog.load(tiersDir)

        if rounds != nil && sub != "validate" { throw UsageError("--rounds is for `trainyard cost validate`") }
        if runSeconds != nil && sub != "validate" { throw UsageError("--run-seconds is for `trainyard cost validate`") }
        if sub == "validate" {
            return try validate(catalog: catalog, json: json, quick: quick, tiny: tiny, rounds: rounds ?? (quick || tiny ? 1 : 3), runSeconds: runSeconds)
        }

        if let fromJob {
            return try programCost(job: fromJob, compare: sub == "compare", tierName: tierName, custom: custom, training: training,
                                   catalog: catalog, local: local, scale: scale, bytesPerStep: bytesPerStep, json: json, explain: explain)
        }
        let architecture = MLPArchitecture(inputs: training.features, hidden: training.hidden, classes: training.classes)
        if epochs != nil && examples == nil { throw UsageError("--epochs needs --examples N (how many examples one epoch has)") }
        // Measured (once per machine and build) only after the plans are known to run the job.
        func loadProfile() throws -> CalibrationProfile { try Calibration.loadOrMeasure { if !json { Posix.write($0, to: 2) } } }
        func steps(for plan: ClusterPlan) throws -> Int {
            guard let epochs else { return training.maxSteps }
            let perStep = training.batch(perStepWith: plan.topology.workers + 1)
            return max(1, Int((epochs * Double(training.examples) / Double(perStep)).rounded(.up)))
        }

        if sub == "compare" {
            var plans = try catalog.orderedTiers.filter { !$0.custom }.map { try catalog.plan(for: $0) }
            if custom.masterMachineType != nil {
                let plan = try custom.plan(in: catalog)
                if let reason = cannotRun(training, on: plan) { throw UsageError("CUSTOM: \(reason)") }
                plans.append(plan)
            }
            plans = try runnable(plans, training)
            let measured = try loadProfile()
            let rows = try plans.map { plan in
                CostEstimator.estimate(plan: plan, job: CostEstimator.Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                                       profile: measured, catalog: catalog, local: local, scale: scale)
            }
            if let svg { try Files.writeAtomically(CostChart.svg(rows, title: "Time and cost to train \(architecture) (batch \(training.batchSize))"), to: svg) }
            if json {
                print(JSONValue.array(rows.map { estimateJSON($0, training: training, architecture: architecture) }).prettySerialized())
            } else {
                print(compareTable(rows, local: local))
                if let svg { print("chart written to \(svg)") }
            }
            return .success
        }

        guard let tierName = tierName ?? (custom.masterMachineType != nil ? "CUSTOM" : nil) else {
            throw UsageError("cost needs --scale-tier TIER (or `cost compare` for every tier)")
        }
        guard let tier = catalog.tier(named: tierName) else {
            throw UsageError("unknown scale tier \"\(tierName)\" (tiers: \(catalog.orderedTiers.map(\.name).joined(separator: ", ")))")
        }
        if !tier.custom && !custom.isEmpty { throw UsageError("the CUSTOM flags need --scale-tier CUSTOM") }
        if tier.custom && custom.masterMachineType == nil { custom.masterMachineType = nil }
        let plan = tier.custom ? try custom.plan(in: catalog) : try catalog.plan(for: tier)
        if let reason = cannotRun(training, on: plan) { throw UsageError("\(tier.name): \(reason)") }
        let profile = try loadProfile()
        let e = CostEstimator.estimate(plan: plan, job: CostEstimator.Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                         profile: profile, catalog: catalog, local: local, scale: scale)
        let sensitivity = explain ? CostEstimator.sensitivity(plan: plan, job: CostEstimator.Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                                                              profile: profile, catalog: catalog, local: local, scale: scale) : nil
        if json {
            var fields = estimateJSON(e, training: training, architecture: architecture).objectValue ?? []
            if let sensitivity { fields.append(("sensitivity", sensitivityJSON(sensitivity))) }
            print(JSONValue.object(fields).prettySerialized())
        } else {
            print(describe(e, training: training, architecture: architecture, local: local))
            if explain { print(explainText(e, sensitivity: sensitivity ?? [])) }
        }
        return .success
    }

    /// Why `plan` cannot run `training`, or nil: a synchronous step here takes one gradient from
    /// each training task at most (`ResourceCheck` refuses more before a job starts).
    static func cannotRun(_ training: TrainSettings, on plan: ClusterPlan) -> String? {
        let trainers = plan.topology.chiefs + plan.topology.workers
        guard let k = ResourceCheck.tooManyToAggregate(training, trainers: trainers) else { return nil }
        let more = plan.tierName.uppercased() == "CUSTOM" ? "a larger --worker-count" : "a tier with more workers"
        return "\(trainers) training task\(trainers == 1 ? "" : "s") (the chief and the workers) cannot give --replicas-to-aggregate \(k) gradients a step, and \(ResourceCheck.aggregationLimit): use \(trainers) or less, or \(more)"
    }

    /// The plans of `cost compare` that can run `training`; each one left out is said on stderr,
    /// and none left is an error.
    static func runnable(_ plans: [ClusterPlan], _ training: TrainSettings) throws -> [ClusterPlan] {
        let kept = plans.filter { plan in
            guard let reason = cannotRun(training, on: plan) else { return true }
            Posix.write("\(plan.tierName) left out: \(reason)\n", to: 2)
            return false
        }
        if kept.isEmpty, !plans.isEmpty, let k = training.replicasToAggregate {
            throw UsageError("no tier has the \(k) training tasks --replicas-to-aggregate \(k) needs")
        }
        return kept
    }

    /// `--from-job NAME`: the program of a finished job, measured from its run, on one tier, the
    /// job's own cluster, or (compare) every tier.
    static func programCost(job: String, compare: Bool, tierName: String?, custom: CustomClusterFlags, training: TrainSettings, catalog: TierCatalog,
                            local: Bool, scale: Double?, bytesPerStep: Double?, json: Bool, explain: Bool) throws -> ExitCode {
        let (measured, record) = try ProgramCost.profile(job: job)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let m = ProgramCost.withWait(measured, ranOn: try JobService.clusterPlan(record.spec, catalog: catalog), training: training, cores: cores)
        var plans: [ClusterPlan] = []
        if compare {
            plans = try catalog.orderedTiers.filter { !$0.custom }.map { try catalog.plan(for: $0) }
        } else if let tierName {
            guard let tier = catalog.tier(named: tierName) else {
                throw UsageError("unknown scale tier \"\(tierName)\" (tiers: \(catalog.orderedTiers.map(\.name).joined(separator: ", ")))")
            }
            plans = [tier.custom ? try custom.plan(in: catalog) : try catalog.plan(for: tier)]
        } else {
            guard let plan = try JobService.clusterPlan(record.spec, catalog: catalog) else {
                throw UsageError("job \(job) names no scale tier to cost: give --scale-tier TIER (or use `cost compare --from-job \(job)`)")
            }
            plans = [plan]
        }
        if compare {
            plans = try runnable(plans, training)
        } else if let plan = plans.first, let reason = cannotRun(training, on: plan) {
            throw UsageError("\(plan.tierName): \(reason)")
        }
        let steps = training.maxSteps
        let estimates = plans.map { ProgramCost.estimate(m, plan: $0, training: training, steps: steps, cores: cores, catalog: catalog, local: local, scale: scale, bytesPerStep: bytesPerStep) }
        let architecture = MLPArchitecture(inputs: 1, hidden: [], classes: 2)
        if json {
            let measured: JSONValue = .object([("steps_per_sec", JSONValue(m.stepsPerSecond)), ("steps", JSONValue(m.steps)), ("window_seconds", JSONValue(m.windowSeconds)),
                                              ("trainer_cpu_seconds_per_step", JSONValue(m.trainerCPUSeconds)), ("ps_cpu_seconds_per_step", JSONValue(m.psCPUSeconds)),
                                              ("trainer_bytes_per_step", m.trainerBytes.map { JSONValue($0) } ?? .null),
                                              ("trainers", JSONValue(m.trainers)), ("parameter_servers", JSONValue(m.parameterServers)),
                                              ("wait_seconds_per_step", JSONValue(m.waitSeconds))])
            let rows: [JSONValue] = zip(plans, estimates).map { plan, e in
                var fields = estimateJSON(e, training: training, architecture: architecture).objectValue ?? []
                fields.removeAll { $0.0 == "model" }
                if explain {
                    fields.append(("sensitivity", sensitivityJSON(ProgramCost.sensitivity(m, plan: plan, training: training, steps: steps, cores: cores, catalog: catalog,
                                                                                         local: local, scale: scale, bytesPerStep: bytesPerStep))))
                }
                return .object(fields)
            }
            print(JSONValue.object([("job", .string(job)), ("measured", measured), ("estimates", .array(rows))]).prettySerialized())
            return .success
        }
        print(String(format: "job %@ measured here: %.1f steps/s over %.1f s; per global step %.3f ms of training-task CPU, %.3f ms of ps CPU, a task waits %.3f ms per step on neither, %@",
                     job, m.stepsPerSecond, m.windowSeconds, m.trainerCPUSeconds * 1000, m.psCPUSeconds * 1000, m.waitSeconds * 1000,
                     m.trainerBytes.map { "\(Int($0)) bytes written by the training tasks" } ?? "no byte counters"))
        if compare {
            print(compareTable(estimates, local: local))
            return .success
        }
        for (plan, e) in zip(plans, estimates) {
            print("\(e.plan.tierName): \(e.plan.description)\(local ? " — run here, bandwidth emulated" : " — in the cloud")")
            print(String(format: "  step time         %.3f ms per global step", e.prediction.stepSeconds * 1000))
            print("  time to finish    \(steps) steps in \(CostEstimator.duration(e.seconds))")
            if let b = e.bill { print(String(format: "  cost              $%.4f (%.4f ML units, %.0f min billed)", b.dollars, b.mlUnits, b.billedMinutes)) }
            print("  bottleneck        \(e.prediction.bottleneck.rawValue)" + (e.prediction.next.map { " (next: \($0.0.rawValue))" } ?? ""))
            for n in e.notes { print("  note: " + n) }
            if explain {
                print(explainText(e, sensitivity: ProgramCost.sensitivity(m, plan: plan, training: training, steps: steps, cores: cores, catalog: catalog,
                                                                         local: local, scale: scale, bytesPerStep: bytesPerStep)))
            }
        }
        return .success
    }

    /// `--explain`: every bound and the parts of a step, then the sensitivity table.
    static func explainText(_ e: CostEstimator.Estimate, sensitivity: [CostEstimator.Sensitivity]) -> String {
        let p = e.prediction
        var t = [["bound", "steps/s at most", "×predicted"]]
        for (b, v) in p.bounds {
            t.append([b.rawValue + (b == p.bottleneck ? "  ← bottleneck" : b == p.next?.0 ? "  ← next" : ""),
                      v.isFinite ? String(format: "%.1f", v) : "unbounded", v.isFinite ? String(format: "%.2f", v / p.stepsPerSecond) : "–"])
        }
        var lines = ["bounds (each resource alone; the prediction queues them together):", TextTable.render(t)]
        var parts = [["part of a step", "ms"]]
        for (name, v) in p.parts where v > 0 { parts.append([name, String(format: "%.4f", v * 1000)]) }
        lines += ["", "one training task's step (W of them run at once; synchronous: each step waits for K):", TextTable.render(parts)]
        if !sensitivity.isEmpty {
            var s = [["input moved", "to", "time", "Δ time", "cost $", "Δ cost", "to", "time", "Δ time", "cost $", "Δ cost"]]
            func pct(_ x: Double, _ base: Double) -> String { String(format: "%+.1f%%", (x / base - 1) * 100) }
            for r in sensitivity {
                let dl = r.dollarsLow.map { String(format: "%.4f", $0) } ?? "–", dh = r.dollarsHigh.map { String(format: "%.4f", $0) } ?? "–"
                let cl = pair(r.dollarsLow, e.bill?.dollars).map { pct($0.0, $0.1) } ?? "–"
                let ch = pair(r.dollarsHigh, e.bill?.dollars).map { pct($0.0, $0.1) } ?? "–"
                s.append([r.input, r.low, CostEstimator.duration(r.secondsLow), pct(r.secondsLow, e.seconds), dl, cl,
                          r.high, CostEstimator.duration(r.secondsHigh), pct(r.secondsHigh, e.seconds), dh, ch])
            }
            lines += ["", "sensitivity (each input alone moved ±20%; cost billed per minute with the minimum, so short jobs may not move):", TextTable.render(s)]
        }
        return lines.joined(separator: "\n")
    }

    static func pair(_ a: Double?, _ b: Double?) -> (Double, Double)? {
        guard let a, let b, b > 0 else { return nil }
        return (a, b)
    }

    static func sensitivityJSON(_ rows: [CostEstimator.Sensitivity]) -> JSONValue {
        .array(rows.map { r in
            .object([("input", .string(r.input)), ("low", .string(r.low)), ("high", .string(r.high)),
                     ("seconds_low", JSONValue(r.secondsLow)), ("seconds_high", JSONValue(r.secondsHigh)),
                     ("dollars_low", r.dollarsLow.map { JSONValue($0) } ?? .null), ("dollars_high", r.dollarsHigh.map { JSONValue($0) } ?? .null)])
        })
    }

    static func validate(catalog: TierCatalog, json: Bool, quick: Bool, tiny: Bool, rounds: Int, runSeconds: Double?) throws -> ExitCode {
        let report = try CostValidation.run(catalog: catalog, quick: quick, small: tiny, rounds: rounds, runSeconds: runSeconds) { if !json { Posix.write($0, to: 2) } }
        let (profile, rows, median, worst, met) = (report.profile, report.rows, report.medianAbsError, report.maxAbsError, report.met)
        func number(_ v: Double?) -> JSONValue { v.map { $0.isFinite ? JSONValue($0) : .null } ?? .null }
        if json {
            print(JSONValue.object([
                ("profile", profile.json), ("profile_after", report.profileAfter?.json ?? .null), ("compute_drift", number(report.computeDrift)),
                ("calibrations", .array(report.calibrations.map(\.json))), ("run_seconds", JSONValue(report.runSeconds)),
                ("standard_step_seconds_by_calibration", .array(report.standardStepSeconds.map { JSONValue($0) })),
                ("configurations", .array(rows.map { r in
                    .object([("name", .string(r.config.name)), ("regime", .string(r.config.regime.rawValue)), ("cluster", .string(r.config.plan.description)),
                             ("processes", JSONValue(r.config.plan.topology.taskCount)), ("links_emulated", .bool(r.config.emulate)),
                             ("model", .string(MLPArchitecture(inputs: r.config.training.features, hidden: r.config.training.hidden, classes: r.config.training.classes).description)),
                             ("batch_size", JSONValue(r.config.training.batchSize)), ("sync", .bool(r.config.training.sync)),
                             ("replicas_to_aggregate", r.config.training.replicasToAggregate.map { JSONValue($0) } ?? .null),
                             ("background_load", JSONValue(r.backgroundLoad)),
                             ("predicted", JSONValue(r.predicted.stepsPerSecond)), ("predicted_quiet", JSONValue(r.predictedQuiet)), ("measured", number(r.measured)),
                             ("measured_runs", .array(r.measuredRuns.map { JSONValue($0) })), ("runs_spread", number(r.spread)),
                             ("error", number(r.error)), ("bottleneck", .string(r.predicted.bottleneck.rawValue)),
                             ("next_bottleneck", r.predicted.next.map { .string($0.0.rawValue) } ?? .null),
                             ("regime_agrees", r.regimeAgrees.map { .bool($0) } ?? .null), ("status", .string(r.status))])
                })),
                ("median_abs_error", number(median)), ("max_abs_error", number(worst)),
                ("runs_spread_beyond_max_target", .array(report.spreadBeyondMaxTarget.map { .string($0.config.name) })),
                ("ranking", .object([("pairs", JSONValue(report.rankingPairs)), ("pairs_agreeing", JSONValue(report.rankingAgree)),
                                     ("spearman", number(report.spearman))])),
                ("tier_pairs", .array(report.tierPairs.map { .object([("a", .string($0.a)), ("b", .string($0.b)), ("time_order_agrees", .bool($0.timeAgrees)),
                                                                      ("cost_order_agrees", .bool($0.costAgrees))]) })),
                ("targets", .object([("median_abs_error", JSONValue(CostValidation.Report.medianTarget)), ("max_abs_error", JSONValue(CostValidation.Report.maxTarget)),
                                     ("met", .bool(met))])),
            ]).prettySerialized())
        } else {
            var t = [["configuration", "regime", "cluster here", "load", "predicted steps/s", "measured steps/s", "runs (min–max)", "spread", "error", "model's bottleneck"]]
            for r in rows {
                t.append([r.config.name, r.config.regime.rawValue, "\(r.config.plan.topology)\(r.config.emulate ? "" : ", links off")", String(format: "%.1f", r.backgroundLoad),
                          String(format: "%.0f", r.predicted.stepsPerSecond),
                          r.measured.map { String(format: "%.0f", $0) } ?? r.status,
                          r.measuredRuns.count > 1 ? String(format: "%.0f–%.0f", r.measuredRuns.min()!, r.measuredRuns.max()!) : "–",
                          r.spread.map { String(format: "%.0f%%", $0 * 100) } ?? "–", r.error.map { String(format: "%+.1f%%", $0 * 100) } ?? "–",
                          r.predicted.bottleneck.rawValue + (r.regimeAgrees == false ? " (not the regime's)" : "")])
            }
            print(TextTable.render(t))
            print(String(format: "median |error| %.1f%%, largest %.1f%% — targets (≤ %.0f%%, none above %.0f%%) %@", (median ?? .nan) * 100, (worst ?? .nan) * 100,
                         CostValidation.Report.medianTarget * 100, CostValidation.Report.maxTarget * 100, met ? "met" : "NOT met"))
            let noisy = report.spreadBeyondMaxTarget
            if let widest = noisy.max(by: { ($0.spread ?? 0) < ($1.spread ?? 0) }), let w = widest.spread {
                print(String(format: "%d of %d configurations' runs spread more than %.0f%% of their median (widest: %@, %.0f%%): for them an error up to about their spread can be this machine's run-to-run noise rather than the model's; the targets are judged all the same",
                             noisy.count, rows.count, CostValidation.Report.maxTarget * 100, widest.config.name, w * 100))
            }
            print("ranking by throughput: \(report.rankingAgree) of \(report.rankingPairs) pairs ordered as measured" + (report.spearman.map { String(format: ", Spearman ρ %.3f", $0) } ?? ""))
            for p in report.tierPairs {
                print("tiers \(p.a) vs \(p.b): time order \(p.timeAgrees ? "as measured" : "WRONG"), cost order \(p.costAgrees ? "as measured" : "WRONG")")
            }
            if let d = report.computeDrift {
                let steps = report.standardStepSeconds.map { String(format: "%.0f", $0 * 1e6) }.joined(separator: ", ")
                print(String(format: "calibration drift over the run: compute rate %+.1f%% (last vs first; the standard step, µs, calibration by calibration: %@)", d * 100, steps))
            }
        }
        return rows.allSatisfy { $0.measured != nil } ? .success : .failure
    }

    static func describe(_ e: CostEstimator.Estimate, training: TrainSettings, architecture: MLPArchitecture, local: Bool) -> String {
        let p = e.prediction
        let steps = Int((e.seconds * p.stepsPerSecond).rounded())
        var lines = ["\(e.plan.tierName): \(e.plan.description)\(local ? " — run here, bandwidth emulated" : " — in the cloud")",
                     "model \(architecture) (\(architecture.parameterCount) parameters), batch \(training.batchSize), \(training.sync ? "synchronous" : "asynchronous"), \(e.plan.processWorkers + 1) training task\(e.plan.processWorkers == 0 ? "" : "s")",
                     String(format: "  step time         %.3f ms per global step", p.stepSeconds * 1000),
                     String(format: "  throughput        %.0f steps/s, %.0f examples/s", p.stepsPerSecond, p.examplesPerSecond),
                     "  time to finish    \(steps) steps in \(CostEstimator.duration(e.seconds))"]
        if let b = e.bill {
            lines.append(String(format: "  billed            %.0f min (per-minute billing, 10-minute minimum)", b.billedMinutes))
            lines.append(String(format: "  ML units          %.4f", b.mlUnits))
            lines.append(String(format: "  cost              $%.4f", b.dollars))
        }
        var bottleneck = "  bottleneck        \(p.bottleneck.rawValue)"
        if let b = p.bound(p.bottleneck), b.isFinite, let next = p.next, b > 0 {
            bottleneck += String(format: " (next: %@ at %.1f× its rate)", next.0.rawValue, next.1 / b)
        }
        lines.append(bottleneck)
        lines += e.notes.map { "  note: " + $0 }
        return lines.joined(separator: "\n")
    }

    static func estimateJSON(_ e: CostEstimator.Estimate, training: TrainSettings, architecture: MLPArchitecture) -> JSONValue {
        .object([
            ("tier", .string(e.plan.tierName)), ("cluster", .string(e.plan.description)),
            ("model", .string(architecture.description)), ("batch_size", JSONValue(training.batchSize)), ("sync", .bool(training.sync)),
            ("step_seconds", JSONValue(e.prediction.stepSeconds)), ("steps_per_sec", JSONValue(e.prediction.stepsPerSecond)),
            ("examples_per_sec", JSONValue(e.prediction.examplesPerSecond)),
            ("steps", JSONValue(Int((e.seconds * e.prediction.stepsPerSecond).rounded()))), ("seconds", JSONValue(e.seconds)),
            ("billed_minutes", e.bill.map { JSONValue($0.billedMinutes) } ?? .null), ("ml_units", e.bill.map { JSONValue($0.mlUnits) } ?? .null),
            ("dollars", e.bill.map { JSONValue($0.dollars) } ?? .null), ("bottleneck", .string(e.prediction.bottleneck.rawValue)),
            ("bounds", .object(e.prediction.bounds.map { ($0.0.rawValue, $0.1.isFinite ? JSONValue($0.1) : .null) })),
            ("next_bottleneck", e.prediction.next.map { .string($0.0.rawValue) } ?? .null),
            ("parts_seconds", .object(e.prediction.parts.map { ($0.0, JSONValue($0.1)) })), ("notes", JSONValue(e.notes)),
        ])
    }

    static func compareTable(_ rows: [CostEstimator.Estimate], local: Bool) -> String {
        var t = [["tier", "cluster", "step ms", "examples/s", "time", "ML units", "cost $", "bottleneck"]]
        for e in rows {
            t.append([e.plan.tierName, e.plan.description, String(format: "%.3f", e.prediction.stepSeconds * 1000), String(format: "%.0f", e.prediction.examplesPerSecond),
                      CostEstimator.duration(e.seconds), e.bill.map { String(format: "%.4f", $0.mlUnits) } ?? "–", e.bill.map { String(format: "%.4f", $0.dollars) } ?? "–",
                      e.prediction.bottleneck.rawValue])
        }
        return TextTable.render(t) + (local ? "\n(predicted for this machine, bandwidth emulated)" : "\n(predicted for the cloud; cost billed per minute with a 10-minute minimum)")
    }
}

