import Foundation
import TrainyardCore
import TrainyardPlatform

/// Predicted time and price of a job on a tier: the cost model's inputs from a calibration profile
/// and a cluster plan, and the bill (Docs/cost-model.md).
public enum CostEstimator {
    public struct Job {
        public var training: TrainSettings
        public var architecture: MLPArchitecture
        /// Global steps to run.
        public var steps: Int
        public init(training: TrainSettings, architecture: MLPArchitecture, steps: Int) {
            self.training = training
            self.architecture = architecture
            self.steps = steps
        }
    }

    public struct Estimate {
        public var plan: ClusterPlan
        public var prediction: CostModel.Prediction
        public var seconds: Double
        public var bill: CostModel.Bill?
        public var notes: [String]
    }

    /// The model's inputs for `plan`: in the cloud (each task its own machine), or here (every task
    /// on this machine's cores, links emulated at the machine types' bandwidth × the scale factor).
    public static func inputs(plan: ClusterPlan, training: TrainSettings, architecture: MLPArchitecture, profile: CalibrationProfile,
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

    public static func estimate(plan: ClusterPlan, job: Job, profile: CalibrationProfile, catalog: TierCatalog, local: Bool, scale: Double?) -> Estimate {
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

    public static func duration(_ s: Double) -> String {
        if s < 120 { return String(format: "%.1f s", s) }
        if s < 7200 { return String(format: "%.1f min", s / 60) }
        return String(format: "%.1f h", s / 3600)
    }

}

extension TrainSettings {
    /// Examples one global step consumes: one batch, or K batches in synchronous training.
    public func batch(perStepWith trainers: Int) -> Int {
        sync ? batchSize * (replicasToAggregate ?? trainers) : batchSize
    }
}

/// A scatter plot of predicted time against predicted cost, one point (and legend row) per tier.
public enum CostChart {
    public static func svg(_ rows: [CostEstimator.Estimate], title: String) -> String {
        let points = rows.compactMap { e in e.bill.map { (e.plan.tierName, e.seconds, $0.dollars) } }
        let series = points.map { name, t, c in
            SVGPlot.Series("\(name): \(CostEstimator.duration(t)), $\(String(format: "%.3f", c))", [(t, c)], style: .markers)
        }
        let unpriced = rows.count - points.count
        return SVGPlot.svg(SVGPlot.Chart(
            title: title,
            subtitle: "predicted by the cost model from this machine's calibration, one point per tier" + (unpriced > 0 ? " (\(unpriced) without a price left out)" : ""),
            x: .init("predicted time to finish (seconds, log scale)", scale: .log),
            y: .init("predicted cost (US dollars, log scale)", scale: .log),
            series: series,
            emptyMessage: rows.isEmpty ? "no tiers to compare" : "no tier has a price in the catalog: nothing to plot",
            width: 820, height: 440))
    }

    public static func escape(_ s: String) -> String { SVGPlot.escape(s) }
}
