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
        kernel = try r.optional("kernel")?.string() ?? "?"
        build = try r.optional("build")?.string() ?? "?"
        measuredAt = try r.optional("measured_at")?.string() ?? "?"
        host = try r.optional("host")?.string() ?? "?"
    }
}
