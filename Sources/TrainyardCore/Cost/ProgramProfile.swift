/// What a short local run of a user's own program (`--command` / `--module-name`) says about it,
/// for the cost model (Docs/cost-model.md, "Your own program"): global steps per second from its
/// `trainyard-metric step=…` lines, and per global step the training tasks' CPU, the ps' CPU and
/// the bytes the training tasks wrote, from the launcher's `resources.jsonl`. Pure.
public struct ProgramProfile: Sendable, Equatable {
    /// Global steps per second over the measured window.
    public var stepsPerSecond: Double
    public var steps: Int
    public var windowSeconds: Double
    /// CPU seconds per global step, all training tasks together, and all ps together.
    public var trainerCPUSeconds: Double
    public var psCPUSeconds: Double
    /// Bytes the training tasks passed to write calls per global step (an upper bound on what they
    /// sent: it counts their log and file writes too); nil when the kernel hid the counters.
    public var trainerBytes: Double?
    public var trainers: Int
    public var parameterServers: Int
    /// Seconds per training task's step spent waiting on neither CPU nor links (set by the
    /// estimator from the model of the cluster it ran on).
    public var waitSeconds: Double = 0

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case noSteps
        case tooShort(Double)
        case noSamples
        public var description: String {
            switch self {
            case .noSteps:
                return "the job reported fewer than two distinct steps with a time: print `trainyard-metric step=N …` lines (Docs/jobs.md) as it trains"
            case .tooShort(let s):
                return "the job's reported steps span \(Double(Int(s * 100)) / 100) s: run it longer (at least a few seconds of steps)"
            case .noSamples:
                return "the job has no resources.jsonl samples over its steps: run it with this version of trainyard"
            }
        }
    }

    /// `reports`: (time, step) of every metric line with a step; `samples`: the resource lines of
    /// `resources.jsonl`. The window runs from the first report at or past 15% of the steps to the
    /// last, so start-up does not count; CPU and bytes are the counters' growth over it.
    public static func measure(reports: [(Double, Int)], samples: [JSONValue]) throws(Problem) -> ProgramProfile {
        let points = reports.sorted { $0.0 < $1.0 }
        guard let lo = points.map(\.1).min(), let hi = points.map(\.1).max(), hi > lo else { throw .noSteps }
        let threshold = lo + (hi - lo) * 15 / 100
        guard let first = points.first(where: { $0.1 >= threshold }), let last = points.last(where: { $0.1 == hi }) else { throw .noSteps }
        let span = last.0 - first.0
        guard span >= 0.5, last.1 > first.1 else { throw .tooShort(max(0, span)) }
        let steps = last.1 - first.1
        // Each task's counters at the sample nearest the window's ends.
        var byTask: [String: [(t: Double, cpu: Double?, bytes: Double?)]] = [:]
        for s in samples {
            guard let task = s["task"]?.stringValue, let t = s["time"]?.doubleValue else { continue }
            byTask[task, default: []].append((t, s["cpu_seconds"]?.doubleValue, s["written_bytes"]?.doubleValue))
        }
        var trainerCPU = 0.0, psCPU = 0.0, bytes = 0.0
        var bytesSeen = false, any = false
        var trainers = 0, ps = 0
        for (task, rows) in byTask {
            let isPS = task.hasPrefix("ps")
            if isPS { ps += 1 } else if !task.hasPrefix("evaluator") { trainers += 1 }
            let inside = rows.filter { $0.t >= first.0 - 0.25 && $0.t <= last.0 + 0.25 }.sorted { $0.t < $1.t }
            guard let a = inside.first, let b = inside.last, b.t > a.t else { continue }
            // Scale the counters' growth between the samples to the window.
            let k = span / (b.t - a.t)
            if let ca = a.cpu, let cb = b.cpu {
                any = true
                if isPS { psCPU += (cb - ca) * k } else { trainerCPU += (cb - ca) * k }
            }
            if !isPS, let ba = a.bytes, let bb = b.bytes {
                bytesSeen = true
                bytes += (bb - ba) * k
            }
        }
        guard any else { throw .noSamples }
        let n = Double(steps)
        return ProgramProfile(stepsPerSecond: n / span, steps: steps, windowSeconds: span, trainerCPUSeconds: trainerCPU / n, psCPUSeconds: psCPU / n,
                              trainerBytes: bytesSeen ? bytes / n : nil, trainers: trainers, parameterServers: ps)
    }

    /// The model's inputs for a cluster of `trainers` and `parameterServers`: a training task
    /// computes `trainerCPUSeconds` per step (the CPU all training tasks spent per global step is
    /// one task's step), the ps together spend `psCPUSeconds`, and a push carries the bytes
    /// written per step (`bytesOverride` when given). The program's bytes are taken to be float32
    /// values, P = bytes / 4, spread evenly over the ps.
    public func inputs(trainers: Int, parameterServers: Int, batch: Int, sync: Bool, computeSeconds: Double, psSpeed: Double, rpcSeconds: Double,
                       sharedCores: Int?, trainerBandwidth: Double?, psBandwidth: Double?, bytesOverride: Double?) -> CostModel.Inputs {
        let bytes = bytesOverride ?? trainerBytes ?? 0
        return CostModel.Inputs(parameterCount: Int(bytes / 4), modelBytes: bytes, batch: batch, trainers: trainers, parameterServers: parameterServers,
                                sync: sync, computeSeconds: computeSeconds, rpcSeconds: rpcSeconds, rpcCPUSeconds: 0, byteCPUSeconds: 0,
                                updateSecondsPerValue: 0, psCPUSecondsPerStep: parameterServers > 0 ? psCPUSeconds : nil, sharedCores: sharedCores,
                                trainerBandwidth: trainerBandwidth, psBandwidth: psBandwidth,
                                largestShardFraction: parameterServers > 0 ? 1 / Double(parameterServers) : 0, psSpeed: psSpeed)
    }
}
