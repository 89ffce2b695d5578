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

    /// What `--explain`'s sensitivity table and the tests move: each factor multiplies an input.
    public struct Perturbation: Sendable, Equatable {
        /// Per-vCPU speed of a machine family (cloud) or of this machine's cores (here), × factor.
        public var familySpeed: [String: Double] = [:]
        public var bandwidth = 1.0
        public var parameterServerDelta = 0
        public var batch = 1.0
        public init() {}
    }

    /// The model's inputs for `plan`: in the cloud (each task its own machine), or here (every task
    /// on this machine's cores, links emulated at the machine types' bandwidth × the scale factor;
    /// `emulate: false` leaves the links unlimited).
    public static func inputs(plan: ClusterPlan, training: TrainSettings, architecture: MLPArchitecture, profile: CalibrationProfile,
                              local: Bool, scale: Double?, emulate: Bool = true, perturbation: Perturbation = Perturbation()) -> CostModel.Inputs {
        let trainerType = plan.processWorkers > 0 ? (plan.worker ?? plan.master) : plan.master
        let batch = max(1, Int((Double(training.batchSize) * perturbation.batch).rounded()))
        let trainerSpeed = perturbation.familySpeed[trainerType.family] ?? 1
        let psSpeed = plan.parameterServer.flatMap { perturbation.familySpeed[$0.family] } ?? 1
        let sharding = plan.parameterServerCount > 0 ? Double(architecture.parameterCount) * profile.clusterShardSecondsPerValue : 0
        let oneCore = profile.trainerStepSeconds(architecture, batch: batch) + sharding
        let factor = local ? (scale ?? Catalog.defaultBandwidthScale(plan, localCores: profile.cores)) : 1
        let bw = perturbation.bandwidth
        let ps = max(plan.parameterServerCount == 0 ? 0 : 1, plan.parameterServerCount + perturbation.parameterServerDelta)
        var inputs = CostModel.Inputs(
            architecture: architecture, batch: batch, trainers: plan.processWorkers + 1, parameterServers: ps,
            sync: training.sync, replicasToAggregate: training.replicasToAggregate,
            computeSeconds: local ? oneCore / trainerSpeed : CostModel.cloudComputeSeconds(localOneCore: oneCore, vcpus: trainerType.vcpus, speed: trainerSpeed),
            rpcSeconds: local ? profile.rpcSeconds : CostModel.cloudRPCSeconds,
            rpcCPUSeconds: local ? profile.requestCPUSeconds(processes: plan.processWorkers + 1 + ps, servers: ps) : profile.rpcCPUSeconds, byteCPUSeconds: profile.byteSeconds(modelBytes: 4 * Double(architecture.parameterCount)), updateSecondsPerValue: profile.updateSecondsPerValue,
            sharedCores: local ? profile.cores : nil,
            trainerBandwidth: local && !emulate ? nil : (trainerType.networkGbps > 0 ? trainerType.bytesPerSecond * factor * bw : nil),
            psBandwidth: local && !emulate ? nil : plan.parameterServer.map { $0.bytesPerSecond * factor * bw },
            largestShardFraction: nil, psSpeed: local || plan.parameterServerCount == 0 ? trainerSpeed : psSpeed)
        // Here the cores slow each other down; in the cloud each task computes on its own machine.
        inputs.concurrentSlowdown = local ? profile.concurrentComputeSlowdown : 0
        return inputs
    }

    public static func estimate(plan: ClusterPlan, job: Job, profile: CalibrationProfile, catalog: TierCatalog, local: Bool, scale: Double?,
                                perturbation: Perturbation = Perturbation()) -> Estimate {
        let i = inputs(plan: plan, training: job.training, architecture: job.architecture, profile: profile, local: local, scale: scale, perturbation: perturbation)
        return estimate(plan: plan, inputs: i, steps: stepsAfter(perturbation, steps: job.steps), catalog: catalog, local: local, parameterServerDelta: perturbation.parameterServerDelta)
    }

    /// The steps a job of the same examples takes when its batch moves by `perturbation.batch`.
    static func stepsAfter(_ perturbation: Perturbation, steps: Int) -> Int {
        perturbation.batch == 1 ? steps : max(1, Int((Double(steps) / perturbation.batch).rounded(.up)))
    }

    /// The estimate from the model's inputs (for Trainyard's trainer, or a measured program's).
    public static func estimate(plan: ClusterPlan, inputs i: CostModel.Inputs, steps: Int, catalog: TierCatalog, local: Bool, parameterServerDelta: Int = 0) -> Estimate {
        let p = CostModel.predict(i)
        let seconds = Double(steps) / p.stepsPerSecond
        var notes: [String] = []
        var bill: CostModel.Bill?
        var units = plan.mlUnitsPerHour
        if let u = units, parameterServerDelta != 0, let ps = plan.parameterServer {
            units = ps.mlUnitsPerHour.map { u + Double(i.parameterServers - plan.parameterServerCount) * $0 }
        }
        if let units {
            let perUnit = plan.master.priceList.flatMap { catalog.priceLists[$0]?.dollarsPerUnit } ?? 0.49
            bill = CostModel.bill(seconds: seconds, mlUnitsPerHour: units, dollarsPerUnit: perUnit,
                                  granularityMinutes: catalog.billingGranularityMinutes, minimumMinutes: catalog.billingMinimumMinutes)
        } else {
            notes.append("no price: a machine type of this cluster has no price in the catalog")
        }
        if plan.machines.contains(where: { !$0.0.accelerators.isEmpty }) {
            notes.append("accelerators are not modelled: the prediction assumes the CPU kernel")
        }
        if !local {
            notes.append("guesses (Docs/cost-model.md): cloud compute uses \(Int(CostModel.cloudEfficiency * 100))% of a task's physical cores (vCPUs ÷ 2), each as fast as this machine's; a \(Int(CostModel.cloudRPCSeconds * 1e6)) µs request round trip")
        }
        return Estimate(plan: plan, prediction: p, seconds: seconds, bill: bill, notes: notes)
    }

    /// One row of the sensitivity table: the answer with one input 20% lower and 20% higher.
    public struct Sensitivity: Sendable {
        public var input: String
        public var low: String
        public var high: String
        public var secondsLow: Double
        public var secondsHigh: Double
        public var dollarsLow: Double?
        public var dollarsHigh: Double?
    }

    /// How far time and cost move when each input moves ±20%: the per-vCPU speed of each machine
    /// family in the cluster, the links' Gbps, the ps count (±20%, at least ±1) and the batch (the
    /// job's examples kept: steps move the other way).
    public static func sensitivity(plan: ClusterPlan, job: Job, profile: CalibrationProfile, catalog: TierCatalog, local: Bool, scale: Double?) -> [Sensitivity] {
        sensitivityRows(plan: plan, batchSize: job.training.batchSize, local: local, baseSeconds: nil) { p in
            estimate(plan: plan, job: job, profile: profile, catalog: catalog, local: local, scale: scale, perturbation: p)
        }
    }

    /// The table's rows, from `run` (an estimate with one input moved).
    public static func sensitivityRows(plan: ClusterPlan, batchSize: Int, local: Bool, baseSeconds: Double?, run: (Perturbation) -> Estimate) -> [Sensitivity] {
        var rows: [Sensitivity] = []
        func add(_ name: String, _ low: String, _ high: String, _ a: Perturbation, _ b: Perturbation) {
            let x = run(a), y = run(b)
            rows.append(Sensitivity(input: name, low: low, high: high, secondsLow: x.seconds, secondsHigh: y.seconds, dollarsLow: x.bill?.dollars, dollarsHigh: y.bill?.dollars))
        }
        var families: [String] = []
        for (m, _) in plan.machines where m.vcpus > 0 && !families.contains(m.family) { families.append(m.family) }
        for family in families {
            var a = Perturbation(), b = Perturbation()
            a.familySpeed[family] = 0.8
            b.familySpeed[family] = 1.2
            add(local ? "CPU speed (this machine)" : "per-vCPU speed, \(family)", "−20%", "+20%", a, b)
            if local { break }
        }
        var a = Perturbation(), b = Perturbation()
        a.bandwidth = 0.8
        b.bandwidth = 1.2
        add("network Gbps (every link)", "−20%", "+20%", a, b)
        if plan.parameterServerCount > 0 {
            let d = max(1, Int((Double(plan.parameterServerCount) * 0.2).rounded()))
            var a = Perturbation(), b = Perturbation()
            a.parameterServerDelta = -min(d, plan.parameterServerCount - 1)
            b.parameterServerDelta = d
            if a.parameterServerDelta != 0 {
                add("ps count", "\(plan.parameterServerCount + a.parameterServerDelta)", "\(plan.parameterServerCount + d)", a, b)
            } else {
                add("ps count", "\(plan.parameterServerCount)", "\(plan.parameterServerCount + d)", Perturbation(), b)
            }
        }
        a = Perturbation()
        b = Perturbation()
        a.batch = 0.8
        b.batch = 1.2
        add("batch size (same examples)", "\(max(1, Int((Double(batchSize) * 0.8).rounded())))", "\(max(1, Int((Double(batchSize) * 1.2).rounded())))", a, b)
        return rows
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

/// `trainyard cost --from-job NAME`: a user's program (`--command` / `--module-name`) costed from
/// its own short run here (Docs/cost-model.md, "Your own program").
public enum ProgramCost {
    /// The job's measured profile: its metric lines (with their log times) and its resource samples.
    public static func profile(job name: String) throws -> (ProgramProfile, JobRecord) {
        let record = try JobStore.load(name)
        let folder = JobStore.logFolder(name)
        var reports: [(Double, Int)] = []
        for file in Files.list(folder) where file.hasSuffix(".log") {
            let text = String(decoding: Files.readFrom(folder + "/" + file, offset: 0).0, as: UTF8.self)
            for line in text.split(separator: "\n") {
                let (t, rest) = LogStamp.split(line)
                if let t, let r = TrialMetrics.fromLogLine(rest), let step = r.step { reports.append((t, step)) }
            }
        }
        // The launcher samples a submitted job's tasks into the job's own folder.
        let samples = ((try? Files.readText(JobStore.folder(name) + "/resources.jsonl")) ?? (try? Files.readText(record.jobDirectory + "/resources.jsonl")) ?? "").split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        do {
            return (try ProgramProfile.measure(reports: reports, samples: samples), record)
        } catch {
            throw UsageError("cannot cost job \(name) from its run: \(error)")
        }
    }

    /// The model's inputs for `plan` from a measured program: its compute per step scaled to the
    /// plan's machines as Trainyard's own (cloud) or kept (here), its bytes through the links.
    public static func inputs(_ m: ProgramProfile, plan: ClusterPlan, training: TrainSettings, cores: Int, local: Bool, scale: Double?,
                              bytesPerStep: Double?, perturbation: CostEstimator.Perturbation = CostEstimator.Perturbation()) -> CostModel.Inputs {
        let trainerType = plan.processWorkers > 0 ? (plan.worker ?? plan.master) : plan.master
        let trainerSpeed = perturbation.familySpeed[trainerType.family] ?? 1
        let psSpeed = plan.parameterServer.flatMap { perturbation.familySpeed[$0.family] } ?? 1
        let k = training.sync ? Double(training.replicasToAggregate ?? max(1, m.trainers)) : 1
        let oneCore = m.trainerCPUSeconds / k * perturbation.batch
        let factor = local ? (scale ?? Catalog.defaultBandwidthScale(plan, localCores: cores)) : 1
        let bw = perturbation.bandwidth
        let ps = max(plan.parameterServerCount == 0 ? 0 : 1, plan.parameterServerCount + perturbation.parameterServerDelta)
        let batch = max(1, Int((Double(training.batchSize) * perturbation.batch).rounded()))
        let compute: Double = local ? oneCore / trainerSpeed : CostModel.cloudComputeSeconds(localOneCore: oneCore, vcpus: trainerType.vcpus, speed: trainerSpeed)
        let trainerBandwidth: Double? = trainerType.networkGbps > 0 ? trainerType.bytesPerSecond * factor * bw : nil
        let psBandwidth: Double? = plan.parameterServer.map { $0.bytesPerSecond * factor * bw }
        let rpc: Double = local ? 0 : CostModel.cloudRPCSeconds
        var i = m.inputs(trainers: plan.processWorkers + 1, parameterServers: ps, batch: batch, sync: training.sync, computeSeconds: compute,
                         psSpeed: local ? trainerSpeed : psSpeed, rpcSeconds: rpc, sharedCores: local ? cores : nil,
                         trainerBandwidth: trainerBandwidth, psBandwidth: psBandwidth, bytesOverride: bytesPerStep)
        i.replicasToAggregate = training.replicasToAggregate
        i.waitSeconds = m.waitSeconds
        return i
    }

    /// `m` with the time a training task's step waited on something else than CPU and links:
    /// the measured step time less the model's for the cluster it ran on here (0 when the model
    /// explains it all).
    public static func withWait(_ m: ProgramProfile, ranOn plan: ClusterPlan?, training: TrainSettings, cores: Int) -> ProgramProfile {
        var m = m
        m.waitSeconds = 0
        let here: CostModel.Inputs
        if let plan {
            here = inputs(m, plan: plan, training: training, cores: cores, local: true, scale: nil, bytesPerStep: nil)
        } else {
            here = m.inputs(trainers: max(1, m.trainers), parameterServers: m.parameterServers, batch: training.batchSize, sync: training.sync,
                            computeSeconds: m.trainerCPUSeconds, psSpeed: 1, rpcSeconds: 0, sharedCores: cores, trainerBandwidth: nil, psBandwidth: nil,
                            bytesOverride: nil)
        }
        let modelled = CostModel.predict(here)
        let w = Double(max(1, m.trainers))
        m.waitSeconds = max(0, w / m.stepsPerSecond - w / modelled.stepsPerSecond)
        return m
    }

    public static func estimate(_ m: ProgramProfile, plan: ClusterPlan, training: TrainSettings, steps: Int, cores: Int, catalog: TierCatalog, local: Bool,
                                scale: Double?, bytesPerStep: Double?, perturbation: CostEstimator.Perturbation = CostEstimator.Perturbation()) -> CostEstimator.Estimate {
        let i = inputs(m, plan: plan, training: training, cores: cores, local: local, scale: scale, bytesPerStep: bytesPerStep, perturbation: perturbation)
        var e = CostEstimator.estimate(plan: plan, inputs: i, steps: CostEstimator.stepsAfter(perturbation, steps: steps), catalog: catalog, local: local,
                                       parameterServerDelta: perturbation.parameterServerDelta)
        e.notes.append(String(format: "measured here: %.1f steps/s, %.3f ms of training-task CPU and %.3f ms of ps CPU per step, %@ written per step by the training tasks (an upper bound on what they sent)",
                              m.stepsPerSecond, m.trainerCPUSeconds * 1000, m.psCPUSeconds * 1000,
                              bytesPerStep.map { "\(Int($0)) bytes (given)" } ?? m.trainerBytes.map { "\(Int($0)) bytes" } ?? "unknown bytes"))
        if m.waitSeconds > 0 {
            e.notes.append(String(format: "a training task waited %.3f ms per step here on neither CPU nor links (sleeps, disk, a data service…): assumed the same on every tier", m.waitSeconds * 1000))
        }
        if m.trainerBytes == nil && bytesPerStep == nil { e.notes.append("no byte counters: the links are left out; give --bytes-per-step B") }
        return e
    }

    public static func sensitivity(_ m: ProgramProfile, plan: ClusterPlan, training: TrainSettings, steps: Int, cores: Int, catalog: TierCatalog, local: Bool,
                                   scale: Double?, bytesPerStep: Double?) -> [CostEstimator.Sensitivity] {
        CostEstimator.sensitivityRows(plan: plan, batchSize: training.batchSize, local: local, baseSeconds: nil) { p in
            estimate(m, plan: plan, training: training, steps: steps, cores: cores, catalog: catalog, local: local, scale: scale, bytesPerStep: bytesPerStep, perturbation: p)
        }
    }
}
