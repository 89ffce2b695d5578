/// What `trainyard calibrate` measured about this machine: the inputs of the cost model's local
/// side. Saved as JSON (`$TRAINYARD_HOME/calibration.json`).
public struct CalibrationProfile: Sendable, Equatable {
    /// CPU cores the cluster's processes share.
    public var cores: Int
    /// Training compute per step on one core: `fixed + tiled MACs × secondsPerTiledMAC + touched
    /// values × secondsPerTouchedValue + weights beyond the cache × secondsPerSpilledWeight`
    /// (`compute`, `CostModel.stepWork`), fitted over several model sizes and batches. Profiles
    /// from before it was measured have no `compute` and use `fixed + flops / flopsPerSecond`
    /// (flops = 6 × parameters-in-layers × batch).
    public var stepFixedSeconds: Double
    /// FLOPs per second the kernel reaches on whole micro-tiles (2 / secondsPerTiledMAC), or of the
    /// older one-rate fit.
    public var flopsPerSecond: Double
    public var compute: ComputeTerms?

    /// The compute model's terms beyond the fixed cost per step.
    public struct ComputeTerms: Sendable, Equatable {
        /// The kernel build's micro-tile (rows × columns of C) the tiled MACs are counted with.
        public var tileRows: Int
        public var tileColumns: Int
        /// Rows the last tile of a call runs when it has no more than that many left.
        public var tileEdgeRows: Int
        /// A core's level-2 cache: weight matrices larger than it stream from memory.
        public var cacheBytes: Int
        public var secondsPerTiledMAC: Double
        public var secondsPerTouchedValue: Double
        public var secondsPerSpilledWeight: Double
        public init(tileRows: Int, tileColumns: Int, tileEdgeRows: Int? = nil, cacheBytes: Int, secondsPerTiledMAC: Double, secondsPerTouchedValue: Double, secondsPerSpilledWeight: Double) {
            self.tileRows = tileRows
            self.tileColumns = tileColumns
            self.tileEdgeRows = tileEdgeRows ?? tileRows
            self.cacheBytes = cacheBytes
            self.secondsPerTiledMAC = secondsPerTiledMAC
            self.secondsPerTouchedValue = secondsPerTouchedValue
            self.secondsPerSpilledWeight = secondsPerSpilledWeight
        }

        /// Seconds of one step's `work` beyond the fixed cost.
        public func seconds(_ work: CostModel.StepWork) -> Double {
            work.tiledMACs * secondsPerTiledMAC + work.touchedValues * secondsPerTouchedValue + work.spilledWeights * secondsPerSpilledWeight
        }
    }
    /// Wall time of one small request and its answer over loopback.
    public var rpcSeconds: Double
    /// CPU seconds per request handled, client and server together (beyond the bytes).
    public var rpcCPUSeconds: Double
    /// Here, what a request costs beyond `rpcCPUSeconds` for each of the job's processes beyond
    /// one more than the cores (the calibration's clusters have three processes on two cores):
    /// with more processes than cores, a reply wakes a process that has to take a core from
    /// another, not an idle one. 0 when not measured, or measured at or below 0 (clamped).
    public var rpcCPUSecondsPerExtraProcess: Double = 0
    /// Here, what a request costs more for each parameter server beyond the first: a ps that
    /// serves fewer of the requests sleeps between them, and each of its requests pays its wake-up
    /// (the calibration's tiny model with two ps). 0 when not measured, or measured at or below 0
    /// (clamped).
    public var rpcCPUSecondsPerExtraServer: Double = 0
    /// Seconds per byte moved through a frame connection (encode, send, receive, decode).
    public var byteSeconds: Double
    /// The CPU per byte a running cluster paid at each model size (bytes of one push, seconds per
    /// byte), ascending: a message that stays in the caches costs less per byte than one that
    /// streams from memory. Empty in profiles from before it was measured (then `byteSeconds`).
    public var byteSecondsBySize: [ByteCost] = []
    /// Seconds per value for the ps to apply an update (momentum).
    public var updateSecondsPerValue: Double
    /// A training task's own work per step beyond the kernel, per parameter (its gradient check,
    /// copying the values the ps send back into place) and per example (drawing the batch):
    /// measured on a real one-task run of the trainer; 0 in profiles from before it was measured.
    public var trainerSecondsPerValue: Double = 0
    public var trainerSecondsPerExample: Double = 0
    /// With parameter servers: how a training task's work per parameter differs from its work alone
    /// (a one-task, one-ps run): it splits its gradients into shards and takes the values back, but
    /// the ps, not it, applies the update, so it may be negative (never below
    /// −`trainerSecondsPerValue`); 0 when not measured.
    public var shardSecondsPerValue: Double = 0
    /// How much more CPU a training step takes on one core while every core computes one at once
    /// than on a core alone, as a fraction (δ ≥ 0): the cores share the caches and the memory (and
    /// on a VM, whatever the host puts beside them). The compute terms above are measured alone.
    /// 0 in profiles from before it was measured, and on one core.
    public var concurrentComputeSlowdown: Double = 0
    /// Which kernel build and configuration were measured.
    public var kernel: String
    public var build: String
    public var measuredAt: String
    public var host: String

    public init(cores: Int, stepFixedSeconds: Double, flopsPerSecond: Double, rpcSeconds: Double, rpcCPUSeconds: Double,
                byteSeconds: Double, updateSecondsPerValue: Double, kernel: String, build: String, measuredAt: String, host: String) {
        self.cores = cores
        self.stepFixedSeconds = stepFixedSeconds
        self.flopsPerSecond = flopsPerSecond
        self.rpcSeconds = rpcSeconds
        self.rpcCPUSeconds = rpcCPUSeconds
        self.byteSeconds = byteSeconds
        self.updateSecondsPerValue = updateSecondsPerValue
        self.kernel = kernel
        self.build = build
        self.measuredAt = measuredAt
        self.host = host
    }

    /// CPU seconds per byte a running cluster paid for models of one size.
    public struct ByteCost: Sendable, Equatable {
        /// Bytes of one push (4 per parameter).
        public var modelBytes: Double
        public var seconds: Double
        public init(modelBytes: Double, seconds: Double) {
            self.modelBytes = modelBytes
            self.seconds = seconds
        }
    }

    /// CPU seconds per byte moved for a model of `modelBytes` (one push): interpolated in the
    /// logarithm of the size between the sizes a running cluster was measured at, the nearest
    /// measured figure beyond them; `byteSeconds` when no sizes were measured.
    public func byteSeconds(modelBytes: Double) -> Double {
        let table = byteSecondsBySize
        guard let first = table.first, let last = table.last else { return byteSeconds }
        if modelBytes <= first.modelBytes { return first.seconds }
        if modelBytes >= last.modelBytes { return last.seconds }
        for k in 1..<table.count where modelBytes <= table[k].modelBytes {
            let a = table[k - 1], b = table[k]
            let t = (Math.log(modelBytes) - Math.log(a.modelBytes)) / (Math.log(b.modelBytes) - Math.log(a.modelBytes))
            return a.seconds + t * (b.seconds - a.seconds)
        }
        return last.seconds
    }

    /// Compute seconds for one training step of `architecture` on `batch` examples, one core.
    public func stepSeconds(_ architecture: MLPArchitecture, batch: Int) -> Double {
        guard let c = compute else { return stepFixedSeconds + CostModel.trainingFLOPs(architecture, batch: batch) / flopsPerSecond }
        return stepFixedSeconds + c.seconds(CostModel.stepWork(architecture, batch: batch, tile: (c.tileRows, c.tileColumns, c.tileEdgeRows), cacheBytes: c.cacheBytes))
    }

    /// CPU per request (both ends) when `processes`, `servers` of them parameter servers, share
    /// this machine's cores.
    public func requestCPUSeconds(processes: Int, servers: Int) -> Double {
        rpcCPUSeconds + rpcCPUSecondsPerExtraProcess * Double(max(0, processes - cores - 1))
            + rpcCPUSecondsPerExtraServer * Double(max(0, servers - 1))
    }

    /// A training task's per-parameter work in a cluster with parameter servers, beyond alone.
    public var clusterShardSecondsPerValue: Double { max(-trainerSecondsPerValue, shardSecondsPerValue) }

    /// A training task's compute per step: the kernel's and its own bookkeeping.
    public func trainerStepSeconds(_ architecture: MLPArchitecture, batch: Int) -> Double {
        stepSeconds(architecture, batch: batch) + Double(architecture.parameterCount) * trainerSecondsPerValue + Double(batch) * trainerSecondsPerExample
    }

    /// This profile with every CPU cost × `factor` (a machine `factor` times slower).
    public func slowed(by factor: Double) -> CalibrationProfile {
        var p = self
        p.stepFixedSeconds *= factor
        p.flopsPerSecond /= factor
        if var c = p.compute {
            c.secondsPerTiledMAC *= factor
            c.secondsPerTouchedValue *= factor
            c.secondsPerSpilledWeight *= factor
            p.compute = c
        }
        p.rpcCPUSeconds *= factor
        p.rpcCPUSecondsPerExtraProcess *= factor
        p.rpcCPUSecondsPerExtraServer *= factor
        p.byteSeconds *= factor
        p.byteSecondsBySize = p.byteSecondsBySize.map { ByteCost(modelBytes: $0.modelBytes, seconds: $0.seconds * factor) }
        p.updateSecondsPerValue *= factor
        p.trainerSecondsPerValue *= factor
        p.trainerSecondsPerExample *= factor
        p.shardSecondsPerValue *= factor
        return p
    }

    /// The mean of calibrations of one machine: every measured term averaged (`cost validate`
    /// predicts each round from the calibrations just before and just after it). The byte costs
    /// are averaged at every size any profile measured (each profile's figure there, as
    /// `byteSeconds(modelBytes:)` gives it); the compute terms when every
    /// profile has them for the same tile and cache (otherwise the first profile's). The
    /// descriptive fields are the first profile's, `measuredAt` the last's. Nil for no profiles.
    public static func mean(_ profiles: [CalibrationProfile]) -> CalibrationProfile? {
        guard var m = profiles.first else { return nil }
        guard profiles.count > 1 else { return m }
        func avg(_ term: (CalibrationProfile) -> Double) -> Double { profiles.reduce(0) { $0 + term($1) } / Double(profiles.count) }
        m.stepFixedSeconds = avg(\.stepFixedSeconds)
        // Rates average as their reciprocals (seconds per FLOP), as the other terms are seconds.
        m.flopsPerSecond = 1 / avg { 1 / $0.flopsPerSecond }
        let computes = profiles.compactMap(\.compute)
        if let c0 = computes.first, computes.count == profiles.count,
           computes.allSatisfy({ $0.tileRows == c0.tileRows && $0.tileColumns == c0.tileColumns && $0.tileEdgeRows == c0.tileEdgeRows && $0.cacheBytes == c0.cacheBytes }) {
            var c = c0
            c.secondsPerTiledMAC = avg { $0.compute!.secondsPerTiledMAC }
            c.secondsPerTouchedValue = avg { $0.compute!.secondsPerTouchedValue }
            c.secondsPerSpilledWeight = avg { $0.compute!.secondsPerSpilledWeight }
            m.compute = c
        }
        m.rpcSeconds = avg(\.rpcSeconds)
        m.rpcCPUSeconds = avg(\.rpcCPUSeconds)
        // 0 is a measured figure here as often as not (the calibration clamps these at 0), so it
        // counts like any other.
        m.rpcCPUSecondsPerExtraProcess = avg(\.rpcCPUSecondsPerExtraProcess)
        m.rpcCPUSecondsPerExtraServer = avg(\.rpcCPUSecondsPerExtraServer)
        m.byteSeconds = avg(\.byteSeconds)
        let sizes = Set(profiles.flatMap { $0.byteSecondsBySize.map(\.modelBytes) }).sorted()
        m.byteSecondsBySize = sizes.map { bytes in ByteCost(modelBytes: bytes, seconds: avg { $0.byteSeconds(modelBytes: bytes) }) }
        m.updateSecondsPerValue = avg(\.updateSecondsPerValue)
        m.trainerSecondsPerValue = avg(\.trainerSecondsPerValue)
        m.trainerSecondsPerExample = avg(\.trainerSecondsPerExample)
        m.shardSecondsPerValue = avg(\.shardSecondsPerValue)
        m.concurrentComputeSlowdown = avg(\.concurrentComputeSlowdown)
        m.measuredAt = profiles.last!.measuredAt
        return m
    }

    public var json: JSONValue {
        .object([
            ("cores", JSONValue(cores)), ("step_fixed_seconds", JSONValue(stepFixedSeconds)), ("flops_per_second", JSONValue(flopsPerSecond)),
            ("rpc_seconds", JSONValue(rpcSeconds)), ("rpc_cpu_seconds", JSONValue(rpcCPUSeconds)),
            ("rpc_cpu_seconds_per_extra_process", JSONValue(rpcCPUSecondsPerExtraProcess)),
            ("rpc_cpu_seconds_per_extra_server", JSONValue(rpcCPUSecondsPerExtraServer)), ("byte_seconds", JSONValue(byteSeconds)),
            ("loopback_bytes_per_second", JSONValue((1 / byteSeconds).rounded())),
            ("byte_seconds_by_model_bytes", .array(byteSecondsBySize.map { .array([JSONValue($0.modelBytes), JSONValue($0.seconds)]) })),
            ("compute", compute.map { c in .object([("tile", .array([JSONValue(c.tileRows), JSONValue(c.tileColumns), JSONValue(c.tileEdgeRows)])), ("cache_bytes", JSONValue(c.cacheBytes)),
                                                     ("seconds_per_tiled_mac", JSONValue(c.secondsPerTiledMAC)),
                                                     ("seconds_per_touched_value", JSONValue(c.secondsPerTouchedValue)),
                                                     ("seconds_per_spilled_weight", JSONValue(c.secondsPerSpilledWeight))]) } ?? .null),
            ("update_seconds_per_value", JSONValue(updateSecondsPerValue)),
            ("trainer_seconds_per_value", JSONValue(trainerSecondsPerValue)), ("trainer_seconds_per_example", JSONValue(trainerSecondsPerExample)),
            ("shard_seconds_per_value", JSONValue(shardSecondsPerValue)), ("concurrent_compute_slowdown", JSONValue(concurrentComputeSlowdown)), ("kernel", .string(kernel)), ("build", .string(build)),
            ("measured_at", .string(measuredAt)), ("host", .string(host)),
        ])
    }

    public init(parsing text: String, source: String) throws(FieldError) {
        let r = try JSONField.parse(text, source: source)
        func positive(_ key: String) throws(FieldError) -> Double {
            let f = try r.required(key)
            let v = try f.double()
            guard v > 0 else { throw f.fail("must be positive") }
            return v
        }
        cores = try r.required("cores").int(in: 1...4096)
        stepFixedSeconds = try r.required("step_fixed_seconds").double()
        flopsPerSecond = try positive("flops_per_second")
        rpcSeconds = try positive("rpc_seconds")
        rpcCPUSeconds = try positive("rpc_cpu_seconds")
        if let f = try r.optional("rpc_cpu_seconds_per_extra_process") {
            rpcCPUSecondsPerExtraProcess = try f.double()
            guard rpcCPUSecondsPerExtraProcess >= 0 else { throw f.fail("must be at least 0") }
        }
        if let f = try r.optional("rpc_cpu_seconds_per_extra_server") {
            rpcCPUSecondsPerExtraServer = try f.double()
            guard rpcCPUSecondsPerExtraServer >= 0 else { throw f.fail("must be at least 0") }
        }
        byteSeconds = try positive("byte_seconds")
        updateSecondsPerValue = try positive("update_seconds_per_value")
        trainerSecondsPerValue = try r.optional("trainer_seconds_per_value")?.double() ?? 0
        trainerSecondsPerExample = try r.optional("trainer_seconds_per_example")?.double() ?? 0
        shardSecondsPerValue = try r.optional("shard_seconds_per_value")?.double() ?? 0
        if let f = try r.optional("concurrent_compute_slowdown") {
            concurrentComputeSlowdown = try f.double()
            guard concurrentComputeSlowdown >= 0, concurrentComputeSlowdown <= 1 else { throw f.fail("must be between 0 and 1") }
        }
        if let table = try r.optional("byte_seconds_by_model_bytes") {
            var rows: [ByteCost] = []
            for row in try table.array() {
                let pair = try row.array()
                guard pair.count == 2 else { throw row.fail("must be [model bytes, seconds per byte]") }
                let bytes = try pair[0].double(), seconds = try pair[1].double()
                guard bytes > 0, seconds > 0, bytes > (rows.last?.modelBytes ?? 0) else { throw row.fail("sizes must be positive and ascending, seconds positive") }
                rows.append(ByteCost(modelBytes: bytes, seconds: seconds))
            }
            byteSecondsBySize = rows
        }
        if let c = try r.optional("compute"), c.value != .null {
            let tile = try c.required("tile").array()
            guard tile.count == 2 || tile.count == 3 else { throw c.fail("tile must be [rows, columns] or [rows, columns, edge rows]") }
            let mac = try c.required("seconds_per_tiled_mac").double(), value = try c.required("seconds_per_touched_value").double()
            let spilled = try c.required("seconds_per_spilled_weight").double()
            guard mac >= 0, value >= 0, spilled >= 0, mac + value > 0 else { throw c.fail("needs non-negative seconds per MAC and per value, not both 0") }
            let rows = try tile[0].int(in: 1...1024)
            compute = ComputeTerms(tileRows: rows, tileColumns: try tile[1].int(in: 1...1024), tileEdgeRows: tile.count == 3 ? try tile[2].int(in: 1...rows) : rows,
                                   cacheBytes: try c.required("cache_bytes").int(in: 1...(1 << 40)),
                                   secondsPerTiledMAC: mac, secondsPerTouchedValue: value, secondsPerSpilledWeight: spilled)
        }
        kernel = try r.optional("kernel")?.string() ?? "?"
        build = try r.optional("build")?.string() ?? "?"
        measuredAt = try r.optional("measured_at")?.string() ?? "?"
        host = try r.optional("host")?.string() ?? "?"
    }
}
