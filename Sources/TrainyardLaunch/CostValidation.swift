import Foundation
import TrainyardCore
import TrainyardPlatform

/// `trainyard cost validate`: runs several clusters here, with bandwidth emulation on, and sets the
/// throughput the model predicts for each against the throughput measured.
public enum CostValidation {
    public struct Config: Sendable {
        public var name: String
        public var plan: ClusterPlan
        public var training: TrainSettings
    }

    public struct Row: Sendable {
        public var config: Config
        public var predicted: CostModel.Prediction
        public var measured: Double?
        public var error: Double? { measured.map { (predicted.stepsPerSecond - $0) / $0 } }
        public var status: String
    }

    public static func configs(_ catalog: TierCatalog) throws -> [Config] {
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

    /// The outcome of a validation: each configuration predicted and measured.
    public struct Report: Sendable {
        public var profile: CalibrationProfile
        public var rows: [Row]
        public var medianAbsError: Double?
        public var maxAbsError: Double?
        public static let medianTarget = 0.15, maxTarget = 0.30
        /// Every configuration measured and both targets met.
        public var met: Bool {
            medianAbsError.map { $0 <= Report.medianTarget } == true && maxAbsError.map { $0 <= Report.maxTarget } == true
                && rows.allSatisfy { $0.measured != nil }
        }
    }

    /// Runs every configuration here and sets the prediction against the measurement.
    /// `progress` hears a line as each configuration starts and ends.
    public static func run(catalog: TierCatalog, quick: Bool, progress: (String) -> Void) throws -> Report {
        let profile = try Calibration.loadOrMeasure(note: progress)
        let root = NSTemporaryDirectory() + "trainyard-validate-\(UInt32.random(in: 0...UInt32.max))"
        defer { Files.remove(root) }
        var rows: [Row] = []
        let seconds = quick ? 1.5 : 3.0
        for (n, config) in try configs(catalog).enumerated() {
            let architecture = MLPArchitecture(inputs: config.training.features, hidden: config.training.hidden, classes: config.training.classes)
            let predicted = CostModel.predict(CostEstimator.inputs(plan: config.plan, training: config.training, architecture: architecture,
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
            progress("running \(config.name) (\(config.plan.topology), \(training.maxSteps) steps)… ")
            let summary = try Launcher(settings: settings, plan: config.plan, options: options).run()
            let measured = summary.outcome.status == .succeeded ? steadyRate(MetricsLog(jobDirectory: root + "/\(n)").records(), maxSteps: training.maxSteps) : nil
            let row = Row(config: config, predicted: predicted, measured: measured, status: summary.outcome.status.rawValue)
            progress(measured.map { String(format: "%.0f steps/s (predicted %.0f)\n", $0, predicted.stepsPerSecond) } ?? "\(row.status)\n")
            rows.append(row)
        }
        let errors = rows.compactMap(\.error).map(abs).sorted()
        let median = errors.isEmpty ? nil : (errors.count % 2 == 1 ? errors[errors.count / 2] : (errors[errors.count / 2 - 1] + errors[errors.count / 2]) / 2)
        return Report(profile: profile, rows: rows, medianAbsError: median, maxAbsError: errors.last)
    }

    /// Global steps per second over the middle of the run: from the first record at or past 15% of
    /// the steps to the last one, so start-up and the final drain do not count.
    public static func steadyRate(_ records: [JSONValue], maxSteps: Int) -> Double? {
        let points = records.filter { $0["kind"] == "train" }
            .compactMap { r -> (Double, Int)? in
                guard let t = r["time"]?.doubleValue, let s = r["step"]?.intValue else { return nil }
                return (t, s)
            }.sorted { $0.0 < $1.0 }
        guard let first = points.first(where: { $0.1 >= maxSteps * 15 / 100 }), let last = points.last, last.0 - first.0 > 0.05 else { return nil }
        return Double(last.1 - first.1) / (last.0 - first.0)
    }
}
