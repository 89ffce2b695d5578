import TrainyardCore
import TrainyardPlatform

/// The parameter server's periodic `metrics.jsonl` record (`kind: "ps"`): updates applied per
/// second over the last interval (every 0.2 s for the first 10 s of the shard, then every 2 s), which
/// also reaches the task's TensorBoard run. Silent when the ps was started without `--job-dir`.
struct ParameterServerMetrics {
    let task: TaskID
    let log: MetricsLog?
    private var first: Double?
    private var last: (time: Double, applied: Int)?

    init(_ context: RoleContext) {
        task = context.task
        log = context.jobDirectoryGiven ? MetricsLog(jobDirectory: context.jobDirectory) : nil
    }

    /// Records a point once the interval has passed since the last one (only after the chief initialized the shard).
    mutating func tick(now: Double, globalStep: Int64, appliedPushes: Int, initialized: Bool) {
        guard initialized, let log else { return }
        guard let previous = last, let first else { (first, last) = (now, (now, appliedPushes)); return }
        guard now - previous.time >= (now - first < 10 ? 0.2 : 2) else { return }
        let rate = Double(max(0, appliedPushes - previous.applied)) / (now - previous.time)
        log.append([("task", .string(task.description)), ("kind", "ps"), ("step", JSONValue(Int(globalStep))),
                    ("updates_per_sec", JSONValue((rate * 10).rounded() / 10))])
        last = (now, appliedPushes)
    }

    /// The ps's own profile at shutdown, one `kind: "profile"` record: seconds in each
    /// `TimeCounters` bucket (waiting for the lock, pushes applied under it, other requests,
    /// encoding, decoding, sending, receiving, waiting for requests), the updates applied, the
    /// seconds since the chief first initialized the shard, the process's CPU seconds, and the
    /// connections it accepted over TCP and over its local (Unix-domain) socket, the frames it
    /// sent and received with their arrays in shared memory, and the pushes it applied where they
    /// lay in a trainer's shared region (no copy: asynchronous SGD, synchronous accumulation).
    func profile(appliedPushes: Int, inPlace: Int, since initialized: Double?, accepted: (tcp: Int, local: Int)) {
        guard let log else { return }
        var fields: [(String, JSONValue)] = [("task", .string(task.description)), ("kind", "profile"), ("updates", JSONValue(appliedPushes))]
        if let initialized { fields.append(("serving_seconds", JSONValue(((MonotonicClock.now() - initialized) * 1e6).rounded() / 1e6))) }
        fields.append(("cpu_seconds", JSONValue((Posix.processCPUSeconds() * 1e3).rounded() / 1e3)))
        fields.append(("connections_tcp", JSONValue(accepted.tcp)))
        fields.append(("connections_local", JSONValue(accepted.local)))
        fields.append(("frames_shared_memory", JSONValue(FrameConnection.processRegionFrames.load(ordering: .relaxed))))
        fields.append(("pushes_applied_in_place", JSONValue(inPlace)))
        log.append(fields + TimeCounters.process.fields)
    }
}
