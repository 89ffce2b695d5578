import Foundation
import TrainyardCore
import TrainyardPlatform
import TrainyardLaunch

/// `trainyard cost`, `cost compare` and `cost validate`: predicted step time, throughput, time and
/// price of a job on a tier, from the calibrated machine and the model in Docs/cost-model.md.
enum CostCommand {
    static let options: [(String, String)] = CustomClusterFlags.help + [
        ("--max-steps S", "global steps to run (default: the training default)"),
        ("--epochs E --examples N", "instead of --max-steps: E passes over N examples"),
        ("--hidden, --features, --classes, --batch-size, --sync, --replicas-to-aggregate", "the model and training, as for train"),
        ("--local", "predict the run on this machine (bandwidth emulation on) instead of the cloud"),
        ("--json", "JSON output"),
        ("compare [--svg FILE]", "every tier side by side; --svg draws time against cost"),
        ("validate [--json] [--quick]", "run local configurations and compare predicted with measured throughput"),
    ]

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if try args.flag("--help") {
            print(TrainyardCommand.helpText("trainyard cost [compare|validate] --scale-tier TIER [model and training options] [--max-steps S | --epochs E --examples N] [--json]", options))
            return .success
        }
        let sub = args.items.first.flatMap { ["compare", "validate"].contains($0) ? $0 : nil }
        if sub != nil { _ = args.positional() }
        let json = try args.flag("--json")
        let local = try args.flag("--local")
        let svg = try args.value("--svg")
        let quick = try args.flag("--quick")
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

        if sub == "validate" { return try validate(catalog: catalog, json: json, quick: quick) }

        let profile = try Calibration.loadOrMeasure { if !json { Posix.write($0, to: 2) } }
        let architecture = MLPArchitecture(inputs: training.features, hidden: training.hidden, classes: training.classes)
        func steps(for plan: ClusterPlan) throws -> Int {
            guard let epochs else { return training.maxSteps }
            guard examples != nil else { throw UsageError("--epochs needs --examples N (how many examples one epoch has)") }
            let perStep = training.batch(perStepWith: plan.topology.workers + 1)
            return max(1, Int((epochs * Double(training.examples) / Double(perStep)).rounded(.up)))
        }

        if sub == "compare" {
            var rows: [CostEstimator.Estimate] = []
            for tier in catalog.orderedTiers where !tier.custom {
                let plan = try catalog.plan(for: tier)
                rows.append(CostEstimator.estimate(plan: plan, job: CostEstimator.Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                                     profile: profile, catalog: catalog, local: local, scale: scale))
            }
            if custom.masterMachineType != nil {
                let plan = try custom.plan(in: catalog)
                rows.append(CostEstimator.estimate(plan: plan, job: CostEstimator.Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                                     profile: profile, catalog: catalog, local: local, scale: scale))
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
        let e = CostEstimator.estimate(plan: plan, job: CostEstimator.Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                         profile: profile, catalog: catalog, local: local, scale: scale)
        if json {
            print(estimateJSON(e, training: training, architecture: architecture).prettySerialized())
        } else {
            print(describe(e, training: training, architecture: architecture, local: local))
        }
        return .success
    }

    static func validate(catalog: TierCatalog, json: Bool, quick: Bool) throws -> ExitCode {
        let report = try CostValidation.run(catalog: catalog, quick: quick) { if !json { Posix.write($0, to: 2) } }
        let (profile, rows, median, worst, met) = (report.profile, report.rows, report.medianAbsError, report.maxAbsError, report.met)
        if json {
            print(JSONValue.object([
                ("profile", profile.json),
                ("configurations", .array(rows.map { r in
                    .object([("name", .string(r.config.name)), ("cluster", .string(r.config.plan.description)),
                             ("model", .string(MLPArchitecture(inputs: r.config.training.features, hidden: r.config.training.hidden, classes: r.config.training.classes).description)),
                             ("batch_size", JSONValue(r.config.training.batchSize)), ("sync", .bool(r.config.training.sync)),
                             ("predicted", JSONValue(r.predicted.stepsPerSecond)), ("measured", r.measured.map { JSONValue($0) } ?? .null),
                             ("error", r.error.map { JSONValue($0) } ?? .null), ("bottleneck", .string(r.predicted.bottleneck.rawValue)), ("status", .string(r.status))])
                })),
                ("median_abs_error", median.map { JSONValue($0) } ?? .null), ("max_abs_error", worst.map { JSONValue($0) } ?? .null),
                ("targets", .object([("median_abs_error", 0.15), ("max_abs_error", 0.30), ("met", .bool(met))])),
            ]).prettySerialized())
        } else {
            var t = [["configuration", "cluster here", "predicted steps/s", "measured steps/s", "error", "bottleneck"]]
            for r in rows {
                t.append([r.config.name, "\(r.config.plan.topology)", String(format: "%.0f", r.predicted.stepsPerSecond),
                          r.measured.map { String(format: "%.0f", $0) } ?? r.status, r.error.map { String(format: "%+.1f%%", $0 * 100) } ?? "–",
                          r.predicted.bottleneck.rawValue])
            }
            print(TextTable.render(t))
            print(String(format: "median |error| %.1f%%, largest %.1f%% — targets (≤ 15%%, none above 30%%) %@", (median ?? .nan) * 100, (worst ?? .nan) * 100, met ? "met" : "NOT met"))
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
        let ranked = p.bounds.sorted { $0.1 < $1.1 }
        var bottleneck = "  bottleneck        \(p.bottleneck.rawValue)"
        if ranked.count > 1, ranked[0].1 > 0 { bottleneck += String(format: " (next: %@ at %.1f× the rate)", ranked[1].0.rawValue, ranked[1].1 / ranked[0].1) }
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
            ("bounds", .object(e.prediction.bounds.map { ($0.0.rawValue, JSONValue($0.1)) })), ("notes", JSONValue(e.notes)),
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

