import Foundation
import TrainyardCore
import TrainyardPlatform

/// `trainyard cost validate`: runs several clusters here, with bandwidth emulation on, and sets the
/// throughput the model predicts for each against the throughput measured.
enum CostValidation {
    struct Config {
        var name: String
        var plan: ClusterPlan
        var training: TrainSettings
    }

    struct Row {
        var config: Config
        var predicted: CostModel.Prediction
        var measured: Double?
        var error: Double? { measured.map { (predicted.stepsPerSecond - $0) / $0 } }
        var status: String
    }

    static func configs(_ catalog: TierCatalog) throws -> [Config] {
        var base = TrainSettings()
        base.features = 64
        base.hidden = [256, 256]
        base.classes = 10
        base.examples = 20_000
        base.batchSize = 32
        base.logEvery = 10
        func custom(_ workers: Int, _ ps: Int, type: String = "n1-standard-4") throws -> ClusterPlan {
            var f = CustomClusterFlags()
            f.masterMachineType = type
            if workers > 0 { f.workerCount = workers; f.workerMachineType = type }
            f.parameterServerCount = ps
            f.parameterServerMachineType = type
            return try f.plan(in: catalog)
        }
        var sync = base
        sync.sync = true
        var small = base
        small.features = 32
        small.hidden = [64, 32]
        small.batchSize = 64
        var standard = try catalog.plan(for: catalog.tier(named: "STANDARD_1")!)
        standard.tierName = "STANDARD_1"
        return [
            Config(name: "1 worker, 1 ps", plan: try custom(1, 1), training: base),
            Config(name: "2 workers, 1 ps", plan: try custom(2, 1), training: base),
            Config(name: "4 workers, 1 ps", plan: try custom(4, 1), training: base),
            Config(name: "2 workers, 2 ps", plan: try custom(2, 2), training: base),
            Config(name: "4 workers, 2 ps", plan: try custom(4, 2), training: base),
            Config(name: "4 workers, 4 ps", plan: try custom(4, 4), training: base),
            Config(name: "STANDARD_1", plan: standard, training: base),
            Config(name: "2 workers, 2 ps, small model", plan: try custom(2, 2), training: small),
            Config(name: "2 workers, 2 ps, sync", plan: try custom(2, 2), training: sync),
        ]
    }

    static func run(catalog: TierCatalog, json: Bool, quick: Bool) throws -> ExitCode {
        let profile = try CalibrateCommand.loadOrMeasure(progress: !json)
        let root = NSTemporaryDirectory() + "trainyard-validate-\(UInt32.random(in: 0...UInt32.max))"
        defer { Files.remove(root) }
        var rows: [Row] = []
        let seconds = quick ? 1.5 : 3.0
        for (n, config) in try configs(catalog).enumerated() {
            let architecture = MLPArchitecture(inputs: config.training.features, hidden: config.training.hidden, classes: config.training.classes)
            let predicted = CostModel.predict(CostCommand.inputs(plan: config.plan, training: config.training, architecture: architecture,
                                                                 profile: profile, local: true, scale: nil))
            var training = config.training
            training.maxSteps = min(50_000, max(300, Int(predicted.stepsPerSecond * seconds)))
            training.checkpointEvery = training.maxSteps + 1
            training.evalEvery = training.maxSteps + 1
            var settings = LaunchSettings()
            settings.topology = config.plan.topology
            settings.training = training
            settings.jobDirectory = root + "/\(n)"
            settings.restartPolicy = .never
            var options = Launcher.Options()
            options.showProgress = false
            if !json { Posix.write("running \(config.name) (\(config.plan.topology), \(training.maxSteps) steps)… ", to: 2) }
            let summary = try Launcher(settings: settings, plan: config.plan, options: options).run()
            let measured = summary.outcome.status == .succeeded ? steadyRate(MetricsLog(jobDirectory: root + "/\(n)").records(), maxSteps: training.maxSteps) : nil
            let row = Row(config: config, predicted: predicted, measured: measured, status: summary.outcome.status.rawValue)
            if !json { Posix.write(measured.map { String(format: "%.0f steps/s (predicted %.0f)\n", $0, predicted.stepsPerSecond) } ?? "\(row.status)\n", to: 2) }
            rows.append(row)
        }
        let errors = rows.compactMap(\.error).map(abs).sorted()
        let median = errors.isEmpty ? nil : (errors.count % 2 == 1 ? errors[errors.count / 2] : (errors[errors.count / 2 - 1] + errors[errors.count / 2]) / 2)
        let worst = errors.last
        let met = median.map { $0 <= 0.15 } == true && worst.map { $0 <= 0.30 } == true && errors.count == rows.count
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
            print(TiersCommand.table(t))
            print(String(format: "median |error| %.1f%%, largest %.1f%% — targets (≤ 15%%, none above 30%%) %@", (median ?? .nan) * 100, (worst ?? .nan) * 100, met ? "met" : "NOT met"))
        }
        return rows.allSatisfy { $0.measured != nil } ? .success : .failure
    }

    /// Global steps per second over the middle of the run: from the first record at or past 15% of
    /// the steps to the last one, so start-up and the final drain do not count.
    static func steadyRate(_ records: [JSONValue], maxSteps: Int) -> Double? {
        let points = records.filter { $0["kind"] == "train" }
            .compactMap { r -> (Double, Int)? in
                guard let t = r["time"]?.doubleValue, let s = r["step"]?.intValue else { return nil }
                return (t, s)
            }.sorted { $0.0 < $1.0 }
        guard let first = points.first(where: { $0.1 >= maxSteps * 15 / 100 }), let last = points.last, last.0 - first.0 > 0.05 else { return nil }
        return Double(last.1 - first.1) / (last.0 - first.0)
    }
}
