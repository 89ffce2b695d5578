/// The performance and cost model (Docs/cost-model.md): throughput of a parameter-server job from
/// its cluster, model and the measured machine, by the asymptotic bounds of each resource it uses.
///
/// Per global step (asynchronous training), one training task pulls every shard (S requests,
/// M bytes back), computes, and pushes every shard (S requests, M bytes). So:
/// - **compute/latency**: each of W training tasks cycles in T = c + 2·(α + M/B_w) + … seconds, so
///   X ≤ W / T;
/// - **ps network**: the ps holding the largest share f of the model sends f·M per step: X ≤ B_ps / (f·M);
/// - **worker network**: X ≤ W · B_w / M;
/// - **shared CPU** (local runs: every process on the same C cores): X ≤ C / (CPU seconds per step).
/// Synchronous training: a step waits for the aggregate and then every task pulls, so
/// T_sync = c·max(1, W/C) + M/B_w + W·f·M/B_ps + 2α, and a step consumes K batches.
public enum CostModel {
    /// Forward and backward FLOPs of one step: 6 multiply-adds-worth per weight per example.
    public static func trainingFLOPs(_ a: MLPArchitecture, batch: Int) -> Double {
        6 * Double(a.forwardMACsPerExample) * Double(batch)
    }

    public enum Bottleneck: String, Sendable {
        case compute
        case cpu = "shared CPU"
        case workerNetwork = "worker network"
        case psNetwork = "ps network"
        case latency = "request latency"
    }

    /// Everything the model needs about one job.
    public struct Inputs: Sendable, Equatable {
        public var architecture: MLPArchitecture
        public var batch: Int
        /// Training tasks (chief + workers).
        public var trainers: Int
        public var parameterServers: Int
        public var sync: Bool
        public var replicasToAggregate: Int?
        /// Compute seconds per step on a training task.
        public var computeSeconds: Double
        /// Request round-trip time.
        public var rpcSeconds: Double
        /// CPU seconds per request (both ends), and per byte moved (both ends); nil = machines do not share CPUs.
        public var rpcCPUSeconds: Double
        public var byteCPUSeconds: Double
        public var updateSecondsPerValue: Double
        /// Cores every process shares (a local run); nil when each task has its own machine.
        public var sharedCores: Int?
        /// Egress of a training task and of a ps, bytes per second (nil = unlimited).
        public var trainerBandwidth: Double?
        public var psBandwidth: Double?
        /// The largest ps share of the model (from the partition).
        public var largestShardFraction: Double

        public init(architecture: MLPArchitecture, batch: Int, trainers: Int, parameterServers: Int, sync: Bool = false, replicasToAggregate: Int? = nil,
                    computeSeconds: Double, rpcSeconds: Double, rpcCPUSeconds: Double, byteCPUSeconds: Double, updateSecondsPerValue: Double,
                    sharedCores: Int?, trainerBandwidth: Double?, psBandwidth: Double?, largestShardFraction: Double? = nil) {
            self.architecture = architecture
            self.batch = batch
            self.trainers = trainers
            self.parameterServers = parameterServers
            self.sync = sync
            self.replicasToAggregate = replicasToAggregate
            self.computeSeconds = computeSeconds
            self.rpcSeconds = rpcSeconds
            self.rpcCPUSeconds = rpcCPUSeconds
            self.byteCPUSeconds = byteCPUSeconds
            self.updateSecondsPerValue = updateSecondsPerValue
            self.sharedCores = sharedCores
            self.trainerBandwidth = trainerBandwidth
            self.psBandwidth = psBandwidth
            if let f = largestShardFraction {
                self.largestShardFraction = f
            } else if parameterServers > 0 {
                let p = Partition(variables: architecture.variables, shardCount: parameterServers)
                self.largestShardFraction = Double((0..<parameterServers).map { p.elements(inShard: $0) }.max() ?? 0) / Double(max(1, p.totalElements))
            } else {
                self.largestShardFraction = 0
            }
        }

        /// Model bytes moved per pull (and per push).
        public var modelBytes: Double { 4 * Double(architecture.parameterCount) }
    }

    public struct Prediction: Sendable, Equatable {
        /// Global steps per second.
        public var stepsPerSecond: Double
        public var examplesPerSecond: Double
        /// Seconds per global step.
        public var stepSeconds: Double
        public var bottleneck: Bottleneck
        /// Every bound, steps per second, by resource.
        public var bounds: [(Bottleneck, Double)]

        public static func == (a: Prediction, b: Prediction) -> Bool {
            a.stepsPerSecond == b.stepsPerSecond && a.bottleneck == b.bottleneck
        }
    }

    public static func predict(_ i: Inputs) -> Prediction {
        let m = i.modelBytes
        let s = Double(i.parameterServers)
        let w = Double(max(1, i.trainers))
        let local = i.parameterServers == 0
        // Transfer time of a task's own pushes, and of its pull answers through the ps links.
        let pushTime = local ? 0 : m / (i.trainerBandwidth ?? .infinity)
        let pullTime = local ? 0 : i.largestShardFraction * m / (i.psBandwidth ?? .infinity)
        let rpcTime = local ? 0 : 2 * i.rpcSeconds
        let messageCPU = local ? 0 : 2 * s * i.rpcCPUSeconds + 2 * m * i.byteCPUSeconds
        let updateCPU = Double(i.architecture.parameterCount) * i.updateSecondsPerValue
        var bounds: [(Bottleneck, Double)] = []

        if i.sync {
            let k = Double(i.replicasToAggregate ?? i.trainers)
            // Every task computes at once; on shared cores they take turns.
            let contention = i.sharedCores.map { max(1, w / Double($0)) } ?? 1
            let compute = (i.computeSeconds + messageCPU) * contention
            let pullAll = local ? 0 : w * i.largestShardFraction * m / (i.psBandwidth ?? .infinity)
            let step = compute + pushTime + pullAll + rpcTime + updateCPU
            bounds = [(.compute, 1 / (compute + updateCPU)), (.psNetwork, pullAll > 0 ? 1 / pullAll : .infinity),
                      (.workerNetwork, pushTime > 0 ? 1 / pushTime : .infinity), (.latency, rpcTime > 0 ? 1 / rpcTime : .infinity)]
            let x = 1 / step
            let bottleneck = bounds.min { $0.1 < $1.1 }!.0
            return Prediction(stepsPerSecond: x, examplesPerSecond: x * k * Double(i.batch), stepSeconds: step, bottleneck: bottleneck, bounds: bounds)
        }

        let cycle = i.computeSeconds + rpcTime + pushTime + pullTime
        bounds.append((.compute, w / cycle))
        if !local {
            if let b = i.psBandwidth { bounds.append((.psNetwork, b / (i.largestShardFraction * m))) }
            if let b = i.trainerBandwidth { bounds.append((.workerNetwork, w * b / m)) }
        }
        if let cores = i.sharedCores {
            let cpu = i.computeSeconds + messageCPU + updateCPU
            bounds.append((.cpu, Double(cores) / cpu))
        }
        let (bottleneck, x) = bounds.min { $0.1 < $1.1 }!
        // When the tasks' own cycle binds, name the largest part of it.
        var name = bottleneck
        if bottleneck == .compute {
            name = [(Bottleneck.compute, i.computeSeconds), (.latency, rpcTime), (.workerNetwork, pushTime), (.psNetwork, pullTime)]
                .max { $0.1 < $1.1 }!.0
        }
        return Prediction(stepsPerSecond: x, examplesPerSecond: x * Double(i.batch), stepSeconds: 1 / x, bottleneck: name, bounds: bounds)
    }

    /// What a job costs: `hours` of the cluster at `mlUnitsPerHour`, billed per `granularity`
    /// minutes with a `minimum`.
    public struct Bill: Sendable, Equatable {
        public var billedMinutes: Double
        public var mlUnits: Double
        public var dollars: Double
    }

    public static func bill(seconds: Double, mlUnitsPerHour: Double, dollarsPerUnit: Double, granularityMinutes: Double = 1, minimumMinutes: Double = 10) -> Bill {
        let minutes = seconds / 60
        let billed = max(minimumMinutes, (minutes / granularityMinutes).rounded(.up) * granularityMinutes)
        let units = mlUnitsPerHour * billed / 60
        return Bill(billedMinutes: billed, mlUnits: units, dollars: units * dollarsPerUnit)
    }

    /// Cloud compute: Trainyard's kernel runs one thread per task; a cloud task on `vcpus` vCPUs
    /// (half of them physical cores) is assumed to use its cores at `efficiency` — an assumption,
    /// stated in Docs/cost-model.md, since no cloud run validates it.
    public static func cloudComputeSeconds(localOneCore: Double, vcpus: Int, efficiency: Double = 0.7) -> Double {
        let cores = max(1, Double(vcpus) / 2)
        return localOneCore / max(1, cores * efficiency)
    }

    /// The request round trip assumed between cloud VMs in one zone (an assumption: not measured here).
    public static let cloudRPCSeconds = 200e-6
}
