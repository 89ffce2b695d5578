import Foundation
import TrainyardCore
import TrainyardKernel
import TrainyardPlatform

/// `trainyard bench cluster`: one real training job (chief, workers and parameter servers as
/// processes, as `trainyard train` runs them) set against this machine's compute bound measured in
/// the same run: the cores times the one-thread MLP training rate of this build, in this process,
/// on the same model and batch. Where each task's time went comes from the tasks' own profile
/// records (`kind: "profile"` in `metrics.jsonl`).
public enum ClusterBench {
    public struct Configuration: Sendable {
        public var workers = 2
        public var parameterServers = 2
        public var hidden = [256, 128]
        public var batch = 128
        public var steps = 3000
        /// Seconds of one-thread MLP timing before and after the job (the better of both is the rate).
        public var referenceSeconds = 1.0
        /// Where the job runs; nil = a temporary folder, removed afterwards.
        public var jobDirectory: String?
        /// Extra training options for the job (`--learning-rate 0.05`, say), as `trainyard train` takes them.
        public var extraArguments: [String] = []
        public init() {}
    }

    /// One task's profile, as its record gave it.
    public struct TaskProfile: Sendable {
        public var task: String
        public var record: JSONValue
        public func seconds(_ name: String) -> Double { record[name + "_seconds"]?.doubleValue ?? 0 }
    }

    public struct Result: Sendable {
        public var configuration: Configuration
        public var cores: Int
        /// The one-thread rate at its best: its fastest 0.1 s repeat (the bound's rate).
        public var oneThreadExamplesPerSecond: Double
        /// The one-thread rate sustained: every repeat's examples over their seconds, as the job's
        /// own rate is taken (0 when not measured).
        public var oneThreadSustainedExamplesPerSecond: Double = 0
        public var computeBound: Double { Double(cores) * oneThreadExamplesPerSecond }
        public var sustainedBound: Double { Double(cores) * oneThreadSustainedExamplesPerSecond }
        public var steadyExamplesPerSecond: Double?
        public var fraction: Double? { steadyExamplesPerSecond.map { $0 / computeBound } }
        /// The steady state over the sustained bound: the same job against a core's rate averaged as
        /// the job's is, not its best moment.
        public var fractionOfSustained: Double? {
            sustainedBound > 0 ? steadyExamplesPerSecond.map { $0 / sustainedBound } : nil
        }
        /// Examples/s of every core training the model at once, one thread each (`allCoresRate`):
        /// what the cores reach together when all of them compute (0 when not measured).
        public var allCoresExamplesPerSecond: Double = 0
        /// The steady state over `allCoresExamplesPerSecond`.
        public var fractionOfAllCores: Double? {
            allCoresExamplesPerSecond > 0 ? steadyExamplesPerSecond.map { $0 / allCoresExamplesPerSecond } : nil
        }
        /// Seconds from the launcher's start to the first train record of any task (its first push).
        public var launchToFirstStep: Double?
        public var wallSeconds: Double
        public var status: String
        public var reason: String
        public var steps: Int
        public var finalLoss: Double?
        public var profiles: [TaskProfile]
        public var jobDirectory: String
        /// Other busy processes on this machine just before the job and just after it (from the
        /// share of a core one spinning thread got; 0 when a core was free).
        public var backgroundLoad: (before: Double, after: Double) = (0, 0)
        /// Whether other programs were busy enough that the wall-clock figures are not this build's.
        public var machineWasBusy: Bool { max(backgroundLoad.before, backgroundLoad.after) >= 0.5 }
    }

    /// The training settings of the job: synthetic 784-feature, 10-class data, SGD, no periodic
    /// checkpoint or evaluation (the job's end still checkpoints, evaluates and exports).
    public static func settings(_ c: Configuration, jobDirectory: String) throws -> LaunchSettings {
        var argv = ["--workers", String(c.workers), "--ps", String(c.parameterServers),
                    "--features", "784", "--classes", "10", "--optimizer", "sgd",
                    "--hidden", c.hidden.isEmpty ? "none" : c.hidden.map(String.init).joined(separator: ","),
                    "--batch-size", String(c.batch), "--max-steps", String(c.steps),
                    "--checkpoint-every", String(c.steps + 1), "--eval-every", String(c.steps + 1),
                    "--job-dir", jobDirectory, "--restart-policy", "never"]
        argv += c.extraArguments
        return try LaunchSettings.parse(argv)
    }

    /// One-thread training examples/s of this build on the job's model and batch, over 0.1 s
    /// repeats for `seconds` (after one to warm up): the best repeat's rate, and the rate sustained
    /// over all of them (their examples over their seconds).
    public static func oneThreadRate(hidden: [Int], batch: Int, seconds: Double) -> (best: Double, sustained: Double) {
        let mlp = KernelBench.MLPCase(architecture: MLPArchitecture(inputs: 784, hidden: hidden, classes: 10), batch: batch)
        _ = KernelBench.timePerCall(minTime: 0.1, mlp.step)
        var repeats: [(steps: Double, seconds: Double)] = []
        let end = KernelBench.now() + seconds
        repeat {
            let start = KernelBench.now()
            let perStep = KernelBench.timePerCall(minTime: 0.1, mlp.step)
            let took = KernelBench.now() - start
            repeats.append((took / perStep, took))
        } while KernelBench.now() < end
        return rates(batch: batch, repeats: repeats)
    }

    /// Examples/s of `cores` threads at once, each training a model of its own on the job's model
    /// and batch for `seconds` (after one warm-up step; all start together and stop at one
    /// deadline: `Together`), summed: on a machine whose cores share
    /// caches and memory (or a VM's host), less than the cores times one thread alone.
    public static func allCoresRate(cores: Int, hidden: [Int], batch: Int, seconds: Double) -> Double {
        let runs = Together.run(threads: cores, seconds: seconds) { _ in
            let mlp = KernelBench.MLPCase(architecture: MLPArchitecture(inputs: 784, hidden: hidden, classes: 10), batch: batch)
            return { mlp.step() }
        }
        return runs.reduce(0) { $0 + Double(batch * $1.steps) / max(1e-9, $1.wallSeconds) }
    }

    /// From timed repeats (steps, seconds each): the fastest repeat's examples/s, and the rate
    /// sustained over all of them (their examples over their seconds); zeros without a repeat.
    public static func rates(batch: Int, repeats: [(steps: Double, seconds: Double)]) -> (best: Double, sustained: Double) {
        let timed = repeats.filter { $0.steps > 0 && $0.seconds > 0 }
        guard !timed.isEmpty else { return (0, 0) }
        let best = timed.map { Double(batch) * $0.steps / $0.seconds }.max() ?? 0
        let sustained = Double(batch) * timed.reduce(0) { $0 + $1.steps } / timed.reduce(0) { $0 + $1.seconds }
        return (best, sustained)
    }

    public static func run(_ c: Configuration, note: (String) -> Void = { _ in }) throws -> Result {
        let temporary = c.jobDirectory == nil
        let jobDirectory = c.jobDirectory ?? NSTemporaryDirectory() + "trainyard-bench-cluster-\(UInt32.random(in: 0...UInt32.max))"
        defer { if temporary { Files.remove(jobDirectory) } }
        let settings = try settings(c, jobDirectory: jobDirectory)
        let cores = ProcessInfo.processInfo.activeProcessorCount

        note("one-thread reference (\(c.referenceSeconds) s)…")
        let reference = oneThreadRate(hidden: c.hidden, batch: c.batch, seconds: c.referenceSeconds)

        let loadBefore = Calibration.measureBackgroundLoad(cores: cores)
        note("running the job (\(settings.topology), \(c.steps) steps)…")
        var options = Launcher.Options()
        options.showProgress = false
        let launchWall = MonotonicClock.wallNow()
        let launcher = try Launcher(settings: settings, options: options)
        let summary = try launcher.run()
        try Signals.checkInterrupted(summary.outcome, "bench cluster")

        let loadAfter = Calibration.measureBackgroundLoad(cores: cores)
        note("one-thread reference again (\(c.referenceSeconds) s)…")
        let again = oneThreadRate(hidden: c.hidden, batch: c.batch, seconds: c.referenceSeconds)
        try Signals.checkInterrupted("bench cluster")
        note("every core at once (\(c.referenceSeconds) s)…")
        let allCores = allCoresRate(cores: cores, hidden: c.hidden, batch: c.batch, seconds: c.referenceSeconds)
        try Signals.checkInterrupted("bench cluster")

        let records = MetricsLog(jobDirectory: launcher.jobDirectory).records()
        let train = records.filter { $0["kind"] == "train" }.compactMap { r -> (time: Double, step: Int)? in
            guard let t = r["time"]?.doubleValue, let s = r["step"]?.intValue else { return nil }
            return (t, s)
        }.sorted { $0.time < $1.time }
        let profiles = records.filter { $0["kind"] == "profile" }.compactMap { r in r["task"]?.stringValue.map { TaskProfile(task: $0, record: r) } }
        var result = Result(configuration: c, cores: cores, oneThreadExamplesPerSecond: max(reference.best, again.best),
                      // A synchronous step trains the batches of every replica it aggregates.
                      steadyExamplesPerSecond: steadyRate(train, steps: c.steps).map {
                          $0 * Double(settings.training.batch(perStepWith: settings.topology.chiefs + settings.topology.workers))
                      },
                      launchToFirstStep: train.first.map { $0.time - launchWall },
                      wallSeconds: summary.wallSeconds, status: summary.outcome.status.rawValue, reason: summary.outcome.reason,
                      steps: summary.steps, finalLoss: summary.finalLoss, profiles: profiles.sorted { order($0.task) < order($1.task) },
                      jobDirectory: temporary ? "" : launcher.jobDirectory)
        result.oneThreadSustainedExamplesPerSecond = max(reference.sustained, again.sustained)
        result.allCoresExamplesPerSecond = allCores
        result.backgroundLoad = (loadBefore, loadAfter)
        return result
    }

    /// Global steps per second in the steady state: from the first record at or past 20% of the
    /// steps to the last one, so the start (processes, data, the start barrier) and the end do not count.
    public static func steadyRate(_ points: [(time: Double, step: Int)], steps: Int) -> Double? {
        guard let first = points.first(where: { $0.step >= steps / 5 }), let last = points.last,
              last.time - first.time > 0.05, last.step > first.step else { return nil }
        return Double(last.step - first.step) / (last.time - first.time)
    }

    static func order(_ task: String) -> String {
        (task.hasPrefix("chief") || task.hasPrefix("master") ? "0" : task.hasPrefix("worker") ? "1" : "2") + task
    }

    // MARK: Report

    /// The CPU a task used, split: compute (trainers), the wire (encode, decode, send, receive,
    /// waiting for headers: poll and its wake-ups), updates and other requests under the ps's lock,
    /// and the rest (start-up, data, logs, the training loop's own bookkeeping).
    public static func cpuSplit(_ p: TaskProfile) -> [(String, Double)] {
        func cpu(_ name: String) -> Double { p.record[name + "_cpu_seconds"]?.doubleValue ?? 0 }
        let total = p.record["cpu_seconds"]?.doubleValue ?? 0
        let compute = cpu("compute")
        let wire = ["encode", "decode", "send", "receive", "wait_header"].reduce(0) { $0 + cpu($1) }
        let ps = cpu("update") + cpu("handle")
        let data = cpu("data")
        // Pull and push calls less their wire work: gathering and scattering shards, bookkeeping.
        let shards = max(0, cpu("pull") + cpu("push") - wire)
        return [("compute", compute), ("data", data), ("wire", wire), ("shard_copies", shards), ("ps_requests", ps),
                ("other", max(0, total - compute - data - wire - shards - ps))]
    }

    /// The share of the whole job's CPU (every task's) that went into computing gradients: what the
    /// cluster would reach of its compute bound on cores it had to itself (less the kernel's own
    /// per-process slowdown), however busy this machine was.
    public static func computeShare(_ r: Result) -> Double? {
        let total = r.profiles.reduce(0) { $0 + ($1.record["cpu_seconds"]?.doubleValue ?? 0) }
        let compute = r.profiles.reduce(0) { $0 + ($1.record["compute_cpu_seconds"]?.doubleValue ?? 0) }
        return total > 0 ? compute / total : nil
    }

    /// A trainer's time split over its training span (first pull to last push), in fractions.
    public static func trainerSplit(_ p: TaskProfile) -> [(String, Double)]? {
        guard let span = p.record["training_seconds"]?.doubleValue, span > 0 else { return nil }
        let compute = p.seconds("compute"), pull = p.seconds("pull"), push = p.seconds("push")
        return [("compute", compute / span), ("pull", pull / span), ("push", push / span),
                ("other", max(0, span - compute - pull - push) / span)]
    }

    public static func json(_ r: Result) -> JSONValue {
        func round(_ x: Double, _ digits: Double = 1000) -> JSONValue { .number((x * digits).rounded() / digits) }
        let c = r.configuration
        let tasks: [JSONValue] = r.profiles.map { p in
            var fields: [(String, JSONValue)] = [("task", .string(p.task))]
            if case .object(let all) = p.record {
                fields += all.filter { !["task", "kind", "time"].contains($0.0) }
            }
            if let split = trainerSplit(p) {
                fields.append(("fractions", .object(split.map { ($0.0, round($0.1)) })))
            }
            fields.append(("cpu_split_seconds", .object(cpuSplit(p).map { ($0.0, round($0.1)) })))
            return .object(fields)
        }
        let sustainedFraction: JSONValue = r.fractionOfSustained.map { round($0) } ?? .null
        let allCores: JSONValue = .number(r.allCoresExamplesPerSecond.rounded())
        let allCoresFraction: JSONValue = r.fractionOfAllCores.map { round($0) } ?? .null
        return .object([
            ("model", .string(MLPArchitecture(inputs: 784, hidden: c.hidden, classes: 10).description)),
            ("batch", .number(Double(c.batch))), ("workers", .number(Double(c.workers))), ("ps", .number(Double(c.parameterServers))),
            ("steps", .number(Double(c.steps))), ("extra_arguments", .array(c.extraArguments.map { .string($0) })),
            ("kernel", .string(KernelBackend.active.rawValue)),
            ("status", .string(r.status)), ("reason", .string(r.reason)),
            ("cores", .number(Double(r.cores))),
            ("one_thread_examples_per_sec", .number(r.oneThreadExamplesPerSecond.rounded())),
            ("compute_bound_examples_per_sec", .number(r.computeBound.rounded())),
            ("examples_per_sec", r.steadyExamplesPerSecond.map { .number($0.rounded()) } ?? .null),
            ("fraction_of_bound", r.fraction.map { round($0) } ?? .null),
            ("one_thread_sustained_examples_per_sec", .number(r.oneThreadSustainedExamplesPerSecond.rounded())),
            ("fraction_of_sustained_bound", sustainedFraction),
            ("all_cores_examples_per_sec", allCores), ("fraction_of_all_cores", allCoresFraction),
            ("compute_share_of_job_cpu", computeShare(r).map { round($0) } ?? .null),
            ("launch_to_first_step_seconds", r.launchToFirstStep.map { round($0) } ?? .null),
            ("wall_seconds", round(r.wallSeconds)),
            ("background_load_before", round(r.backgroundLoad.before, 100)), ("background_load_after", round(r.backgroundLoad.after, 100)),
            ("machine_was_busy", .bool(r.machineWasBusy)),
            ("final_loss", r.finalLoss.map { round($0, 10000) } ?? .null),
            ("tasks", .array(tasks)),
        ])
    }

    public static func table(_ r: Result) -> String {
        let c = r.configuration
        var lines: [String] = []
        let model = MLPArchitecture(inputs: 784, hidden: c.hidden, classes: 10).description
        lines.append("trainyard cluster benchmark: MLP \(model), batch \(c.batch), SGD, chief + \(c.workers) workers + \(c.parameterServers) ps, \(c.steps) steps"
                     + (c.extraArguments.isEmpty ? "" : " (" + c.extraArguments.joined(separator: " ") + ")"))
        lines.append("job \(r.status) in \(String(format: "%.1f", r.wallSeconds)) s: \(r.reason)")
        if r.machineWasBusy {
            lines.append(String(format: "note: other programs kept about %.1f (before) and %.1f (after) processes busy on this machine: examples/s and the fraction of the bound are not this build's; the CPU split and the compute share are", r.backgroundLoad.before, r.backgroundLoad.after))
        }
        let psConnections = r.profiles.reduce((tcp: 0, local: 0)) { sum, p in
            (sum.tcp + (p.record["connections_tcp"]?.intValue ?? 0), sum.local + (p.record["connections_local"]?.intValue ?? 0))
        }
        if psConnections.tcp + psConnections.local > 0 {
            let shared = r.profiles.reduce(0) { $0 + ($1.record["frames_shared_memory"]?.intValue ?? 0) }
            lines.append("connections the ps accepted: \(psConnections.local) over the same-host Unix-domain sockets, \(psConnections.tcp) over TCP;"
                         + " frames the ps sent and received with their arrays in shared memory: \(shared)")
        }
        lines.append("")
        lines.append(String(format: "compute bound      %8.0f examples/s  (%d cores × %.0f one-thread, kernel %@, this run)",
                            r.computeBound, r.cores, r.oneThreadExamplesPerSecond, KernelBackend.active.rawValue))
        if let rate = r.steadyExamplesPerSecond, let f = r.fraction {
            lines.append(String(format: "steady state       %8.0f examples/s  = %.0f%% of the bound", rate, f * 100))
            if let g = r.fractionOfSustained {
                lines.append(String(format: "                                        = %.0f%% of %.0f (%d cores × %.0f, the one-thread rate sustained over its repeats, not its best one)",
                                    g * 100, r.sustainedBound, r.cores, r.oneThreadSustainedExamplesPerSecond))
            }
            if let a = r.fractionOfAllCores {
                lines.append(String(format: "                                        = %.0f%% of %.0f (%d threads training at once, one a core, summed)",
                                    a * 100, r.allCoresExamplesPerSecond, r.cores))
            }
        } else {
            lines.append("steady state       –  (too few train records: use more --steps)")
        }
        lines.append("launch→first step  " + (r.launchToFirstStep.map { String(format: "%8.3f s", $0) } ?? "–"))
        if let share = computeShare(r) {
            lines.append(String(format: "compute share      %8.0f%% of the job's CPU (all tasks) went into gradients", share * 100))
        }
        lines.append("")
        lines.append("where each task's CPU went (seconds, from the tasks' own counters):")
        lines.append("  task          cpu   compute     data     wire   shards  ps-reqs    other")
        for p in r.profiles {
            let split = cpuSplit(p)
            lines.append("  " + p.task.padding(toLength: 10, withPad: " ", startingAt: 0)
                         + String(format: "%7.2f  ", p.record["cpu_seconds"]?.doubleValue ?? 0)
                         + split.map { String(format: "%7.2f", $0.1) }.joined(separator: "  "))
        }
        lines.append("")
        lines.append("where each task's wall time went (seconds, from the tasks' own counters):")
        lines.append("  task        span     cpu   compute    pull    push  | encode  decode    send  recv  wait-hdr | lock-wait update  other-req")
        for p in r.profiles {
            let span = p.record["training_seconds"]?.doubleValue ?? p.record["serving_seconds"]?.doubleValue ?? 0
            let cpu = p.record["cpu_seconds"]?.doubleValue ?? 0
            func s(_ name: String) -> String { String(format: "%7.2f", p.seconds(name)) }
            lines.append("  " + p.task.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: "%6.2f  %6.2f  ", span, cpu)
                         + s("compute") + " " + s("pull") + " " + s("push") + "  |" + s("encode") + " " + s("decode") + " " + s("send") + " "
                         + s("receive") + " " + s("wait_header") + "  |" + s("lock_wait") + " " + s("update") + " " + s("handle"))
        }
        let splits = r.profiles.compactMap { p in trainerSplit(p).map { (p.task, $0) } }
        if !splits.isEmpty {
            lines.append("")
            lines.append("trainers' training span: " + splits.map { task, split in
                task + " " + split.map { String(format: "%@ %.0f%%", $0.0, $0.1 * 100) }.joined(separator: " ")
            }.joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }
}
