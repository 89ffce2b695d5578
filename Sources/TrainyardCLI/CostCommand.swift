import Foundation
import TrainyardCore
import TrainyardPlatform

/// `trainyard cost`, `cost compare` and `cost validate`: predicted step time, throughput, time and
/// price of a job on a tier, from the calibrated machine and the model in Docs/cost-model.md.
enum CostCommand {
    struct Job {
        var training: TrainSettings
        var architecture: MLPArchitecture
        /// Global steps to run.
        var steps: Int
    }

    struct Estimate {
        var plan: ClusterPlan
        var prediction: CostModel.Prediction
        var seconds: Double
        var bill: CostModel.Bill?
        var notes: [String]
    }

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

        if sub == "validate" { return try CostValidation.run(catalog: catalog, json: json, quick: quick) }

        let profile = try CalibrateCommand.loadOrMeasure(progress: !json)
        let architecture = MLPArchitecture(inputs: training.features, hidden: training.hidden, classes: training.classes)
        func steps(for plan: ClusterPlan) throws -> Int {
            guard let epochs else { return training.maxSteps }
            guard examples != nil else { throw UsageError("--epochs needs --examples N (how many examples one epoch has)") }
            let perStep = training.batch(perStepWith: plan.topology.workers + 1)
            return max(1, Int((epochs * Double(training.examples) / Double(perStep)).rounded(.up)))
        }

        if sub == "compare" {
            var rows: [Estimate] = []
            for tier in catalog.orderedTiers where !tier.custom {
                let plan = try catalog.plan(for: tier)
                rows.append(estimate(plan: plan, job: Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                                     profile: profile, catalog: catalog, local: local, scale: scale))
            }
            if custom.masterMachineType != nil {
                let plan = try custom.plan(in: catalog)
                rows.append(estimate(plan: plan, job: Job(training: training, architecture: architecture, steps: try steps(for: plan)),
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
        let e = estimate(plan: plan, job: Job(training: training, architecture: architecture, steps: try steps(for: plan)),
                         profile: profile, catalog: catalog, local: local, scale: scale)
        if json {
            print(estimateJSON(e, training: training, architecture: architecture).prettySerialized())
        } else {
            print(describe(e, training: training, architecture: architecture, local: local))
        }
        return .success
    }

    /// The model's inputs for `plan`: in the cloud (each task its own machine), or here (every task
    /// on this machine's cores, links emulated at the machine types' bandwidth × the scale factor).
    static func inputs(plan: ClusterPlan, training: TrainSettings, architecture: MLPArchitecture, profile: CalibrationProfile,
                       local: Bool, scale: Double?) -> CostModel.Inputs {
        let trainerType = plan.processWorkers > 0 ? (plan.worker ?? plan.master) : plan.master
        let oneCore = profile.stepSeconds(architecture, batch: training.batchSize)
        let factor = local ? (scale ?? Catalog.defaultBandwidthScale(plan, localCores: profile.cores)) : 1
        return CostModel.Inputs(
            architecture: architecture, batch: training.batchSize, trainers: plan.processWorkers + 1, parameterServers: plan.parameterServerCount,
            sync: training.sync, replicasToAggregate: training.replicasToAggregate,
            computeSeconds: local ? oneCore : CostModel.cloudComputeSeconds(localOneCore: oneCore, vcpus: trainerType.vcpus),
            rpcSeconds: local ? profile.rpcSeconds : CostModel.cloudRPCSeconds,
            rpcCPUSeconds: profile.rpcCPUSeconds, byteCPUSeconds: profile.byteSeconds, updateSecondsPerValue: profile.updateSecondsPerValue,
            sharedCores: local ? profile.cores : nil,
            trainerBandwidth: trainerType.networkGbps > 0 ? trainerType.bytesPerSecond * factor : nil,
            psBandwidth: plan.parameterServer.map { $0.bytesPerSecond * factor })
    }

    static func estimate(plan: ClusterPlan, job: Job, profile: CalibrationProfile, catalog: TierCatalog, local: Bool, scale: Double?) -> Estimate {
        let i = inputs(plan: plan, training: job.training, architecture: job.architecture, profile: profile, local: local, scale: scale)
        let p = CostModel.predict(i)
        let seconds = Double(job.steps) / p.stepsPerSecond
        var notes: [String] = []
        var bill: CostModel.Bill?
        if let units = plan.mlUnitsPerHour {
            let perUnit = plan.master.priceList.flatMap { catalog.priceLists[$0]?.dollarsPerUnit } ?? 0.49
            bill = CostModel.bill(seconds: seconds, mlUnitsPerHour: units, dollarsPerUnit: perUnit,
                                  granularityMinutes: catalog.billingGranularityMinutes, minimumMinutes: catalog.billingMinimumMinutes)
        } else {
            notes.append("no price: a machine type of this cluster has no price in the catalog")
        }
        if plan.machines.contains(where: { !$0.0.accelerators.isEmpty }) {
            notes.append("accelerators are not modelled: the prediction assumes the CPU kernel")
        }
        if !local { notes.append("cloud compute assumes \(Int(0.7 * 100))% use of a task's physical cores and a \(Int(CostModel.cloudRPCSeconds * 1e6)) µs request round trip") }
        return Estimate(plan: plan, prediction: p, seconds: seconds, bill: bill, notes: notes)
    }

    static func duration(_ s: Double) -> String {
        if s < 120 { return String(format: "%.1f s", s) }
        if s < 7200 { return String(format: "%.1f min", s / 60) }
        return String(format: "%.1f h", s / 3600)
    }

    static func describe(_ e: Estimate, training: TrainSettings, architecture: MLPArchitecture, local: Bool) -> String {
        let p = e.prediction
        let steps = Int((e.seconds * p.stepsPerSecond).rounded())
        var lines = ["\(e.plan.tierName): \(e.plan.description)\(local ? " — run here, bandwidth emulated" : " — in the cloud")",
                     "model \(architecture) (\(architecture.parameterCount) parameters), batch \(training.batchSize), \(training.sync ? "synchronous" : "asynchronous"), \(e.plan.processWorkers + 1) training task\(e.plan.processWorkers == 0 ? "" : "s")",
                     String(format: "  step time         %.3f ms per global step", p.stepSeconds * 1000),
                     String(format: "  throughput        %.0f steps/s, %.0f examples/s", p.stepsPerSecond, p.examplesPerSecond),
                     "  time to finish    \(steps) steps in \(duration(e.seconds))"]
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

    static func estimateJSON(_ e: Estimate, training: TrainSettings, architecture: MLPArchitecture) -> JSONValue {
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

    static func compareTable(_ rows: [Estimate], local: Bool) -> String {
        var t = [["tier", "cluster", "step ms", "examples/s", "time", "ML units", "cost $", "bottleneck"]]
        for e in rows {
            t.append([e.plan.tierName, e.plan.description, String(format: "%.3f", e.prediction.stepSeconds * 1000), String(format: "%.0f", e.prediction.examplesPerSecond),
                      duration(e.seconds), e.bill.map { String(format: "%.4f", $0.mlUnits) } ?? "–", e.bill.map { String(format: "%.4f", $0.dollars) } ?? "–",
                      e.prediction.bottleneck.rawValue])
        }
        return TiersCommand.table(t) + (local ? "\n(predicted for this machine, bandwidth emulated)" : "\n(predicted for the cloud; cost billed per minute with a 10-minute minimum)")
    }
}

extension TrainSettings {
    /// Examples one global step consumes: one batch, or K batches in synchronous training.
    func batch(perStepWith trainers: Int) -> Int {
        sync ? batchSize * (replicasToAggregate ?? trainers) : batchSize
    }
}

/// A scatter plot of time against cost, one point per tier.
enum CostChart {
    static func svg(_ rows: [CostCommand.Estimate], title: String) -> String {
        let points = rows.compactMap { e in e.bill.map { (e.plan.tierName, e.seconds, $0.dollars) } }
        let frame = SVGPlot.Frame()
        let (width, height, left, right, top, bottom) = (frame.width, frame.height, frame.left, frame.right, frame.top, frame.bottom)
        let times = points.map { max($0.1, 1e-3) }, costs = points.map { max($0.2, 1e-6) }
        func logRange(_ v: [Double]) -> (Double, Double) {
            let lo = Math.log((v.min() ?? 1) / 1.5) / Math.log(10), hi = Math.log((v.max() ?? 10) * 1.5) / Math.log(10)
            return hi - lo < 0.5 ? (lo - 0.25, hi + 0.25) : (lo, hi)
        }
        let (tx0, tx1) = logRange(times), (cy0, cy1) = logRange(costs)
        func x(_ t: Double) -> Double { left + (Math.log(max(t, 1e-3)) / Math.log(10) - tx0) / (tx1 - tx0) * (width - left - right) }
        func y(_ c: Double) -> Double { height - bottom - (Math.log(max(c, 1e-6)) / Math.log(10) - cy0) / (cy1 - cy0) * (height - top - bottom) }
        var s = SVGPlot.begin(frame, title: title, xLabel: "time to finish (seconds, log scale)", yLabel: "cost (US dollars, log scale)")
        for d in Int(tx0.rounded(.down))...Int(tx1.rounded(.up)) where Double(d) >= tx0 && Double(d) <= tx1 {
            let v = Math.pow(10, Double(d))
            s += "<line x1=\"\(x(v))\" y1=\"\(height - bottom)\" x2=\"\(x(v))\" y2=\"\(height - bottom + 5)\" stroke=\"black\"/><text x=\"\(x(v))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(JSONValue.format(v))</text>\n"
        }
        for d in Int(cy0.rounded(.down))...Int(cy1.rounded(.up)) where Double(d) >= cy0 && Double(d) <= cy1 {
            let v = Math.pow(10, Double(d))
            s += "<line x1=\"\(left - 5)\" y1=\"\(y(v))\" x2=\"\(left)\" y2=\"\(y(v))\" stroke=\"black\"/><text x=\"\(left - 8)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(JSONValue.format(v))</text>\n"
        }
        for (name, t, c) in points {
            s += "<circle cx=\"\(x(t))\" cy=\"\(y(c))\" r=\"5\" fill=\"#1f77b4\"/><text x=\"\(x(t) + 8)\" y=\"\(y(c) - 6)\">\(escape(name)) (\(CostCommand.duration(t)), $\(String(format: "%.3f", c)))</text>\n"
        }
        return s + "</svg>\n"
    }

    static func escape(_ s: String) -> String { SVGPlot.escape(s) }
}
