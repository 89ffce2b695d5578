import Foundation
import TrainyardCore
import TrainyardKernel
import TrainyardPlatform

/// `trainyard cost validate`: runs clusters here, one per regime the model claims (compute,
/// ps CPU, wire, emulated links, synchronous with and without backup workers, more processes than
/// cores, small and large models), and sets the throughput the model predicts for each against the
/// throughput measured. Calibration runs in the same command, interleaved with the rounds, and the
/// background load is measured right before each run, so a change of load hits both sides.
public enum CostValidation {
    /// The regime a configuration is meant to exercise.
    public enum Regime: String, Sendable, CaseIterable {
        case compute
        case psCPU = "ps CPU"
        case wire
        case links
        case sync
        case syncBackup = "sync + backup"
        case oversubscribed

        /// The bottlenecks that agree with the regime (oversubscribed and sync runs may be bound by anything).
        public var expected: [CostModel.Bottleneck]? {
            switch self {
            case .compute: return [.compute]
            case .psCPU: return [.psCPU]
            case .wire: return [.wire]
            case .links: return [.workerNetwork, .psNetwork]
            case .sync, .syncBackup, .oversubscribed: return nil
            }
        }
    }

    public struct Config: Sendable {
        public var name: String
        public var regime: Regime
        public var plan: ClusterPlan
        public var training: TrainSettings
        /// Links limited to the machine types' bandwidth × `scale` (nil: the default factor), or unlimited.
        public var emulate: Bool
        public var scale: Double?
        /// A scale tier run as it is (for the tier ranking).
        public var tier: String?
    }

    public struct Row: Sendable {
        public var config: Config
        public var predicted: CostModel.Prediction
        /// The prediction for a quiet machine (no background load), to show what the load did.
        public var predictedQuiet: Double
        public var measured: Double?
        /// Other programs' runnable processes measured just before the run.
        public var backgroundLoad: Double
        public var status: String
        /// Every run's measured rate (the rounds), of which `measured` is the median.
        public var measuredRuns: [Double] = []
        public var error: Double? { measured.map { (predicted.stepsPerSecond - $0) / $0 } }
        /// How far its runs spread (`CostValidation.spread`); nil unless every run succeeded.
        public var spread: Double? { measured == nil ? nil : CostValidation.spread(measuredRuns) }
        /// Whether the model's bottleneck is one the regime expects (nil: the regime names none).
        public var regimeAgrees: Bool? { config.regime.expected.map { $0.contains(predicted.bottleneck) } }
    }

    /// How far runs spread: (largest − smallest) ÷ their median; nil with fewer than two runs. A
    /// configuration whose runs spread wider than the largest error allowed is measured no better
    /// than that by its median, whatever the model.
    public static func spread(_ runs: [Double]) -> Double? {
        guard runs.count > 1, let middle = median(runs), middle > 0, let low = runs.min(), let high = runs.max() else { return nil }
        return (high - low) / middle
    }

    /// A model of 64-256-256-10 with batch 32, and the variations of the set.
    public static func baseTraining() -> TrainSettings {
        var base = TrainSettings()
        base.features = 64
        base.hidden = [256, 256]
        base.classes = 10
        base.examples = 20_000
        base.batchSize = 32
        base.logEvery = 10
        return base
    }

    public static func configs(_ catalog: TierCatalog, small: Bool = false) throws -> [Config] {
        let base = baseTraining()
        func custom(_ workers: Int, _ ps: Int, type: String = "n1-standard-4") throws -> ClusterPlan {
            var f = CustomClusterFlags()
            f.masterMachineType = type
            if workers > 0 { f.workerCount = workers; f.workerMachineType = type }
            if ps > 0 {
                f.parameterServerCount = ps
                f.parameterServerMachineType = type
            }
            return try f.plan(in: catalog)
        }
        func tier(_ name: String) throws -> ClusterPlan {
            guard let t = catalog.tier(named: name) else { throw UsageError("cost validate needs the tier \(name) in the catalog (ScaleTiers/)") }
            var p = try catalog.plan(for: t)
            p.tierName = name
            return p
        }
        var compute = base
        compute.batchSize = 256
        var tiny = base
        tiny.features = 16
        tiny.hidden = [16]
        tiny.batchSize = 4
        var large = base
        large.features = 784
        large.hidden = [1024, 512]
        large.batchSize = 8
        var largeCompute = base
        largeCompute.features = 256
        largeCompute.hidden = [512, 256]
        largeCompute.batchSize = 128
        var smallModel = base
        smallModel.features = 32
        smallModel.hidden = [64, 32]
        smallModel.batchSize = 64
        var sync = base
        sync.sync = true
        var backup = sync
        backup.replicasToAggregate = 2
        // Links of about 30 MB/s (n1-standard-4's 8 Gbps × 0.03): a 336 kB push takes 11 ms.
        let slowLinks = 0.03
        if small {
            return [
                Config(name: "compute, 1 trainer", regime: .compute, plan: try custom(0, 1), training: tiny, emulate: false, scale: nil, tier: nil),
                Config(name: "links, 1 worker", regime: .links, plan: try custom(1, 1), training: tiny, emulate: true, scale: 0.0005, tier: nil),
            ]
        }
        return [
            Config(name: "compute, 1 trainer alone", regime: .compute, plan: try tier("BASIC"), training: compute, emulate: false, scale: nil, tier: "BASIC"),
            Config(name: "compute, 2 trainers", regime: .compute, plan: try custom(1, 1), training: compute, emulate: false, scale: nil, tier: nil),
            Config(name: "compute, 4 trainers", regime: .compute, plan: try custom(3, 1), training: compute, emulate: false, scale: nil, tier: nil),
            Config(name: "compute, large model", regime: .compute, plan: try custom(1, 1), training: largeCompute, emulate: false, scale: nil, tier: nil),
            Config(name: "ps CPU, 4 trainers, tiny batch", regime: .psCPU, plan: try custom(3, 1), training: tiny, emulate: false, scale: nil, tier: nil),
            Config(name: "ps CPU, 2 trainers, tiny batch", regime: .psCPU, plan: try custom(1, 1), training: tiny, emulate: false, scale: nil, tier: nil),
            Config(name: "wire, large model, 1 ps", regime: .wire, plan: try custom(1, 1), training: large, emulate: false, scale: nil, tier: nil),
            Config(name: "wire, large model, 2 ps", regime: .wire, plan: try custom(1, 2), training: large, emulate: false, scale: nil, tier: nil),
            Config(name: "links, 1 worker, 1 ps", regime: .links, plan: try custom(1, 1), training: base, emulate: true, scale: slowLinks, tier: nil),
            Config(name: "links, 4 workers, 2 ps", regime: .links, plan: try custom(3, 2), training: base, emulate: true, scale: slowLinks, tier: nil),
            Config(name: "small model, 2 workers, 2 ps", regime: .compute, plan: try custom(1, 2), training: smallModel, emulate: false, scale: nil, tier: nil),
            Config(name: "sync, 2 trainers", regime: .sync, plan: try custom(1, 1), training: sync, emulate: false, scale: nil, tier: nil),
            Config(name: "sync, 3 trainers, 2 to aggregate", regime: .syncBackup, plan: try custom(2, 1), training: backup, emulate: false, scale: nil, tier: nil),
            Config(name: "STANDARD_1 (8 processes)", regime: .oversubscribed, plan: try tier("STANDARD_1"), training: base, emulate: true, scale: nil, tier: "STANDARD_1"),
            Config(name: "STANDARD_1, links off", regime: .oversubscribed, plan: try tier("STANDARD_1"), training: base, emulate: false, scale: nil, tier: nil),
            Config(name: "PREMIUM_1 (31 processes)", regime: .oversubscribed, plan: try tier("PREMIUM_1"), training: base, emulate: true, scale: nil, tier: "PREMIUM_1"),
        ]
    }

    /// One pair of tiers: whether the model orders them as measured, by time and by cost.
    public struct TierPair: Sendable {
        public var a: String
        public var b: String
        public var timeAgrees: Bool
        public var costAgrees: Bool
    }

    /// The outcome of a validation: each configuration predicted and measured.
    public struct Report: Sendable {
        /// Every calibration, in order: before the first round and after each (one, before, with
        /// `--quick` or `--tiny`).
        public var calibrations: [CalibrationProfile]
        /// Seconds each run was sized to last (from the prediction of the calibration before it).
        public var runSeconds: Double = CostValidation.defaultRunSeconds
        /// The first calibration, before the first round.
        public var profile: CalibrationProfile { calibrations[0] }
        /// The last calibration, after the last round (nil with `--quick` or `--tiny`): its drift
        /// from the first is the load's change over the whole validation.
        public var profileAfter: CalibrationProfile? { calibrations.count > 1 ? calibrations.last : nil }
        public var rows: [Row]
        public var medianAbsError: Double?
        public var maxAbsError: Double?
        /// Configurations ordered by throughput: pairs ordered alike, pairs, Spearman's ρ.
        public var rankingAgree: Int
        public var rankingPairs: Int
        public var spearman: Double?
        public var tierPairs: [TierPair]
        public static let medianTarget = 0.05, maxTarget = 0.12
        /// The configurations whose runs spread wider than `maxTarget`: on this machine, their
        /// error is within the run-to-run noise (said beside the verdict, which is not changed).
        public var spreadBeyondMaxTarget: [Row] { rows.filter { Report.spreadsBeyondMaxTarget(measured: $0.measured, runs: $0.measuredRuns) } }
        /// Whether a configuration measured (every run succeeded) ran wider than `maxTarget`.
        public static func spreadsBeyondMaxTarget(measured: Double?, runs: [Double]) -> Bool {
            measured != nil && (CostValidation.spread(runs) ?? 0) > maxTarget
        }
        /// Every configuration measured, both error targets met, and every tier pair ordered right.
        public var met: Bool {
            medianAbsError.map { $0 <= Report.medianTarget } == true && maxAbsError.map { $0 <= Report.maxTarget } == true
                && rows.allSatisfy { $0.measured != nil } && tierPairs.allSatisfy { $0.timeAgrees && $0.costAgrees }
        }
        /// How much faster the last calibration found one step of the standard model (784-256-128-10,
        /// batch 128) on one core than the first did.
        public var computeDrift: Double? {
            let steps = standardStepSeconds
            return steps.count > 1 ? steps[0] / steps[steps.count - 1] - 1 : nil
        }
        /// Each calibration's one-core step of the standard model, seconds (how the machine moved).
        public var standardStepSeconds: [Double] { calibrations.map { $0.stepSeconds(Report.standard, batch: 128) } }
        static let standard = MLPArchitecture(inputs: 784, hidden: [256, 128], classes: 10)
    }

    /// Other programs' processes that want a CPU now (`Calibration.measureBackgroundLoad`).
    public static func backgroundLoad(cores: Int) -> Double {
        Calibration.measureBackgroundLoad(cores: cores)
    }

    /// Runs every configuration here and sets the prediction against the measurement.
    /// `rounds` times through the whole set, interleaved, so a change of load hits every
    /// configuration alike; each configuration's measured rate is the median of its runs (the
    /// spread is kept: a cluster sharing two cores runs ±10–25% from one run to the next), and
    /// its prediction the median of its runs' predictions (the upper middle one for an even
    /// count). Calibration is interleaved with the rounds: once before the first and again after
    /// each, and a run is predicted from the mean of the calibrations just before and just after
    /// its round (with `quick` or `small`: one calibration, before), with the load measured just
    /// before it. `progress` hears a line as each calibration and each configuration starts and ends.
    public static func run(catalog: TierCatalog, quick: Bool, small: Bool = false, rounds: Int = 3, runSeconds: Double? = nil,
                           progress: (String) -> Void) throws -> Report {
        let interleaved = !quick && !small
        let rounds = max(1, rounds)
        progress(interleaved ? "calibrating (1 of \(rounds + 1): before the first round)…\n" : "calibrating (before the runs)…\n")
        var calibrations = [try Calibration.measure(quick: !interleaved, note: { _ in })]
        let root = NSTemporaryDirectory() + "trainyard-validate-\(UInt32.random(in: 0...UInt32.max))"
        defer { Files.remove(root) }
        let seconds = runSeconds ?? (interleaved ? defaultRunSeconds : 1.0)
        let list = try configs(catalog, small: small)
        // Each run: its round, the load read just before it, what it measured.
        var runs = [[(round: Int, load: Double, measured: Double?, status: String)]](repeating: [], count: list.count)
        func inputs(_ config: Config, _ profile: CalibrationProfile) -> CostModel.Inputs {
            let architecture = MLPArchitecture(inputs: config.training.features, hidden: config.training.hidden, classes: config.training.classes)
            return CostEstimator.inputs(plan: config.plan, training: config.training, architecture: architecture, profile: profile,
                                        local: true, scale: config.scale, emulate: config.emulate)
        }
        for round in 1...rounds {
            // The calibration made last is the one before this round (the only one, not interleaved).
            let before = calibrations[calibrations.count - 1]
            for (n, config) in list.enumerated() {
                let load = backgroundLoad(cores: before.cores)
                var guess = inputs(config, before)
                guess.backgroundLoad = load
                // The run's length from the calibration before it (its prediction waits for the one after).
                let expected = CostModel.predict(guess).stepsPerSecond
                var training = config.training
                training.maxSteps = runSteps(expectedStepsPerSecond: expected, seconds: seconds, minimum: small ? 40 : 100)
                training.logEvery = max(training.logEvery, training.maxSteps / 2000)
                training.checkpointEvery = training.maxSteps + 1
                training.evalEvery = training.maxSteps + 1
                var settings = LaunchSettings()
                settings.topology = config.plan.topology
                settings.training = training
                let folder = root + "/\(round)-\(n)"
                settings.jobDirectory = folder
                settings.restartPolicy = .never
                settings.emulateBandwidth = config.emulate
                settings.bandwidthScale = config.scale
                var options = Launcher.Options()
                options.showProgress = false
                let label = rounds > 1 ? "round \(round)/\(rounds): " : ""
                progress("\(label)running \(config.name) (\(config.plan.topology), \(training.maxSteps) steps, background load \(String(format: "%.1f", load)))… ")
                let summary = try Launcher(settings: settings, plan: config.plan, options: options).run()
                try Signals.checkInterrupted(summary.outcome, "cost validate")
                let measured = summary.outcome.status == .succeeded ? steadyRate(MetricsLog(jobDirectory: folder).records(), maxSteps: training.maxSteps) : nil
                Files.remove(folder)
                runs[n].append((round, load, measured, summary.outcome.status.rawValue))
                progress(measured.map { String(format: "%.0f steps/s (the calibration before it predicts %.0f)\n", $0, expected) } ?? "\(summary.outcome.status.rawValue)\n")
            }
            if interleaved {
                progress("calibrating (\(round + 1) of \(rounds + 1): after round \(round))…\n")
                calibrations.append(try Calibration.measure(quick: false, note: { _ in }))
            }
        }
        // Ctrl-C after the last run (the last calibration's timings run no job): stop all the same.
        try Signals.checkInterrupted("cost validate")
        var rows: [Row] = []
        for (n, config) in list.enumerated() {
            // Each run predicted from the calibrations around its round, with its load.
            let r = runs[n].map { run -> (predicted: CostModel.Prediction, quiet: Double, measured: Double?, load: Double, status: String) in
                let around = Array(calibrations[predictingCalibrations(round: run.round, count: calibrations.count)])
                var i = inputs(config, CalibrationProfile.mean(around)!)
                let quiet = CostModel.predict(i).stepsPerSecond
                i.backgroundLoad = run.load
                return (CostModel.predict(i), quiet, run.measured, run.load, run.status)
            }
            // The run whose prediction is the median (the upper middle one for an even count)
            // stands for the configuration's model side.
            let middle = r.sorted { $0.predicted.stepsPerSecond < $1.predicted.stepsPerSecond }[r.count / 2]
            let measuredRuns = r.compactMap(\.measured)
            // A configuration counts as measured only when every one of its runs succeeded.
            let measured = measuredRuns.count == r.count ? median(measuredRuns) : nil
            var row = Row(config: config, predicted: middle.predicted, predictedQuiet: middle.quiet, measured: measured, backgroundLoad: median(r.map(\.load)) ?? 0,
                          status: r.first { $0.measured == nil }?.status ?? "SUCCEEDED")
            row.measuredRuns = measuredRuns
            rows.append(row)
        }
        let errors = rows.compactMap(\.error).map(abs).sorted()
        let measuredRows = rows.filter { $0.measured != nil }
        let ranking = Ranking.pairwise(predicted: measuredRows.map(\.predicted.stepsPerSecond), measured: measuredRows.map { $0.measured! })
        let rho = Ranking.spearman(measuredRows.map(\.predicted.stepsPerSecond), measuredRows.map { $0.measured! })
        var report = Report(calibrations: calibrations, rows: rows, medianAbsError: median(errors), maxAbsError: errors.last,
                            rankingAgree: ranking.agree, rankingPairs: ranking.pairs, spearman: rho, tierPairs: tierPairs(rows))
        report.runSeconds = seconds
        return report
    }

    /// Seconds each run lasts by default (interleaved). Runs of 5 s spread from round to round as
    /// much as runs of 2.5 s did on the 2-vCPU VM (its swings last longer than a run:
    /// Docs/cost-model.md), so the shorter run stays the default.
    public static let defaultRunSeconds = 2.5
    /// The most steps a run of `seconds` takes: 600,000 for the default 2.5 s, proportionally more
    /// for longer runs, so that every configuration here (the fastest run 50,000–70,000 steps/s)
    /// lasts its time. It bounds steps, not time: a prediction far above the truth still makes a
    /// run longer than asked (about 10 s instead of 2.5 for one 4× too high at 60,000 steps/s).
    public static func maxRunSteps(seconds: Double) -> Int { max(600_000, Int(240_000 * seconds)) }

    /// Steps for a run of about `seconds` at the rate the calibration before it predicts: at least
    /// `minimum` (a steady window to measure), at most `maxRunSteps(seconds:)`.
    static func runSteps(expectedStepsPerSecond expected: Double, seconds: Double, minimum: Int) -> Int {
        guard expected.isFinite, expected > 0 else { return minimum }
        return min(maxRunSteps(seconds: seconds), max(minimum, Int(expected * seconds)))
    }

    /// Which of `count` calibrations predict the runs of round `round` (1-based): the one before
    /// the round and the one after it when there is one (interleaved: `count` = rounds + 1),
    /// otherwise the single calibration made before the first round.
    static func predictingCalibrations(round: Int, count: Int) -> ClosedRange<Int> {
        count > 1 ? min(round - 1, count - 1)...min(round, count - 1) : 0...0
    }

    /// The median of `values` (the mean of the middle two for an even count); nil when empty.
    public static func median(_ values: [Double]) -> Double? {
        let v = values.sorted()
        guard !v.isEmpty else { return nil }
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }

    /// Every pair of tiers run as they are: the same steps on each, so time ∝ 1/throughput and
    /// cost ∝ ML units per hour / throughput (pro rata: a run this short would bill every tier's
    /// 10-minute minimum).
    public static func tierPairs(_ rows: [Row]) -> [TierPair] {
        let tiers = rows.filter { $0.config.tier != nil && $0.measured != nil }
        var pairs: [TierPair] = []
        for (k, a) in tiers.enumerated() {
            for b in tiers[(k + 1)...] {
                let ua = a.config.plan.mlUnitsPerHour ?? 0, ub = b.config.plan.mlUnitsPerHour ?? 0
                let time = Ranking.pairwise(predicted: [1 / a.predicted.stepsPerSecond, 1 / b.predicted.stepsPerSecond], measured: [1 / a.measured!, 1 / b.measured!])
                let cost = Ranking.pairwise(predicted: [ua / a.predicted.stepsPerSecond, ub / b.predicted.stepsPerSecond], measured: [ua / a.measured!, ub / b.measured!])
                pairs.append(TierPair(a: a.config.tier!, b: b.config.tier!, timeAgrees: time.agree == time.pairs, costAgrees: cost.agree == cost.pairs))
            }
        }
        return pairs
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
