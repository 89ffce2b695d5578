import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardKernel
import TrainyardPlatform

/// `trainyard bench kernel`: GEMM GFLOP/s in the three orientations and MLP training examples/s,
/// side by side with numpy (single-threaded OpenBLAS) on the same shapes when it is installed, and
/// the MLP beside TensorFlow training the same model on one thread when `import tensorflow` works.
///
/// Every case is warmed up, then timed `--repeat` times, each repeat calling the operation until
/// at least `--min-time` seconds have passed. Ours and numpy's repeats alternate, so a burst of
/// load from another process hits both sides alike; the report gives the best and the median.
enum BenchCommand {
    static let help = HelpPage(
        usage: "trainyard bench SUITE [OPTIONS]",
        summary: "Measures Trainyard against references taken in the same run, so the figures are ratios that survive a busy machine.",
        subcommands: [
            .init(words: ["kernel"], usage: "trainyard bench kernel [--json] [--repeat N] [--min-time S] [--no-reference] [--no-tensorflow] [--cpu-time] [--python PATH]",
                  summary: "Measures the training kernel: GEMM GFLOP/s and MLP examples/s, against numpy (single-threaded OpenBLAS) and TensorFlow (one thread, same MLP) in the same run when they are installed.\n\nGEMM shapes (M×K×N): 128x784x256, 256x784x512, 512x512x512, as nn (A·B), nt (A·Bᵀ) and tn (Aᵀ·B).\nMLP: 784-256-128-10, ReLU, softmax cross-entropy, batch 128, one thread: forward, backward and an SGD update.\nTRAINYARD_KERNEL=portable|avx2|avx512 forces a kernel build (Docs/kernel.md).",
                  options: options),
            .init(words: ["cluster"], usage: "trainyard bench cluster [--json] [--workers N] [--ps M] [--hidden A,B,…] [--batch B] [--steps S] [--reference-seconds S] [--job-dir DIR] [-- TRAIN-OPTIONS]",
                  summary: "Runs one real training job (chief, workers and ps as processes; MLP 784-256-128-10, batch 128, SGD, chief + 2 workers + 2 ps by default) and reports its steady-state examples/s (from 20% of the steps on), launch to its first finished step, the compute bound (cores × this build's one-thread MLP training rate on the same model and batch, measured in this run before and after the job) and the fraction of it reached, and where each task's time went from the tasks' own counters (compute, pull, push; encoding, decoding, sending, receiving; the ps's lock waits and updates). Options after -- go to the job as `trainyard train` takes them (--learning-rate 0.05, say).",
                  options: clusterOptions),
            .init(words: ["transport"], usage: "trainyard bench transport [--json] [--sizes MB,…] [--transport tcp|local|both] [--repeat N] [--min-time S] [--no-iperf]",
                  summary: "Pulls and pushes one shard (1, 4 and 16 MB by default) between this process, as the chief, and a real trainyard-ps over the wire (hello with HMAC challenge-response, frames, limits), against a plain socket copy loop of the same bytes between this process and a child in the same run, and iperf3 over loopback when it is on PATH; over TCP loopback and over the same-host fast path (Unix-domain sockets, as the launcher sets them up), each wire against the copy loop over the same kind of socket. Reports MB/s and the ratio wire/copy.",
                  options: transportOptions),
        ])

    static let options: [(String, String)] = [
        ("--json", "print one JSON document instead of the table"),
        ("--repeat N", "timed repeats per case; the best and the median are reported (default 10)"),
        ("--min-time S", "seconds each repeat runs at least (default 0.05, so ≥ 0.5 s per case; the MLP runs 3× longer)"),
        ("--no-reference", "skip the numpy and TensorFlow references"),
        ("--no-tensorflow", "skip the TensorFlow MLP reference (it takes a few seconds to import)"),
        ("--cpu-time", "time every side by its own process CPU time instead of the wall clock, so waiting for a core on a loaded machine is not counted"),
        ("--python PATH", "the Python that runs the references (default: python3 on PATH)"),
    ]

    static let clusterOptions: [(String, String)] = [
        ("--json", "print one JSON document instead of the table"),
        ("--workers N", "worker tasks besides the chief (default 2)"),
        ("--ps M", "parameter servers (default 2)"),
        ("--hidden A,B,…", "hidden layer widths, or none (default 256,128)"),
        ("--batch B", "examples per step per training task (default 128)"),
        ("--steps S", "global steps of the job (default 3000)"),
        ("--reference-seconds S", "seconds of one-thread MLP timing before and after the job (default 1)"),
        ("--job-dir DIR", "run the job there and keep it (default: a temporary folder, removed)"),
    ]

    static let transportOptions: [(String, String)] = [
        ("--json", "print one JSON document instead of the table"),
        ("--sizes MB,…", "shard sizes in MB (10⁶ bytes; default 1,4,16)"),
        ("--transport tcp|local|both", "TCP loopback, the same-host Unix-domain sockets, or both (default both)"),
        ("--repeat N", "timed repeats per case; the best and the median are reported (default 5)"),
        ("--min-time S", "seconds each repeat runs at least (default 0.2)"),
        ("--no-iperf", "skip iperf3 even when it is on PATH"),
    ]

    /// M×K×N: the FLOP count is 2·M·K·N in every orientation.
    static let shapes: [(m: Int, k: Int, n: Int)] = [(128, 784, 256), (256, 784, 512), (512, 512, 512)]
    static let orientations = ["nn", "nt", "tn"]

    static func run(_ argv: [String]) throws -> ExitCode {
        switch argv.first {
        case "cluster": return try runCluster(Array(argv.dropFirst()))
        case "transport": return try runTransport(Array(argv.dropFirst()))
        default: return try runKernel(argv)
        }
    }

    static func runCluster(_ argv: [String]) throws -> ExitCode {
        let split = argv.firstIndex(of: "--")
        var args = Arguments(split.map { Array(argv[..<$0]) } ?? argv)
        var c = ClusterBench.Configuration()
        let json = try args.flag("--json")
        c.workers = try args.int("--workers", in: 0...64) ?? c.workers
        c.parameterServers = try args.int("--ps", in: 1...64) ?? c.parameterServers
        if let hidden = try args.value("--hidden") {
            do { c.hidden = try TrainSettings.parseHidden(hidden) } catch { throw UsageError("--hidden: \(error)") }
        }
        c.batch = try args.int("--batch", in: 1...65_536) ?? c.batch
        c.steps = try args.int("--steps", in: 10...10_000_000) ?? c.steps
        c.referenceSeconds = try args.double("--reference-seconds", in: 0.1...60) ?? c.referenceSeconds
        c.jobDirectory = try args.value("--job-dir")
        try args.finish()
        if let split { c.extraArguments = Array(argv[(split + 1)...]) }
        _ = try ClusterBench.settings(c, jobDirectory: "/tmp/check")  // options after -- are checked before anything runs
        let result = try ClusterBench.run(c, note: { if !json { Posix.write($0 + "\n", to: 2) } })
        print(json ? ClusterBench.json(result).prettySerialized() : ClusterBench.table(result))
        return result.status == "SUCCEEDED" ? .success : .failure
    }

    static func runTransport(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        var c = TransportBench.Configuration()
        let json = try args.flag("--json")
        if let sizes = try args.value("--sizes") {
            let parsed = sizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil && (1...256).contains($0!) }) else {
                throw UsageError("--sizes takes shard sizes in MB from 1 to 256, separated by commas (1,4,16), not \"\(sizes)\"")
            }
            c.sizesMB = parsed.map { $0! }
        }
        if let transport = try args.value("--transport") {
            switch transport {
            case "tcp", "local": c.transports = [transport]
            case "both": c.transports = ["tcp", "local"]
            default: throw UsageError("--transport takes tcp, local or both, not \"\(transport)\"")
            }
        }
        c.repeats = try args.int("--repeat", in: 1...1000) ?? c.repeats
        c.minTime = try args.double("--min-time", in: 0.001...60) ?? c.minTime
        c.iperf = !(try args.flag("--no-iperf"))
        try args.finish()
        let result = try TransportBench.run(c, note: { if !json { Posix.write($0 + "\n", to: 2) } })
        print(json ? TransportBench.json(result).prettySerialized() : TransportBench.table(result))
        return .success
    }

    static func runKernel(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        let json = try args.flag("--json")
        let repeats = try args.int("--repeat", in: 1...1000) ?? 10
        let minTime = try args.double("--min-time", in: 0.001...60) ?? 0.05
        let noReference = try args.flag("--no-reference")
        let noTensorFlow = try args.flag("--no-tensorflow")
        let cpuTime = try args.flag("--cpu-time")
        let python = try args.value("--python")
        guard let what = args.positional() else {
            throw UsageError("bench needs a suite: `trainyard bench kernel`, `trainyard bench cluster` or `trainyard bench transport`")
        }
        guard what == "kernel" else { throw UsageError("unknown bench suite \"\(what)\" (the suites are kernel, cluster and transport)") }
        try args.finish()

        let warmUp = max(0.05, minTime / 2)
        var reference: KernelBench.NumpyReference?
        var referenceNote: String
        if noReference {
            referenceNote = "skipped (--no-reference)"
        } else {
            do {
                let r = try KernelBench.NumpyReference(python: python)
                reference = r
                referenceNote = "numpy \(r.numpyVersion), \(r.blas), 1 thread"
            } catch let e as RuntimeFailure {
                referenceNote = e.message
            }
        }
        defer { reference?.close() }

        if !json {
            print("trainyard kernel benchmark: kernel \(KernelBackend.active.rawValue), 1 thread, \(repeats) repeats of ≥ \(minTime) s \(cpuTime ? "of process CPU time" : "wall"), best (median)")
            print("reference: " + (reference == nil && !noReference ? "absent: " : "") + referenceNote)
            print("")
            print("GEMM  M×K×N         orient   GFLOP/s best (median)    numpy best (median)    ours/numpy")
        }

        var gemmRows: [JSONValue] = []
        for shape in shapes {
            for orientation in orientations {
                let ours = KernelBench.GemmCase(m: shape.m, k: shape.k, n: shape.n, orientation: orientation)
                var ourTimes: [Double] = []
                var theirTimes: [Double] = []
                var referenceError: String?
                _ = KernelBench.timePerCall(minTime: warmUp, ours.call)
                var useReference = reference != nil
                if let r = reference {
                    do { try r.setUp(orientation: orientation, m: shape.m, k: shape.k, n: shape.n) } catch let e as RuntimeFailure {
                        referenceError = e.message
                        useReference = false
                    }
                }
                for _ in 0..<repeats {
                    try Signals.checkInterrupted("bench kernel")
                    ourTimes.append(KernelBench.timePerCall(minTime: minTime, cpu: cpuTime, ours.call))
                    if useReference, let r = reference {
                        do { theirTimes.append(try r.timePerCall(minTime: minTime, cpu: cpuTime)) } catch let e as RuntimeFailure {
                            referenceError = e.message
                            useReference = false
                        }
                    }
                }
                ours.release()
                let flops = 2.0 * Double(shape.m * shape.k * shape.n)
                let ourBest = flops / ourTimes.min()! / 1e9
                let ourMedian = flops / KernelBench.median(ourTimes) / 1e9
                let shapeName = "\(shape.m)x\(shape.k)x\(shape.n)"
                var fields: [(String, JSONValue)] = [
                    ("shape", .string(shapeName)), ("m", .number(Double(shape.m))), ("k", .number(Double(shape.k))), ("n", .number(Double(shape.n))),
                    ("orientation", .string(orientation)), ("gflops", .number(round3(ourBest))), ("gflops_median", .number(round3(ourMedian))),
                ]
                var referenceText = "–"
                var ratioText = "–"
                if !theirTimes.isEmpty, theirTimes.count == ourTimes.count {
                    let theirBest = flops / theirTimes.min()! / 1e9
                    let theirMedian = flops / KernelBench.median(theirTimes) / 1e9
                    let ratio = ourBest / theirBest
                    fields += [("numpy_gflops", .number(round3(theirBest))), ("numpy_gflops_median", .number(round3(theirMedian))),
                               ("ratio", .number(round3(ratio))), ("ratio_median", .number(round3(ourMedian / theirMedian)))]
                    referenceText = pad(String(format: "%.1f (%.1f)", theirBest, theirMedian), 20)
                    ratioText = String(format: "%.2f (%.2f)", ratio, ourMedian / theirMedian)
                } else {
                    fields += [("numpy_gflops", .null), ("ratio", .null)]
                    if let referenceError { fields.append(("reference_error", .string(referenceError))) }
                }
                gemmRows.append(.object(fields))
                if !json {
                    print("      " + pad(shapeName, 14) + pad(orientation, 9) + pad(String(format: "%.1f (%.1f)", ourBest, ourMedian), 25)
                          + pad(referenceText, 23) + ratioText)
                    if let referenceError { print("      numpy failed on this case: \(referenceError)") }
                }
            }
        }

        try Signals.checkInterrupted("bench kernel")
        let mlp = KernelBench.MLPCase()
        // TensorFlow starts only now, so its import does not load the CPU under the GEMM timings.
        var tensorFlow: KernelBench.TensorFlowReference?
        var tensorFlowNote: String
        if noReference || noTensorFlow {
            tensorFlowNote = noReference ? "skipped (--no-reference)" : "skipped (--no-tensorflow)"
        } else {
            do {
                let t = try KernelBench.TensorFlowReference(python: python)
                tensorFlow = t
                try t.setUpMLP(batch: mlp.batch, batches: mlp.batches)
                tensorFlowNote = "TensorFlow \(t.version), \(t.threads) thread, tf.function step, Keras Dense layers, SGD"
            } catch let e as RuntimeFailure {
                tensorFlow?.close()
                tensorFlow = nil
                tensorFlowNote = e.message
            }
        }
        defer { tensorFlow?.close() }
        _ = KernelBench.timePerCall(minTime: warmUp, mlp.step)
        var mlpTimes: [Double] = []
        var tensorFlowTimes: [Double] = []
        for _ in 0..<repeats {
            try Signals.checkInterrupted("bench kernel")
            mlpTimes.append(KernelBench.timePerCall(minTime: minTime * 3, cpu: cpuTime, mlp.step))
            if let t = tensorFlow {
                do { tensorFlowTimes.append(try t.timePerStep(minTime: minTime * 3, cpu: cpuTime)) } catch let e as RuntimeFailure {
                    tensorFlowNote = "failed: " + e.message
                    t.close()
                    tensorFlow = nil
                    tensorFlowTimes = []
                }
            }
        }
        let examplesBest = Double(mlp.batch) / mlpTimes.min()!
        let examplesMedian = Double(mlp.batch) / KernelBench.median(mlpTimes)
        let flopsPerExample = mlp.flopsPerExample
        var mlpFields: [(String, JSONValue)] = [
            ("architecture", .string(mlp.architecture.description)), ("batch", .number(Double(mlp.batch))),
            ("threads", .number(1)), ("optimizer", .string("sgd")),
            ("examples_per_sec", .number(examplesBest.rounded())), ("examples_per_sec_median", .number(examplesMedian.rounded())),
            ("flops_per_example", .number(flopsPerExample)), ("gflops", .number(round3(examplesBest * flopsPerExample / 1e9))),
            ("last_step_loss", .number(round3(mlp.lastLoss))),
        ]
        var tensorFlowLine: String?
        if let t = tensorFlow, tensorFlowTimes.count == mlpTimes.count {
            let theirBest = Double(mlp.batch) / tensorFlowTimes.min()!
            let theirMedian = Double(mlp.batch) / KernelBench.median(tensorFlowTimes)
            mlpFields += [
                ("tensorflow", .object([("version", .string(t.version)), ("threads", .number(Double(t.threads))),
                                        ("examples_per_sec", .number(theirBest.rounded())),
                                        ("examples_per_sec_median", .number(theirMedian.rounded()))])),
                ("ratio_tensorflow", .number(round3(examplesBest / theirBest))),
                ("ratio_tensorflow_median", .number(round3(examplesMedian / theirMedian))),
            ]
            tensorFlowLine = String(format: "      TensorFlow %@, 1 thread: %.0f examples/s best (median %.0f); ours/TensorFlow %.2f (%.2f)",
                                    t.version, theirBest, theirMedian, examplesBest / theirBest, examplesMedian / theirMedian)
        } else {
            mlpFields.append(("tensorflow", .object([("absent", .string(tensorFlowNote))])))
            mlpFields.append(("ratio_tensorflow", .null))
        }
        let mlpObject: JSONValue = .object(mlpFields)

        if json {
            let doc: JSONValue = .object([
                ("kernel", .string(KernelBackend.active.rawValue)), ("threads", .number(1)),
                ("repeats", .number(Double(repeats))), ("min_time_seconds", .number(minTime)),
                ("clock", .string(cpuTime ? "process-cpu" : "wall")),
                ("reference", reference.map { r in .object([("name", .string("numpy")), ("version", .string(r.numpyVersion)),
                                                             ("blas", .string(r.blas)), ("threads", .number(1))]) }
                    ?? .object([("name", .string("numpy")), ("absent", .string(referenceNote))])),
                ("gemm", .array(gemmRows)),
                ("mlp", mlpObject),
            ])
            print(doc.prettySerialized())
        } else {
            print("")
            print(String(format: "MLP   %@, batch %d, ReLU + softmax CE, forward + backward + SGD, 1 thread:", mlp.architecture.description, mlp.batch))
            print(String(format: "      %.0f examples/s best (median %.0f), %.1f GFLOP/s at %.2f MFLOP/example",
                         examplesBest, examplesMedian, examplesBest * flopsPerExample / 1e9, flopsPerExample / 1e6))
            print(tensorFlowLine ?? "      TensorFlow reference absent: \(tensorFlowNote)")
        }
        return .success
    }

    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}

