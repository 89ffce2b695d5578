/// What `trainyard calibrate` measured about this machine: the inputs of the cost model's local
/// side. Saved as JSON (`$TRAINYARD_HOME/calibration.json`).
public struct CalibrationProfile: Sendable, Equatable {
    /// CPU cores the cluster's processes share.
    public var cores: Int
    /// Training compute per step on one core: `fixed + flops / flopsPerSecond` seconds, fitted
    /// over several model sizes (flops = 6 × parameters-in-layers × batch, forward and backward).
    public var stepFixedSeconds: Double
    public var flopsPerSecond: Double
    /// Wall time of one small request and its answer over loopback.
    public var rpcSeconds: Double
    /// CPU seconds per request handled, client and server together (beyond the bytes).
    public var rpcCPUSeconds: Double
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
    /// With parameter servers: a training task's work per parameter to split its gradients into
    /// shards and merge the values back (a one-task, one-ps run); 0 when not measured.
    public var shardSecondsPerValue: Double = 0
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
        stepFixedSeconds + CostModel.trainingFLOPs(architecture, batch: batch) / flopsPerSecond
    }

    /// A training task's compute per step: the kernel's and its own bookkeeping.
    public func trainerStepSeconds(_ architecture: MLPArchitecture, batch: Int) -> Double {
        stepSeconds(architecture, batch: batch) + Double(architecture.parameterCount) * trainerSecondsPerValue + Double(batch) * trainerSecondsPerExample
    }

    /// This profile with every CPU cost × `factor` (a machine `factor` times slower).
    public func slowed(by factor: Double) -> CalibrationProfile {
        var p = self
        p.stepFixedSeconds *= factor
        p.flopsPerSecond /= factor
        p.rpcCPUSeconds *= factor
        p.byteSeconds *= factor
        p.byteSecondsBySize = p.byteSecondsBySize.map { ByteCost(modelBytes: $0.modelBytes, seconds: $0.seconds * factor) }
        p.updateSecondsPerValue *= factor
        p.trainerSecondsPerValue *= factor
        p.trainerSecondsPerExample *= factor
        p.shardSecondsPerValue *= factor
        return p
    }

    public var json: JSONValue {
        .object([
            ("cores", JSONValue(cores)), ("step_fixed_seconds", JSONValue(stepFixedSeconds)), ("flops_per_second", JSONValue(flopsPerSecond)),
            ("rpc_seconds", JSONValue(rpcSeconds)), ("rpc_cpu_seconds", JSONValue(rpcCPUSeconds)), ("byte_seconds", JSONValue(byteSeconds)),
            ("loopback_bytes_per_second", JSONValue((1 / byteSeconds).rounded())),
            ("byte_seconds_by_model_bytes", .array(byteSecondsBySize.map { .array([JSONValue($0.modelBytes), JSONValue($0.seconds)]) })),
            ("update_seconds_per_value", JSONValue(updateSecondsPerValue)),
            ("trainer_seconds_per_value", JSONValue(trainerSecondsPerValue)), ("trainer_seconds_per_example", JSONValue(trainerSecondsPerExample)),
            ("shard_seconds_per_value", JSONValue(shardSecondsPerValue)), ("kernel", .string(kernel)), ("build", .string(build)),
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
        byteSeconds = try positive("byte_seconds")
        updateSecondsPerValue = try positive("update_seconds_per_value")
        trainerSecondsPerValue = try r.optional("trainer_seconds_per_value")?.double() ?? 0
        trainerSecondsPerExample = try r.optional("trainer_seconds_per_example")?.double() ?? 0
        shardSecondsPerValue = try r.optional("shard_seconds_per_value")?.double() ?? 0
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
        kernel = try r.optional("kernel")?.string() ?? "?"
        build = try r.optional("build")?.string() ?? "?"
        measuredAt = try r.optional("measured_at")?.string() ?? "?"
        host = try r.optional("host")?.string() ?? "?"
    }
}
