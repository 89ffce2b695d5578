/// The performance and cost model (Docs/cost-model.md): throughput of a parameter-server job from
/// its cluster, its model and the measured machine.
///
/// Per global step (asynchronous training) one training task pushes its gradients to every shard
/// (M bytes through its own link, one request per ps) and each ps answers with its shard after the
/// update (the busiest ps sends f·M through its link); then the task computes. W tasks circulate
/// through the resources they share — the busiest ps's link and its serialized update, and here the
/// machine's C cores — so the job is a closed queueing network, solved by mean value analysis; what
/// a task has to itself (its link, and in the cloud its CPU and the network latency) is a delay.
/// Synchronous training: every task computes, the K-th push of a step releases the barrier, the
/// ps applies the average and answers all W; a step consumes K batches.
public enum CostModel {
    /// Forward and backward FLOPs of one step: 6 multiply-adds-worth per weight per example.
    public static func trainingFLOPs(_ a: MLPArchitecture, batch: Int) -> Double {
        6 * Double(a.forwardMACsPerExample) * Double(batch)
    }

    /// What the training kernel does in one step, as the compute model counts it (Docs/cost-model.md).
    public struct StepWork: Sendable, Equatable {
        /// Multiply-adds the step needs: forward, weight gradients, and input gradients for every
        /// layer but the first (its input needs none).
        public var macs: Double
        /// Multiply-adds the kernel runs: each GEMM computes whole micro-tiles, so an output of
        /// m × n costs ⌈m/rows⌉·rows × ⌈n/columns⌉·columns × k (a 10-class layer pays for 32
        /// columns with a 32-wide tile), except that a last tile of at most `edgeRows` rows runs
        /// only those (the AVX-512 build's 8-row kernel).
        public var tiledMACs: Double
        /// Values each GEMM reads, packs and writes (m·k + k·n + m·n, summed): the part of the step
        /// that moves memory rather than multiplies.
        public var touchedValues: Double
        /// Weights of the layers whose weight matrix is larger than a core's cache (`cacheBytes`):
        /// every pass over them (forward, both gradients, the update) streams from memory.
        public var spilledWeights: Double
    }

    /// The GEMMs of one step of `MLPTrainer` on `batch` rows with a kernel whose micro-tile is
    /// `tile`, on a core with `cacheBytes` of level-2 cache.
    public static func stepWork(_ a: MLPArchitecture, batch: Int, tile: (rows: Int, columns: Int, edgeRows: Int), cacheBytes: Int) -> StepWork {
        func up(_ x: Int, _ to: Int) -> Double { Double((x + to - 1) / max(1, to) * max(1, to)) }
        func rows(_ m: Int) -> Double {
            let r = max(1, tile.rows), left = m % r
            return Double(m / r * r + (left == 0 ? 0 : left <= tile.edgeRows ? tile.edgeRows : r))
        }
        var work = StepWork(macs: 0, tiledMACs: 0, touchedValues: 0, spilledWeights: 0)
        func gemm(_ m: Int, _ n: Int, _ k: Int) {
            work.macs += Double(m) * Double(n) * Double(k)
            work.tiledMACs += rows(m) * up(n, tile.columns) * Double(k)
            work.touchedValues += Double(m * k + k * n + m * n)
        }
        let w = a.widths
        for l in 0..<a.layerCount {
            gemm(batch, w[l + 1], w[l])                  // forward: X · W
            gemm(w[l], w[l + 1], batch)                  // weight gradient: Xᵀ · dY
            if l > 0 { gemm(batch, w[l], w[l + 1]) }     // input gradient: dY · Wᵀ
            if 4 * w[l] * w[l + 1] > cacheBytes { work.spilledWeights += Double(w[l] * w[l + 1]) }
        }
        return work
    }

    /// The resources a job can be bound by; each has a bound (steps/s it allows) in a prediction.
    public enum Bottleneck: String, Sendable, CaseIterable {
        /// The training tasks' own computation (forward, backward, the step's bookkeeping).
        case compute
        /// Here: every process shares this machine's cores (the sum of the parts below).
        case cpu = "shared CPU"
        /// The parameter servers' work: requests and the optimizer update (here: the requests of
        /// both ends, which the ps count multiplies).
        case psCPU = "ps CPU"
        /// Moving the bytes: encoding, copying through the kernel, decoding (CPU per byte).
        case wire
        /// A training task's own outgoing link (emulated here, the NIC in the cloud).
        case workerNetwork = "worker link"
        /// The busiest ps's outgoing link: it answers every push with its shard.
        case psNetwork = "ps link"
        /// The request round trip between machines (the cloud only).
        case latency = "request latency"
        /// Synchronous training: the K-th push releases the step, and the ps answers all W.
        case syncBarrier = "sync barrier"
    }

    /// Everything the model needs about one job.
    public struct Inputs: Sendable, Equatable {
        /// Parameters the ps hold (P); the update touches each once per step.
        public var parameterCount: Int
        /// Bytes one push carries (and one full answer): M = 4P for Trainyard's trainer.
        public var modelBytes: Double
        public var batch: Int
        /// Training tasks (chief + workers).
        public var trainers: Int
        public var parameterServers: Int
        public var sync: Bool
        public var replicasToAggregate: Int?
        /// Compute seconds per step on a training task (its kernel and its per-step bookkeeping).
        public var computeSeconds: Double
        /// Request round-trip time.
        public var rpcSeconds: Double
        /// CPU seconds per request (both ends), and per byte moved (both ends).
        public var rpcCPUSeconds: Double
        public var byteCPUSeconds: Double
        public var updateSecondsPerValue: Double
        /// A measured program's ps CPU seconds per global step (over all ps), replacing the request,
        /// byte and update terms on the ps side (`cost --from-job`); nil for Trainyard's trainer.
        public var psCPUSecondsPerStep: Double?
        /// How much faster a ps's CPU is than the calibrated core (its CPU work is divided by it).
        public var psSpeed: Double
        /// Cores every process shares (a local run); nil when each task has its own machine.
        public var sharedCores: Int?
        /// Here: processes of other programs that want a core all the time (`cost validate`
        /// measures it before each run); each of the job's processes gets its share of the cores.
        public var backgroundLoad: Double = 0
        /// Here: how much more CPU a training step's compute takes on a core while every core
        /// computes one than on a core alone (δ, `CalibrationProfile.concurrentComputeSlowdown`):
        /// with k of the job's steps computing at once (k ≤ C), the compute is stretched by
        /// 1 + δ·(k − 1)/(C − 1). Other programs do not count: what they run is not known to load
        /// the caches and memory as a training step does. 0 in the cloud.
        public var concurrentSlowdown: Double = 0
        /// Seconds per step a training task waits on something the model does not see (a measured
        /// program's sleeps, disk, a data service): a delay, the same everywhere.
        public var waitSeconds: Double = 0
        /// Egress of a training task and of a ps, bytes per second (nil = unlimited).
        public var trainerBandwidth: Double?
        public var psBandwidth: Double?
        /// The largest ps share of the model (from the partition).
        public var largestShardFraction: Double

        public init(architecture: MLPArchitecture, batch: Int, trainers: Int, parameterServers: Int, sync: Bool = false, replicasToAggregate: Int? = nil,
                    computeSeconds: Double, rpcSeconds: Double, rpcCPUSeconds: Double, byteCPUSeconds: Double, updateSecondsPerValue: Double,
                    sharedCores: Int?, trainerBandwidth: Double?, psBandwidth: Double?, largestShardFraction: Double? = nil, psSpeed: Double = 1) {
            self.init(parameterCount: architecture.parameterCount, modelBytes: 4 * Double(architecture.parameterCount), batch: batch, trainers: trainers,
                      parameterServers: parameterServers, sync: sync, replicasToAggregate: replicasToAggregate, computeSeconds: computeSeconds,
                      rpcSeconds: rpcSeconds, rpcCPUSeconds: rpcCPUSeconds, byteCPUSeconds: byteCPUSeconds, updateSecondsPerValue: updateSecondsPerValue,
                      sharedCores: sharedCores, trainerBandwidth: trainerBandwidth, psBandwidth: psBandwidth,
                      largestShardFraction: largestShardFraction ?? Inputs.largestShare(architecture, parameterServers), psSpeed: psSpeed)
        }

        public init(parameterCount: Int, modelBytes: Double, batch: Int, trainers: Int, parameterServers: Int, sync: Bool = false, replicasToAggregate: Int? = nil,
                    computeSeconds: Double, rpcSeconds: Double, rpcCPUSeconds: Double, byteCPUSeconds: Double, updateSecondsPerValue: Double,
                    psCPUSecondsPerStep: Double? = nil, sharedCores: Int?, trainerBandwidth: Double?, psBandwidth: Double?,
                    largestShardFraction: Double, psSpeed: Double = 1) {
            self.parameterCount = parameterCount
            self.modelBytes = modelBytes
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
            self.psCPUSecondsPerStep = psCPUSecondsPerStep
            self.psSpeed = psSpeed
            self.sharedCores = sharedCores
            self.trainerBandwidth = trainerBandwidth
            self.psBandwidth = psBandwidth
            self.largestShardFraction = parameterServers > 0 ? largestShardFraction : 0
        }

        /// The largest share of the model one of `shards` ps holds, as the cluster partitions it.
        public static func largestShare(_ architecture: MLPArchitecture, _ shards: Int) -> Double {
            guard shards > 0 else { return 0 }
            let p = Partition(variables: architecture.variables, shardCount: shards)
            return Double((0..<shards).map { p.elements(inShard: $0) }.max() ?? 0) / Double(max(1, p.totalElements))
        }
    }

    public struct Prediction: Sendable, Equatable {
        /// Global steps per second.
        public var stepsPerSecond: Double
        public var examplesPerSecond: Double
        /// Seconds per global step.
        public var stepSeconds: Double
        /// The bound that binds (for the shared CPU here: the largest part of its work).
        public var bottleneck: Bottleneck
        /// Every bound, steps per second, by resource, tightest first; each resource once.
        public var bounds: [(Bottleneck, Double)]
        /// Seconds per step of each part of a step's work (for `--explain`).
        public var parts: [(String, Double)]

        /// The tightest bound other than the bottleneck (and other than the shared CPU, which is
        /// the sum of parts): what binds next if the bottleneck is relieved.
        public var next: (Bottleneck, Double)? { CostModel.next(after: bottleneck, in: bounds) }

        public func bound(_ b: Bottleneck) -> Double? { bounds.first { $0.0 == b }?.1 }

        public static func == (a: Prediction, b: Prediction) -> Bool {
            a.stepsPerSecond == b.stepsPerSecond && a.bottleneck == b.bottleneck
        }
    }

    /// The next distinct bound after `bottleneck`: the tightest finite one that is neither it nor
    /// the shared CPU.
    public static func next(after bottleneck: Bottleneck, in bounds: [(Bottleneck, Double)]) -> (Bottleneck, Double)? {
        bounds.filter { $0.0 != bottleneck && $0.0 != .cpu && $0.1.isFinite }.min { $0.1 < $1.1 }
    }

    /// The bottleneck from the bounds: the tightest; when that is the shared CPU, the part of the
    /// CPU's work that is largest (compute, ps CPU or wire).
    public static func bottleneck(of bounds: [(Bottleneck, Double)]) -> Bottleneck {
        guard let tightest = bounds.filter({ $0.1.isFinite }).min(by: { $0.1 < $1.1 }) else { return .compute }
        guard tightest.0 == .cpu else { return tightest.0 }
        return bounds.filter { [.compute, .psCPU, .wire].contains($0.0) }.min { $0.1 < $1.1 }?.0 ?? .cpu
    }

    public static func predict(_ i: Inputs) -> Prediction {
        let m = i.modelBytes
        let s = Double(i.parameterServers)
        let w = max(1, i.trainers)
        let alone = i.parameterServers == 0
        let f = i.largestShardFraction
        // Per step, a training task sends its gradients (M bytes, through its own link) and each ps
        // answers with its shard after the update (f·M through the busiest ps's link): one request
        // per ps.
        let local = i.sharedCores != nil
        let cores = Double(i.sharedCores ?? 1)
        // Here, other programs' runnable processes take their share of the cores: each of the job's
        // W busy processes gets min(1, C/(W+L)) of a core instead of min(1, C/W).
        let slow = local && i.backgroundLoad > 0 ? min(1, cores / Double(w)) / min(1, cores / (Double(w) + i.backgroundLoad)) : 1
        let pushTime = alone ? 0 : m / (i.trainerBandwidth ?? .infinity)
        let pullTime = alone ? 0 : f * m / (i.psBandwidth ?? .infinity)
        let requestCPU = alone ? 0 : s * i.rpcCPUSeconds * slow
        let wireCPU = alone ? 0 : 2 * m * i.byteCPUSeconds * slow
        let updateCPU = alone ? 0 : Double(i.parameterCount) * i.updateSecondsPerValue * slow
        // The ps side of a step (all ps together), and the trainer's side of the messages.
        let psStep: Double
        let trainerMessages: Double
        if let measured = i.psCPUSecondsPerStep {
            psStep = alone ? 0 : measured * slow / i.psSpeed
            trainerMessages = 0
        } else {
            psStep = (updateCPU + (requestCPU + wireCPU) / 2) / i.psSpeed
            trainerMessages = (requestCPU + wireCPU) / 2
        }
        let psBusiest = alone ? 0 : (i.psCPUSecondsPerStep != nil ? psStep / s : f * psStep)
        // The ps's update runs under its state's lock: one step at a time per ps.
        let psSerial = alone ? 0 : (i.psCPUSecondsPerStep != nil ? psBusiest : f * updateCPU / i.psSpeed)
        let rpc = alone ? 0 : i.rpcSeconds
        // A task alone (no ps) applies the optimizer update itself each step (its profile's `push`
        // bucket): the update is part of its compute, at its own CPU's speed (psSpeed, alone).
        let c = (i.computeSeconds + (alone ? Double(i.parameterCount) * i.updateSecondsPerValue / i.psSpeed : 0)) * slow
        // Here, a core computes slower while the other cores compute too (they share the caches
        // and memory): with W tasks, min(C, W) compute at once at most. The bounds and the
        // synchronous step take that many; the queueing network takes it step by step.
        let delta = local && cores > 1 ? max(0, i.concurrentSlowdown) : 0
        let cBusy = c * (1 + delta * max(0, min(cores, Double(w)) - 1) / max(1, cores - 1))

        func rate(_ d: Double, _ n: Double = 1) -> Double { d > 0 ? n / d : .infinity }
        var bounds: [(Bottleneck, Double)] = []
        let cpuTotal = c + trainerMessages + psStep
        var parts: [(String, Double)] = [("compute (training task)", cBusy)]
        if !alone {
            parts += [("requests (CPU, both ends)", requestCPU), ("bytes on the wire (CPU, both ends)", wireCPU),
                      ("ps update (CPU)", updateCPU), ("push through the worker link", pushTime), ("answer through the busiest ps link", pullTime)]
            if !local { parts.append(("request round trip", rpc)) }
        }
        if i.waitSeconds > 0 { parts.append(("waiting on what the model does not see (measured)", i.waitSeconds)) }
        if local {
            bounds.append((.cpu, rate(cpuTotal + cBusy - c, cores)))
            bounds.append((.compute, rate(cBusy, min(Double(w), cores))))
            if !alone {
                let psPart = i.psCPUSecondsPerStep != nil ? psStep : requestCPU + updateCPU
                bounds.append((.psCPU, min(rate(psPart, cores), rate(psSerial))))
                bounds.append((.wire, rate(wireCPU, cores)))
            }
        } else {
            bounds.append((.compute, rate(c + trainerMessages, Double(w))))
            if !alone {
                bounds.append((.psCPU, rate(psBusiest)))
                bounds.append((.wire, rate(f * wireCPU / 2 / i.psSpeed)))
                bounds.append((.latency, rate(rpc, Double(w))))
            }
        }
        if !alone {
            bounds.append((.workerNetwork, rate(pushTime, Double(w))))
            bounds.append((.psNetwork, rate(pullTime)))
        }

        if i.sync && !alone {
            let k = Double(i.replicasToAggregate ?? i.trainers)
            // Every task computes each step (backup tasks too: their late pushes are dropped); here
            // all of it shares the cores. Then the K-th push releases the barrier: the ps applies the
            // average and answers all W through its link, and the tasks wake up. Each push is applied
            // under the ps's lock on arrival, one at a time.
            let work: Double
            if local {
                work = max(cBusy + trainerMessages + psStep / Double(w), (Double(w) * (cBusy + trainerMessages) + psStep * Double(w)) / cores)
            } else {
                work = c + trainerMessages + psBusiest * Double(w)
            }
            // Each of the W pushes is applied (accumulated) under the ps's lock — the ps profile's
            // `updates` counts W per synchronous step — so the barrier holds W locked updates, not one.
            // Here the release wakes the K − 1 tasks whose pushes waited for it (the K-th push
            // completed the step), one after another from the ps's thread, on cores they share:
            // each wake-up is half a round trip beyond the completing push's round trip (in the
            // cloud each task wakes on its own machine, in parallel). At most W − 1 can wait.
            let waiting = max(0, min(k, Double(w)) - 1)
            let wakeUps = local ? waiting * rpc / 2 : 0
            let barrier = Double(w) * pullTime + Double(w) * psSerial + rpc + wakeUps
            let step = work + pushTime + barrier + i.waitSeconds
            bounds.append((.syncBarrier, rate(barrier)))
            let x = 1 / step
            bounds.sort { $0.1 < $1.1 }
            return Prediction(stepsPerSecond: x, examplesPerSecond: x * k * Double(i.batch), stepSeconds: step,
                              bottleneck: bottleneck(of: bounds), bounds: bounds, parts: parts)
        }

        // Asynchronous: W training tasks circulate through the resources they share — a closed
        // queueing network, solved by exact mean value analysis. What each task has to itself (its
        // own link; in the cloud also its own CPU and the network's latency) is a delay.
        var stations: [Station] = []
        var think = pushTime + i.waitSeconds
        if local {
            // Here every process shares the cores: compute, requests, bytes and updates are CPU
            // work, served by C cores as processor sharing; other programs' L busy processes take
            // their share (j steps in progress get j · min(1, C/(j+L)) cores).
            stations.append(Station(demand: cpuTotal / slow, kind: .cores(cores, background: local ? i.backgroundLoad : 0), stretch: c / slow * delta))
            if psSerial > 0 { stations.append(Station(demand: psSerial, kind: .queue(deterministic: false))) }
        } else {
            think += c + trainerMessages + rpc
            if psBusiest > 0 { stations.append(Station(demand: psBusiest, kind: .queue(deterministic: false))) }
        }
        // A link is a token bucket: every answer takes the same time through it.
        if pullTime > 0 { stations.append(Station(demand: pullTime, kind: .queue(deterministic: true))) }
        var x = meanValueAnalysis(stations: stations, think: think, customers: w)
        // The approximations may overshoot a bound near saturation; the answer never does.
        x = min(x, bounds.map(\.1).filter { $0.isFinite }.min() ?? x)
        bounds.sort { $0.1 < $1.1 }
        return Prediction(stepsPerSecond: x, examplesPerSecond: x * Double(i.batch), stepSeconds: 1 / x, bottleneck: bottleneck(of: bounds),
                          bounds: bounds, parts: parts)
    }

    /// A shared resource of the queueing network.
    struct Station {
        enum Kind {
            /// C cores shared by processor sharing with `background` other busy processes: with j
            /// of the job's steps in progress it serves j · min(1, C/(j+L)) steps' worth at once.
            case cores(Double, background: Double)
            /// One server, first come first served: exponential service, or deterministic (a
            /// link's token bucket), whose steps arrive from the tasks' own fixed-length cycles and
            /// so fall into line behind each other: a step waits for the ones queued behind the one
            /// in service, not for that one.
            case queue(deterministic: Bool)
        }
        /// Seconds of the resource per global step.
        var demand: Double
        var kind: Kind
        /// Cores only: the demand added when the job's steps keep every core computing (the
        /// compute's δ; with k = min(C, j) of the j steps in progress computing at once,
        /// (k − 1)/(C − 1) of it).
        var stretch: Double = 0
    }

    /// Throughput (steps/s) of `customers` tasks circulating through `stations` and a delay of
    /// `think` seconds: mean value analysis, exact for the load-dependent cores (marginal queue-length
    /// probabilities) and for exponential queues; a deterministic queue drops the one in service
    /// from the queue an arrival waits for: tasks whose cycles are all the same length pipeline
    /// through it without waiting until it saturates (the residual-service correction of random
    /// arrivals, half of it, said 0.88 of the link's bound for two tasks where 0.96 was measured).
    static func meanValueAnalysis(stations: [Station], think: Double, customers: Int) -> Double {
        var queue = [Double](repeating: 0, count: stations.count)
        var busy = [Double](repeating: 0, count: stations.count)
        // For each cores station, P(j steps present) at the previous population.
        var marginal = stations.map { _ in [1.0] }
        func rate(_ s: Station, _ j: Int) -> Double {
            guard case .cores(let c, let l) = s.kind else { return 1 / s.demand }
            let n = Double(j)
            let demand = s.demand + (c > 1 ? s.stretch * max(0, min(c, n) - 1) / (c - 1) : 0)
            return n * min(1, c / (n + l)) / demand
        }
        var x = 0.0
        for n in 1...max(1, customers) {
            var residence = [Double](repeating: 0, count: stations.count)
            for (k, s) in stations.enumerated() where s.demand > 0 {
                switch s.kind {
                case .cores:
                    var r = 0.0
                    for j in 1...n { r += Double(j) / rate(s, j) * marginal[k][j - 1] }
                    residence[k] = r
                case .queue(let deterministic):
                    residence[k] = s.demand * (1 + queue[k] - (deterministic ? busy[k] : 0))
                }
            }
            // Without waiting for the one in service, n tasks would pass a deterministic queue faster
            // than it serves once it saturates: there a step waits until its turn (n·D per cycle).
            for (k, s) in stations.enumerated() where s.demand > 0 {
                if case .queue(true) = s.kind {
                    let others = think + residence.reduce(0, +) - residence[k]
                    residence[k] = max(residence[k], Double(n) * s.demand - others)
                }
            }
            x = Double(n) / max(1e-12, think + residence.reduce(0, +))
            for (k, s) in stations.enumerated() where s.demand > 0 {
                queue[k] = x * residence[k]
                busy[k] = min(1, x * s.demand)
                if case .cores = s.kind {
                    var p = [Double](repeating: 0, count: n + 1)
                    for j in 1...n { p[j] = x / rate(s, j) * marginal[k][j - 1] }
                    p[0] = max(0, 1 - p[1...].reduce(0, +))
                    let total = p.reduce(0, +)
                    marginal[k] = p.map { $0 / total }
                }
            }
        }
        return x
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
    /// (half of them physical cores) is assumed to use its cores at `efficiency`, each core
    /// `speed` × the calibrated one — assumptions (guesses), stated in Docs/cost-model.md, since no
    /// cloud run validates them.
    public static func cloudComputeSeconds(localOneCore: Double, vcpus: Int, efficiency: Double = cloudEfficiency, speed: Double = 1) -> Double {
        let cores = max(1, Double(vcpus) / 2)
        return localOneCore / max(1, cores * efficiency) / speed
    }

    /// The share of a cloud task's physical cores the kernel is assumed to use (a guess).
    public static let cloudEfficiency = 0.7

    /// The request round trip assumed between cloud VMs in one zone (an assumption: not measured here).
    public static let cloudRPCSeconds = 200e-6
}

/// How well one ordering agrees with another (`cost validate`'s ranking checks). Pure.
public enum Ranking {
    /// Pairs (i < j) both orderings put the same way round, and the pairs compared; a pair tied in
    /// `predicted` (within `tie`, relative) is left out.
    public static func pairwise(predicted: [Double], measured: [Double], tie: Double = 0) -> (agree: Int, pairs: Int, disagreeing: [(Int, Int)]) {
        precondition(predicted.count == measured.count)
        var agree = 0, pairs = 0
        var wrong: [(Int, Int)] = []
        for i in predicted.indices {
            for j in predicted.indices where j > i {
                let p = predicted[i] - predicted[j]
                if abs(p) <= tie * max(abs(predicted[i]), abs(predicted[j])) { continue }
                pairs += 1
                if (p > 0) == (measured[i] - measured[j] > 0) { agree += 1 } else { wrong.append((i, j)) }
            }
        }
        return (agree, pairs, wrong)
    }

    /// Spearman's rank correlation (ties get their average rank); nil for fewer than two values
    /// or a constant list.
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double? {
        precondition(a.count == b.count)
        guard a.count > 1 else { return nil }
        let ra = ranks(a), rb = ranks(b)
        let n = Double(a.count)
        let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for k in ra.indices {
            sab += (ra[k] - ma) * (rb[k] - mb)
            saa += (ra[k] - ma) * (ra[k] - ma)
            sbb += (rb[k] - mb) * (rb[k] - mb)
        }
        guard saa > 0, sbb > 0 else { return nil }
        return sab / (saa * sbb).squareRoot()
    }

    /// 1-based ranks, ascending; ties share their average rank.
    public static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var k = 0
        while k < order.count {
            var e = k
            while e + 1 < order.count && v[order[e + 1]] == v[order[k]] { e += 1 }
            let average = Double(k + e) / 2 + 1
            for t in k...e { r[order[t]] = average }
            k = e + 1
        }
        return r
    }
}
