import Dispatch
import Foundation
import TrainyardCore
import TrainyardKernel

/// The pieces of `trainyard bench kernel`: GEMM and MLP cases on this build's kernel, timing, and
/// numpy (single-threaded OpenBLAS) in a child Python process as the same-run reference.
public enum KernelBench {
    // MARK: - Timing

    public static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Seconds per call of `body`, calling it until `minTime` has passed.
    public static func timePerCall(minTime: Double, _ body: () -> Void) -> Double {
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

    /// numpy in a child Python process, driven line by line over pipes so its repeats can alternate
    /// with ours. Single-threaded: OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS are 1.
    public final class NumpyReference {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        var buffer = Data()
        public private(set) var numpyVersion = "?"
        public private(set) var blas = "?"

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

        public init(python: String?) throws {
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

        public func setUp(orientation: String, m: Int, k: Int, n: Int) throws {
            let r = try command("case \(orientation) \(m) \(k) \(n)")
            if let error = r["error"]?.stringValue { throw RuntimeFailure(error) }
        }

        public func timePerCall(minTime: Double) throws -> Double {
            let r = try command("time \(minTime)")
            guard let s = r["seconds_per_call"]?.doubleValue, s > 0 else {
                throw RuntimeFailure(r["error"]?.stringValue ?? "numpy gave no timing")
            }
            return s
        }

        public func close() {
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
}
