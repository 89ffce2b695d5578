/// The performance and cost model (Docs/cost-model.md): throughput of a parameter-server job from
/// its cluster, its model and the measured machine.
///
/// Per global step (asynchronous training) one training task pushes its gradients to every shard
/// (M bytes through its own link, one request per ps) and each ps answers with its shard after the
/// update (the busiest ps sends f·M through its link); then the task computes. W tasks circulate
/// through the resources they share — the busiest ps's link, and here the machine's C cores — so
/// the job is a closed queueing network, solved exactly by mean value analysis; what a task has to
/// itself (its link, and in the cloud its CPU and the network latency) is a delay.
/// Synchronous training: a step waits for the aggregate and then every task's answer leaves the ps,
/// so T_sync = (c + message CPU)·max(1, W/C) + M/B_w + W·f·M/B_ps (+ α in the cloud), and a step
/// consumes K batches.
public enum CostModel {
    /// Forward and backward FLOPs of one step: 6 multiply-adds-worth per weight per example.
    public static func trainingFLOPs(_ a: MLPArchitecture, batch: Int) -> Double {
        6 * Double(a.forwardMACsPerExample) * Double(batch)
    }

    public enum Bottleneck: String, Sendable {
        case compute
        case cpu = "shared CPU"
        case psCPU = "ps CPU"
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
        let w = max(1, i.trainers)
        let alone = i.parameterServers == 0
        // Per step, a training task sends its gradients (M bytes, through its own link) and each ps
        // answers with its shard after the update (f·M through the busiest ps's link): one request
        // per ps.
        let pushTime = alone ? 0 : m / (i.trainerBandwidth ?? .infinity)
        let pullTime = alone ? 0 : i.largestShardFraction * m / (i.psBandwidth ?? .infinity)
        let messageCPU = alone ? 0 : s * i.rpcCPUSeconds + 2 * m * i.byteCPUSeconds
        let updateCPU = Double(i.architecture.parameterCount) * i.updateSecondsPerValue

        if i.sync {
            let k = Double(i.replicasToAggregate ?? i.trainers)
            let contention = i.sharedCores.map { max(1, Double(w) / Double($0)) } ?? 1
            let compute = (i.computeSeconds + messageCPU) * contention
            let pullAll = alone ? 0 : Double(w) * pullTime
            let rpcTime = alone || i.sharedCores != nil ? 0 : i.rpcSeconds
            let step = compute + pushTime + pullAll + rpcTime + updateCPU
            let bounds: [(Bottleneck, Double)] = [(.compute, 1 / (compute + updateCPU)), (.psNetwork, pullAll > 0 ? 1 / pullAll : .infinity),
                                                  (.workerNetwork, pushTime > 0 ? 1 / pushTime : .infinity), (.latency, rpcTime > 0 ? 1 / rpcTime : .infinity)]
            let x = 1 / step
            return Prediction(stepsPerSecond: x, examplesPerSecond: x * k * Double(i.batch), stepSeconds: step,
                              bottleneck: bounds.min { $0.1 < $1.1 }!.0, bounds: bounds)
        }

        // Asynchronous: W training tasks circulate through the resources they share — a closed
        // queueing network, solved by mean value analysis. What each task has to itself (its own
        // link; in the cloud also its own CPU and the network's latency) is a delay.
        struct Station {
            var name: Bottleneck
            var demand: Double
            var servers: Int
        }
        var stations: [Station] = []
        var delays: [(Bottleneck, Double)] = [(.workerNetwork, pushTime)]
        if let cores = i.sharedCores {
            // Here every process shares the cores: compute, requests, bytes and updates are CPU work.
            stations.append(Station(name: .cpu, demand: i.computeSeconds + messageCPU + updateCPU, servers: cores))
        } else {
            delays.append((.compute, i.computeSeconds))
            if !alone {
                delays.append((.latency, i.rpcSeconds))
                // Each ps's own CPU: its share of the updates and of the message handling.
                stations.append(Station(name: .psCPU, demand: (updateCPU + messageCPU) / s, servers: 1))
            }
        }
        if pullTime > 0 { stations.append(Station(name: .psNetwork, demand: pullTime, servers: 1)) }
        let think = delays.map(\.1).reduce(0, +)
        var queues = [Double](repeating: 0, count: stations.count)
        var x = 0.0
        for n in 1...w {
            var residence = [Double](repeating: 0, count: stations.count)
            for (k, st) in stations.enumerated() {
                // A c-server station: a one-server queue of demand D/c plus a delay of D·(c−1)/c (Seidmann).
                let c = Double(st.servers)
                residence[k] = st.demand / c * (1 + queues[k]) + st.demand * (c - 1) / c
            }
            x = Double(n) / (think + residence.reduce(0, +))
            for (k, st) in stations.enumerated() { queues[k] = x * st.demand / Double(st.servers) * (1 + queues[k]) }
        }
        // The asymptotic bound of each resource, for the report.
        var bounds: [(Bottleneck, Double)] = stations.map { ($0.name, Double($0.servers) / $0.demand) }
        bounds.append((.compute, Double(w) / max(1e-12, think + stations.map(\.demand).reduce(0, +))))
        // The bottleneck: the busiest shared resource if it is nearly saturated, else what a task waits on most.
        let utilizations = stations.map { (st: Station) in (st.name, x * st.demand / Double(st.servers)) }
        var name = utilizations.max { $0.1 < $1.1 }.map { $0.1 >= 0.8 ? $0.0 : nil } ?? nil
        if name == nil {
            name = (delays + stations.map { ($0.name, $0.demand) }).max { $0.1 < $1.1 }!.0
        }
        return Prediction(stepsPerSecond: x, examplesPerSecond: x * Double(i.batch), stepSeconds: 1 / x, bottleneck: name!, bounds: bounds)
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
