import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardKernel

/// `trainyard bench kernel`: GEMM GFLOP/s in the three orientations and MLP training examples/s,
/// side by side with numpy (single-threaded OpenBLAS) on the same shapes when it is installed.
///
/// Every case is warmed up, then timed `--repeat` times, each repeat calling the operation until
/// at least `--min-time` seconds have passed. Ours and numpy's repeats alternate, so a burst of
/// load from another process hits both sides alike; the report gives the best and the median.
enum BenchCommand {
    static let options: [(String, String)] = [
        ("--json", "print one JSON document instead of the table"),
        ("--repeat N", "timed repeats per case; the best and the median are reported (default 10)"),
        ("--min-time S", "seconds each repeat runs at least (default 0.05, so ≥ 0.5 s per case; the MLP runs 3× longer)"),
        ("--no-reference", "skip the numpy reference"),
        ("--python PATH", "the Python that runs the numpy reference (default: python3 on PATH)"),
    ]

    /// M×K×N: the FLOP count is 2·M·K·N in every orientation.
    static let shapes: [(m: Int, k: Int, n: Int)] = [(128, 784, 256), (256, 784, 512), (512, 512, 512)]
    static let orientations = ["nn", "nt", "tn"]

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if try args.flag("--help") {
            print(TrainyardCommand.helpText("trainyard bench kernel [--json] [--repeat N] [--min-time S] [--no-reference]", options)
                + "\n\nGEMM shapes (M×K×N): 128x784x256, 256x784x512, 512x512x512, as nn (A·B), nt (A·Bᵀ) and tn (Aᵀ·B)."
                + "\nMLP: 784-256-128-10, ReLU, softmax cross-entropy, batch 128, one thread: forward, backward and an SGD update.")
            return .success
        }
        let json = try args.flag("--json")
        let repeats = try args.int("--repeat", in: 1...1000) ?? 10
        let minTime = try args.double("--min-time", in: 0.001...60) ?? 0.05
        let noReference = try args.flag("--no-reference")
        let python = try args.value("--python")
        guard let what = args.positional() else {
            throw UsageError("bench needs a suite: `trainyard bench kernel`")
        }
        guard what == "kernel" else { throw UsageError("unknown bench suite \"\(what)\" (the one suite is `kernel`)") }
        try args.finish()

        let warmUp = max(0.05, minTime / 2)
        var reference: NumpyReference?
        var referenceNote: String
        if noReference {
            referenceNote = "skipped (--no-reference)"
        } else {
            do {
                let r = try NumpyReference(python: python)
                reference = r
                referenceNote = "numpy \(r.numpyVersion), \(r.blas), 1 thread"
            } catch let e as RuntimeFailure {
                referenceNote = e.message
            }
        }
        defer { reference?.close() }

        if !json {
            print("trainyard kernel benchmark: kernel \(KernelBackend.active.rawValue), 1 thread, \(repeats) repeats of ≥ \(minTime) s, best (median)")
            print("reference: " + (reference == nil && !noReference ? "absent: " : "") + referenceNote)
            print("")
            print("GEMM  M×K×N         orient   GFLOP/s best (median)    numpy best (median)    ours/numpy")
        }

        var gemmRows: [JSONValue] = []
        for shape in shapes {
            for orientation in orientations {
                let ours = GemmCase(m: shape.m, k: shape.k, n: shape.n, orientation: orientation)
                var ourTimes: [Double] = []
                var theirTimes: [Double] = []
                var referenceError: String?
                _ = timePerCall(minTime: warmUp, ours.call)
                var useReference = reference != nil
                if let r = reference {
                    do { try r.setUp(orientation: orientation, m: shape.m, k: shape.k, n: shape.n) } catch let e as RuntimeFailure {
                        referenceError = e.message
                        useReference = false
                    }
                }
                for _ in 0..<repeats {
                    ourTimes.append(timePerCall(minTime: minTime, ours.call))
                    if useReference, let r = reference {
                        do { theirTimes.append(try r.timePerCall(minTime: minTime)) } catch let e as RuntimeFailure {
                            referenceError = e.message
                            useReference = false
                        }
                    }
                }
                ours.release()
                let flops = 2.0 * Double(shape.m * shape.k * shape.n)
                let ourBest = flops / ourTimes.min()! / 1e9
                let ourMedian = flops / median(ourTimes) / 1e9
                let shapeName = "\(shape.m)x\(shape.k)x\(shape.n)"
                var fields: [(String, JSONValue)] = [
                    ("shape", .string(shapeName)), ("m", .number(Double(shape.m))), ("k", .number(Double(shape.k))), ("n", .number(Double(shape.n))),
                    ("orientation", .string(orientation)), ("gflops", .number(round3(ourBest))), ("gflops_median", .number(round3(ourMedian))),
                ]
                var referenceText = "–"
                var ratioText = "–"
                if !theirTimes.isEmpty, theirTimes.count == ourTimes.count {
                    let theirBest = flops / theirTimes.min()! / 1e9
                    let theirMedian = flops / median(theirTimes) / 1e9
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

        let mlp = MLPCase()
        _ = timePerCall(minTime: warmUp, mlp.step)
        var mlpTimes: [Double] = []
        for _ in 0..<repeats { mlpTimes.append(timePerCall(minTime: minTime * 3, mlp.step)) }
        let examplesBest = Double(mlp.batch) / mlpTimes.min()!
        let examplesMedian = Double(mlp.batch) / median(mlpTimes)
        let flopsPerExample = mlp.flopsPerExample
        let mlpObject: JSONValue = .object([
            ("architecture", .string(mlp.architecture.description)), ("batch", .number(Double(mlp.batch))),
            ("threads", .number(1)), ("optimizer", .string("sgd")),
            ("examples_per_sec", .number(examplesBest.rounded())), ("examples_per_sec_median", .number(examplesMedian.rounded())),
            ("flops_per_example", .number(flopsPerExample)), ("gflops", .number(round3(examplesBest * flopsPerExample / 1e9))),
            ("last_step_loss", .number(round3(mlp.lastLoss))),
        ])

        if json {
            let doc: JSONValue = .object([
                ("kernel", .string(KernelBackend.active.rawValue)), ("threads", .number(1)),
                ("repeats", .number(Double(repeats))), ("min_time_seconds", .number(minTime)),
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
        }
        return .success
    }

    // MARK: - Timing

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Seconds per call of `body`, calling it until `minTime` has passed.
    static func timePerCall(minTime: Double, _ body: () -> Void) -> Double {
        var calls = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            body()
            calls += 1
            elapsed = now() - start
        } while elapsed < minTime
        return elapsed / Double(calls)
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}

/// One GEMM case with its operands laid out as the orientation receives them.
private final class GemmCase {
    let m: Int, k: Int, n: Int
    let orientation: String
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>
    let workspace = GemmWorkspace()

    init(m: Int, k: Int, n: Int, orientation: String) {
        self.m = m; self.k = k; self.n = n
        self.orientation = orientation
        a = .allocate(capacity: m * k)
        b = .allocate(capacity: k * n)
        c = .allocate(capacity: m * n)
        var rng = SplitMix64(seed: 7, stream: 1)
        for i in 0..<m * k { a[i] = Float(rng.nextGaussian()) }
        for i in 0..<k * n { b[i] = Float(rng.nextGaussian()) }
        c.initialize(repeating: 0, count: m * n)
    }

    func release() {
        a.deallocate(); b.deallocate(); c.deallocate()
    }

    func call() {
        switch orientation {
        case "nn": Gemm.nn(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, workspace: workspace)   // A m×k, B k×n
        case "nt": Gemm.nt(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: c, ldc: n, workspace: workspace)   // A m×k, B n×k
        default: Gemm.tn(m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n, c: c, ldc: n, workspace: workspace)     // A k×m, B k×n
        }
    }
}

/// MLP training steps on synthetic data: loss and gradients, then SGD on every parameter.
private final class MLPCase {
    let architecture = MLPArchitecture(inputs: 784, hidden: [256, 128], classes: 10)
    let batch = 128
    let batches = 8
    let trainer: MLPTrainer
    var parameters: [Float]
    var gradients: [Float]
    let data: Dataset
    var next = 0
    var lastLoss = 0.0

    init() {
        trainer = MLPTrainer(architecture: architecture, maxBatch: batch)
        parameters = architecture.initialParameters(seed: 1)
        gradients = [Float](repeating: 0, count: architecture.parameterCount)
        data = SyntheticDataset(seed: 3, inputs: 784, classes: 10, examples: batch * batches).make(Array(0..<batch * batches))
    }

    /// FLOPs of one example's step: forward (2·Σ w_l·w_{l+1}), weight gradients (the same), and input
    /// gradients for every layer but the first (its input needs none).
    var flopsPerExample: Double {
        let w = architecture.widths
        var macs = 0
        for l in 0..<architecture.layerCount {
            macs += 2 * w[l] * w[l + 1]
            if l > 0 { macs += w[l] * w[l + 1] }
        }
        return 2 * Double(macs)
    }

    func step() {
        let start = next * batch
        next = (next + 1) % batches
        let count = parameters.count
        parameters.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeMutableBufferPointer { g in
                data.features.withUnsafeBufferPointer { x in
                    data.labels.withUnsafeBufferPointer { y in
                        let r = trainer.lossAndGradients(parameters: p.baseAddress!, inputs: x.baseAddress! + start * 784,
                                                         labels: y.baseAddress! + start, rows: batch, gradients: g.baseAddress!)
                        lastLoss = r.loss
                    }
                }
                Updates.sgd(count: count, params: p.baseAddress!, gradients: g.baseAddress!, learningRate: 0.01)
            }
        }
    }
}

/// numpy in a child Python process, driven line by line over pipes so its repeats can alternate
/// with ours. Single-threaded: OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS are 1.
private final class NumpyReference {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    var buffer = Data()
    private(set) var numpyVersion = "?"
    private(set) var blas = "?"

    static let script = #"""
import sys, json, time
try:
    import numpy as np
except Exception as e:
    print(json.dumps({"error": "numpy not importable: %s" % e})); sys.stdout.flush(); sys.exit(0)
blas = "unknown BLAS"
try:
    cfg = np.show_config(mode="dicts")
    b = cfg.get("Build Dependencies", {}).get("blas", {})
    blas = "%s %s" % (b.get("name", "?"), b.get("version", ""))
except Exception:
    pass
print(json.dumps({"numpy": np.__version__, "blas": blas.strip()})); sys.stdout.flush()
f = None
for line in sys.stdin:
    w = line.split()
    try:
        if not w or w[0] == "quit":
            break
        if w[0] == "case":
            o, m, k, n = w[1], int(w[2]), int(w[3]), int(w[4])
            rng = np.random.default_rng(7)
            if o == "nn":
                a = rng.standard_normal((m, k), dtype=np.float32); b = rng.standard_normal((k, n), dtype=np.float32)
                x, y = a, b
            elif o == "nt":
                a = rng.standard_normal((m, k), dtype=np.float32); b = rng.standard_normal((n, k), dtype=np.float32)
                x, y = a, b.T
            else:
                a = rng.standard_normal((k, m), dtype=np.float32); b = rng.standard_normal((k, n), dtype=np.float32)
                x, y = a.T, b
            c = np.empty((m, n), dtype=np.float32)
            f = lambda: np.matmul(x, y, out=c)
            warm = time.perf_counter()
            while time.perf_counter() - warm < 0.05:
                f()
            print(json.dumps({"ok": True}))
        elif w[0] == "time":
            t_min = float(w[1]); calls = 0
            start = time.perf_counter()
            while True:
                f(); calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= t_min:
                    break
            print(json.dumps({"seconds_per_call": elapsed / calls}))
        else:
            print(json.dumps({"error": "unknown command " + w[0]}))
    except Exception as e:
        print(json.dumps({"error": str(e)}))
    sys.stdout.flush()
"""#

    init(python: String?) throws {
        var environment = ProcessInfo.processInfo.environment
        for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"] {
            environment[name] = "1"
        }
        process.environment = environment
        if let python {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-c", Self.script]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", Self.script]
        }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        do { try process.run() } catch {
            throw RuntimeFailure("cannot start \(python ?? "python3"): \(error.localizedDescription)")
        }
        let hello = try reply()
        if let error = hello["error"]?.stringValue { close(); throw RuntimeFailure(error) }
        numpyVersion = hello["numpy"]?.stringValue ?? "?"
        blas = hello["blas"]?.stringValue ?? "?"
    }

    func setUp(orientation: String, m: Int, k: Int, n: Int) throws {
        let r = try command("case \(orientation) \(m) \(k) \(n)")
        if let error = r["error"]?.stringValue { throw RuntimeFailure(error) }
    }

    func timePerCall(minTime: Double) throws -> Double {
        let r = try command("time \(minTime)")
        guard let s = r["seconds_per_call"]?.doubleValue, s > 0 else {
            throw RuntimeFailure(r["error"]?.stringValue ?? "numpy gave no timing")
        }
        return s
    }

    func close() {
        if process.isRunning {
            try? input.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    private func command(_ line: String) throws -> JSONValue {
        guard process.isRunning else { throw RuntimeFailure("the numpy process has exited") }
        do { try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8)) } catch {
            throw RuntimeFailure("cannot write to the numpy process: \(error.localizedDescription)")
        }
        return try reply()
    }

    /// The next line the child prints, parsed as JSON.
    private func reply() throws -> JSONValue {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                do { return try JSONParser.parse(line) } catch {
                    throw RuntimeFailure("numpy reference printed something that is not JSON: \(line.prefix(200))")
                }
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                process.waitUntilExit()
                throw RuntimeFailure("python3 exited (status \(process.terminationStatus)) before answering; is it installed?")
            }
            buffer.append(chunk)
        }
    }
}
