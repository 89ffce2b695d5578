import Dispatch
import Foundation
import TrainyardCore
import TrainyardKernel
import TrainyardPlatform

/// The pieces of `trainyard bench kernel`: GEMM and MLP cases on this build's kernel, timing, and
/// numpy (single-threaded OpenBLAS) in a child Python process as the same-run reference.
public enum KernelBench {
    // MARK: - Timing

    /// Seconds on the wall clock, or (`cpu`) of this process's CPU time: the time it actually ran,
    /// leaving out the time other load kept it waiting for a core.
    public static func now(cpu: Bool = false) -> Double {
        if cpu {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }
        return Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
    }

    /// Seconds per call of `body`, calling it until `minTime` has passed (on the chosen clock).
    public static func timePerCall(minTime: Double, cpu: Bool = false, _ body: () -> Void) -> Double {
        var calls = 0
        let start = now(cpu: cpu)
        var elapsed = 0.0
        repeat {
            body()
            calls += 1
            elapsed = now(cpu: cpu) - start
        } while elapsed < minTime
        return elapsed / Double(calls)
    }

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// One GEMM case with its operands laid out as the orientation receives them.
    public final class GemmCase {
        public let m: Int, k: Int, n: Int
        public let orientation: String
        public let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>
        let workspace = GemmWorkspace()

        public init(m: Int, k: Int, n: Int, orientation: String) {
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

        public func release() {
            a.deallocate(); b.deallocate(); c.deallocate()
        }

        public func call() {
            switch orientation {
            case "nn": Gemm.nn(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, workspace: workspace)   // A m×k, B k×n
            case "nt": Gemm.nt(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: c, ldc: n, workspace: workspace)   // A m×k, B n×k
            default: Gemm.tn(m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n, c: c, ldc: n, workspace: workspace)     // A k×m, B k×n
            }
        }
    }

    /// MLP training steps on synthetic data: loss and gradients, then SGD on every parameter.
    public final class MLPCase {
        public let architecture: MLPArchitecture
        public let batch: Int
        public let batches = 8
        public let trainer: MLPTrainer
        public var parameters: [Float]
        public var gradients: [Float]
        public let data: Dataset
        public var next = 0
        public var lastLoss = 0.0

        public init(architecture: MLPArchitecture = MLPArchitecture(inputs: 784, hidden: [256, 128], classes: 10), batch: Int = 128) {
            self.architecture = architecture
            self.batch = batch
            trainer = MLPTrainer(architecture: architecture, maxBatch: batch)
            parameters = architecture.initialParameters(seed: 1)
            gradients = [Float](repeating: 0, count: architecture.parameterCount)
            data = SyntheticDataset(seed: 3, inputs: architecture.inputs, classes: architecture.classes, examples: batch * batches).make(Array(0..<batch * batches))
        }

        /// FLOPs of one example's step: forward (2·Σ w_l·w_{l+1}), weight gradients (the same), and input
        /// gradients for every layer but the first (its input needs none).
        public var flopsPerExample: Double {
            let w = architecture.widths
            var macs = 0
            for l in 0..<architecture.layerCount {
                macs += 2 * w[l] * w[l + 1]
                if l > 0 { macs += w[l] * w[l + 1] }
            }
            return 2 * Double(macs)
        }

        public func step() {
            let start = next * batch
            next = (next + 1) % batches
            let count = parameters.count
            parameters.withUnsafeMutableBufferPointer { p in
                gradients.withUnsafeMutableBufferPointer { g in
                    data.features.withUnsafeBufferPointer { x in
                        data.labels.withUnsafeBufferPointer { y in
                            let r = trainer.lossAndGradients(parameters: p.baseAddress!, inputs: x.baseAddress! + start * architecture.inputs,
                                                             labels: y.baseAddress! + start, rows: batch, gradients: g.baseAddress!)
                            lastLoss = r.loss
                        }
                    }
                    Updates.sgd(count: count, params: p.baseAddress!, gradients: g.baseAddress!, learningRate: 0.01)
                }
            }
        }
    }

    /// A reference implementation in a child Python process, driven line by line over pipes (one
    /// command, one JSON reply) so its timed repeats can alternate with ours. Every thread-count
    /// variable the usual libraries read is set to 1.
    public final class PythonChild {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        var buffer = Data()
        let name: String
        /// The first line the script printed (its versions), already checked for `error`.
        public private(set) var hello: JSONValue = .null

        public init(python: String?, script: String, name: String, environment extra: [String: String] = [:]) throws {
            self.name = name
            var environment = ProcessInfo.processInfo.environment
            for variable in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
                             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"] {
                environment[variable] = "1"
            }
            for (key, value) in extra { environment[key] = value }
            process.environment = environment
            if let python {
                process.executableURL = URL(fileURLWithPath: python)
                process.arguments = ["-c", script]
            } else {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3", "-c", script]
            }
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            do { try process.run() } catch {
                throw RuntimeFailure("cannot start \(python ?? "python3"): \(error.localizedDescription)")
            }
            let first = try reply()
            if let error = first["error"]?.stringValue { close(); throw RuntimeFailure(error) }
            hello = first
        }

        public func close() {
            if process.isRunning {
                try? input.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
                try? input.fileHandleForWriting.close()
                // A reference that does not quit within 5 s is stopped.
                let deadline = MonotonicClock.now() + 5
                while process.isRunning && MonotonicClock.now() < deadline { MonotonicClock.sleep(seconds: 0.02) }
                if process.isRunning { _ = Posix.kill(process.processIdentifier, Signals.kill) }
                process.waitUntilExit()
            }
        }

        /// Sends one command line and returns the reply; a reply with `error` is thrown.
        public func command(_ line: String) throws -> JSONValue {
            guard process.isRunning else { throw RuntimeFailure("the \(name) process has exited") }
            do { try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8)) } catch {
                throw RuntimeFailure("cannot write to the \(name) process: \(error.localizedDescription)")
            }
            let r = try reply()
            if let error = r["error"]?.stringValue { throw RuntimeFailure(error) }
            return r
        }

        /// `time S [cpu]`: seconds per call of the case set up last, calling it for at least S
        /// seconds of wall time or (`cpu`) of the child's CPU time (`time.process_time`).
        public func timePerCall(minTime: Double, cpu: Bool = false) throws -> Double {
            let r = try command("time \(minTime)" + (cpu ? " cpu" : ""))
            guard let s = r["seconds_per_call"]?.doubleValue, s > 0 else { throw RuntimeFailure("\(name) gave no timing") }
            return s
        }

        /// The next line the child prints, parsed as JSON.
        private func reply() throws -> JSONValue {
            while true {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    do { return try JSONParser.parse(line) } catch {
                        throw RuntimeFailure("the \(name) reference printed something that is not JSON: \(line.prefix(200))")
                    }
                }
                // read(2), EINTR retried: `availableData` stops the process when Ctrl-C interrupts it.
                let size = 65_536
                let piece = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
                defer { piece.deallocate() }
                let n = try Posix.read(output.fileHandleForReading.fileDescriptor, piece, count: size, "the \(name) reference's output")
                let chunk = UnsafeRawBufferPointer(start: piece, count: n)
                if chunk.isEmpty {
                    process.waitUntilExit()
                    throw RuntimeFailure("python3 exited (status \(process.terminationStatus)) before answering for \(name); is it installed?")
                }
                buffer.append(contentsOf: chunk)
            }
        }
    }

    /// The `time S` loop both reference scripts share: calls `f` until S seconds have passed.
    static let timeLoop = #"""
    def time_loop(f, t_min, clock=time.perf_counter):
        calls = 0
        start = clock()
        while True:
            f(); calls += 1
            elapsed = clock() - start
            if elapsed >= t_min:
                return elapsed / calls
    def clock_of(w):
        return time.process_time if len(w) > 2 and w[2] == "cpu" else time.perf_counter
    """#

    /// numpy (single-threaded OpenBLAS) running `np.matmul` on the GEMM cases.
    public final class NumpyReference {
        let child: PythonChild
        public let numpyVersion: String
        public let blas: String

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
    """# + "\n" + timeLoop + "\n" + #"""
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
                time_loop(f, 0.05)
                print(json.dumps({"ok": True}))
            elif w[0] == "time":
                print(json.dumps({"seconds_per_call": time_loop(f, float(w[1]), clock_of(w))}))
            else:
                print(json.dumps({"error": "unknown command " + w[0]}))
        except Exception as e:
            print(json.dumps({"error": str(e)}))
        sys.stdout.flush()
    """#

        public init(python: String?) throws {
            child = try PythonChild(python: python, script: Self.script, name: "numpy")
            numpyVersion = child.hello["numpy"]?.stringValue ?? "?"
            blas = child.hello["blas"]?.stringValue ?? "?"
        }

        public func setUp(orientation: String, m: Int, k: Int, n: Int) throws {
            _ = try child.command("case \(orientation) \(m) \(k) \(n)")
        }

        public func timePerCall(minTime: Double, cpu: Bool = false) throws -> Double { try child.timePerCall(minTime: minTime, cpu: cpu) }

        public func close() { child.close() }
    }

    /// TensorFlow (tensorflow-cpu, one intra-op and one inter-op thread) training the same MLP:
    /// Keras Dense layers 784-256-128-10 (ReLU), sparse softmax cross-entropy from logits, SGD at
    /// 0.01, batch 128, one `tf.function` step (forward, gradient tape, `apply_gradients`) over 8
    /// cycled batches of synthetic data already in tensors. Optional: absent when `import
    /// tensorflow` fails.
    public final class TensorFlowReference {
        let child: PythonChild
        public let version: String
        public let threads: Int

        static let script = #"""
    import os, sys, json, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import numpy as np
    except Exception as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        print(json.dumps({"error": "tensorflow not importable (pip install tensorflow-cpu): %s" % reason})); sys.stdout.flush(); sys.exit(0)
    print(json.dumps({"tensorflow": tf.__version__,
                      "threads": tf.config.threading.get_intra_op_parallelism_threads()})); sys.stdout.flush()
    """# + "\n" + timeLoop + "\n" + #"""
    f = None
    for line in sys.stdin:
        w = line.split()
        try:
            if not w or w[0] == "quit":
                break
            if w[0] == "mlp":
                batch, batches = int(w[1]), int(w[2])
                rng = np.random.default_rng(3)
                xs = [tf.constant(rng.standard_normal((batch, 784), dtype=np.float32)) for _ in range(batches)]
                ys = [tf.constant(rng.integers(0, 10, batch).astype(np.int32)) for _ in range(batches)]
                tf.keras.utils.set_random_seed(1)
                model = tf.keras.Sequential([tf.keras.Input((784,)),
                                             tf.keras.layers.Dense(256, activation="relu"),
                                             tf.keras.layers.Dense(128, activation="relu"),
                                             tf.keras.layers.Dense(10)])
                opt = tf.keras.optimizers.SGD(learning_rate=0.01)
                loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                @tf.function
                def step(x, y):
                    with tf.GradientTape() as tape:
                        loss = loss_fn(y, model(x, training=True))
                    grads = tape.gradient(loss, model.trainable_variables)
                    opt.apply_gradients(zip(grads, model.trainable_variables))
                    return loss
                counter = [0]
                def f():
                    i = counter[0] % batches
                    counter[0] += 1
                    step(xs[i], ys[i])
                time_loop(f, 0.3)
                print(json.dumps({"ok": True, "loss": float(step(xs[0], ys[0]))}))
            elif w[0] == "time":
                print(json.dumps({"seconds_per_call": time_loop(f, float(w[1]), clock_of(w))}))
            else:
                print(json.dumps({"error": "unknown command " + w[0]}))
        except Exception as e:
            print(json.dumps({"error": str(e)}))
        sys.stdout.flush()
    """#

        public init(python: String?) throws {
            child = try PythonChild(python: python, script: Self.script, name: "tensorflow", environment: ["TF_CPP_MIN_LOG_LEVEL": "3"])
            version = child.hello["tensorflow"]?.stringValue ?? "?"
            threads = Int(child.hello["threads"]?.doubleValue ?? 1)
        }

        /// Builds the model and data and warms the step up (traces the `tf.function`).
        public func setUpMLP(batch: Int, batches: Int) throws {
            _ = try child.command("mlp \(batch) \(batches)")
        }

        /// Seconds per training step (one batch).
        public func timePerStep(minTime: Double, cpu: Bool = false) throws -> Double { try child.timePerCall(minTime: minTime, cpu: cpu) }

        public func close() { child.close() }
    }
}
