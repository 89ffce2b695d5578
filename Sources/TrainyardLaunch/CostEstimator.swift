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

/// A scatter plot of time against cost, one point per tier.
public enum CostChart {
    public static func svg(_ rows: [CostEstimator.Estimate], title: String) -> String {
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
            s += "<circle cx=\"\(x(t))\" cy=\"\(y(c))\" r=\"5\" fill=\"#1f77b4\"/><text x=\"\(x(t) + 8)\" y=\"\(y(c) - 6)\">\(escape(name)) (\(CostEstimator.duration(t)), $\(String(format: "%.3f", c)))</text>\n"
        }
        return s + "</svg>\n"
    }

    public static func escape(_ s: String) -> String { SVGPlot.escape(s) }
}
