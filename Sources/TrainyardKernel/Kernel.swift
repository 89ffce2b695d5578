// The training kernel's public face: one entry point per operation, dispatched once per process
// to the AVX-512 build, the AVX2+FMA build or the portable build, the fastest this CPU runs.
//
// Overview: the math lives in three modules compiled from the same sources
// (`TrainyardKernelPortable`, `TrainyardKernelAVX2` with `-target-cpu haswell`, and
// `TrainyardKernelAVX512` with `-target-cpu skylake-avx512`). None is `@inlinable` across this
// boundary, so no AVX2 or AVX-512 instruction can leak into code that runs before the CPU check.
// `TRAINYARD_KERNEL=portable|avx2|avx512` forces one; a build this CPU cannot run is refused with
// a message and exit code 3 before any of its code runs (Docs/kernel.md).

import CTrainyardSupport
import TrainyardKernelAVX2
import TrainyardKernelAVX512
import TrainyardKernelPortable

/// Which compiled build of the kernel this process runs.
public enum KernelBackend: String, Sendable, CaseIterable {
    case avx512 = "avx512"
    case avx2FMA = "avx2+fma"
    case portable = "portable"

    /// The environment variable that forces a build.
    public static let environmentVariable = "TRAINYARD_KERNEL"

    /// Chosen once, at first use: `TRAINYARD_KERNEL` when set, else the fastest build this CPU
    /// runs. A forced build the CPU cannot run, or an unknown value, ends the process with the
    /// reason on standard error and exit code 3 (invalid input) — never an illegal instruction.
    /// Executables call `checkSelection()` first to report it in their own format.
    public static let active: KernelBackend = {
        switch selection {
        case .success(let backend): return backend
        case .failure(let error): ty_exit_with_message("error: \(error)\n", 3)
        }
    }()

    /// The outcome of the choice, without acting on it.
    public static let selection: Result<KernelBackend, KernelSelectionError> =
        choose(forced: getenvString(environmentVariable), avx2FMA: cpuSupportsAVX2FMA, avx512: cpuSupportsAVX512)

    /// Throws the reason `active` would refuse to start (an unknown `TRAINYARD_KERNEL`, or a build
    /// this CPU cannot run), so a `main` can report it before any kernel call.
    public static func checkSelection() throws {
        if case .failure(let error) = selection { throw error }
    }

    /// The choice itself, pure: `forced` is `TRAINYARD_KERNEL` (nil, empty or `auto`: the best
    /// build this CPU runs). Accepts `portable`, `avx2` (or `avx2+fma`) and `avx512`.
    public static func choose(forced: String?, avx2FMA: Bool, avx512: Bool) -> Result<KernelBackend, KernelSelectionError> {
        let best: KernelBackend = avx512 ? .avx512 : (avx2FMA ? .avx2FMA : .portable)
        guard let forced, !forced.isEmpty, forced != "auto" else { return .success(best) }
        switch forced {
        case "portable": return .success(.portable)
        case "avx2", "avx2+fma":
            return avx2FMA ? .success(.avx2FMA) : .failure(.unavailable(forced: forced, needs: "AVX2 and FMA", best: best))
        case "avx512":
            return avx512 ? .success(.avx512) : .failure(.unavailable(forced: forced, needs: "AVX-512 (F, DQ, CD, BW, VL) with the OS saving the zmm registers", best: best))
        default: return .failure(.unknown(forced: forced))
        }
    }

    /// Whether this CPU (and OS) can run the AVX2+FMA build, whatever `TRAINYARD_KERNEL` says.
    public static let cpuSupportsAVX2FMA: Bool = {
        #if arch(x86_64)
        return ty_cpu_has_avx2_fma() != 0
        #else
        return false
        #endif
    }()

    /// Whether this CPU (and OS) can run the AVX-512 build, whatever `TRAINYARD_KERNEL` says.
    public static let cpuSupportsAVX512: Bool = {
        #if arch(x86_64)
        return ty_cpu_has_avx512() != 0 && ty_cpu_has_avx2_fma() != 0
        #else
        return false
        #endif
    }()
}

/// Why `TRAINYARD_KERNEL` cannot be honoured.
public enum KernelSelectionError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A value that names no build.
    case unknown(forced: String)
    /// A build this CPU or OS cannot run; `best` is the one it can.
    case unavailable(forced: String, needs: String, best: KernelBackend)

    public var description: String {
        switch self {
        case .unknown(let forced):
            return "TRAINYARD_KERNEL=\(forced) names no kernel build; use portable, avx2 or avx512, or unset it to pick the fastest this CPU runs"
        case .unavailable(let forced, let needs, let best):
            let bestName = best == .avx2FMA ? "avx2" : best.rawValue
            return "TRAINYARD_KERNEL=\(forced) forces a kernel build this CPU cannot run (it needs \(needs)); unset TRAINYARD_KERNEL, or set it to \(bestName), the fastest build this CPU runs"
        }
    }
}

@_silgen_name("getenv") private func _getenv(_ name: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>?
private func getenvString(_ name: String) -> String? {
    guard let p = _getenv(name) else { return nil }
    return String(cString: p)
}

/// Reusable packing memory for GEMM calls, so a training step allocates nothing.
///
/// Sized for the largest blocks of the active build; any shape fits. Not thread-safe: one per
/// thread (an `MLPTrainer` owns one). Calls without a workspace allocate one per call.
public final class GemmWorkspace {
    let floats: UnsafeMutablePointer<Float>

    public init() {
        let count: Int
        switch KernelBackend.active {
        case .avx512: count = TrainyardKernelAVX512.gemmWorkspaceFloats()
        case .avx2FMA: count = TrainyardKernelAVX2.gemmWorkspaceFloats()
        case .portable: count = TrainyardKernelPortable.gemmWorkspaceFloats()
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        floats = raw.bindMemory(to: Float.self, capacity: count)
    }

    deinit { floats.deallocate() }
}

/// Row-major single-precision GEMM in the three orientations training uses.
///
/// Packed and cache-blocked (Docs/kernel.md). The caller's matrices are never modified except C;
/// A and B are read in place through their leading dimensions.
public enum Gemm {
    /// The active build's micro-tile (rows × columns of C computed at once) and the rows its last
    /// tile runs when no more than that many are left: a layer narrower than a tile costs as much
    /// as a whole one.
    public static var tile: (rows: Int, columns: Int, edgeRows: Int) {
        switch KernelBackend.active {
        case .avx512: return TrainyardKernelAVX512.gemmTile()
        case .avx2FMA: return TrainyardKernelAVX2.gemmTile()
        case .portable: return TrainyardKernelPortable.gemmTile()
        }
    }

    /// C[m×n] = A[m×k] · B[k×n], plus C when `accumulate` (forward: X·W).
    public static func nn(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 { if !accumulate { zero(m: m, n: n, c: c, ldc: ldc) }; return }
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.gemmNN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        case .avx2FMA: TrainyardKernelAVX2.gemmNN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        case .portable: TrainyardKernelPortable.gemmNN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        }
    }

    /// C[m×n] = A[m×k] · B[n×k]ᵀ, plus C when `accumulate` (input gradient: dY·Wᵀ).
    public static func nt(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 { if !accumulate { zero(m: m, n: n, c: c, ldc: ldc) }; return }
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        case .avx2FMA: TrainyardKernelAVX2.gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        case .portable: TrainyardKernelPortable.gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        }
    }

    /// C[m×n] = A[k×m]ᵀ · B[k×n], plus C when `accumulate` (weight gradient: Xᵀ·dY).
    public static func tn(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 { if !accumulate { zero(m: m, n: n, c: c, ldc: ldc) }; return }
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.gemmTN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        case .avx2FMA: TrainyardKernelAVX2.gemmTN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        case .portable: TrainyardKernelPortable.gemmTN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        }
    }

    /// `nn` packing into `workspace` instead of allocating.
    public static func nn(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false, workspace: GemmWorkspace
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 { if !accumulate { zero(m: m, n: n, c: c, ldc: ldc) }; return }
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.gemmNN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        case .avx2FMA: TrainyardKernelAVX2.gemmNN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        case .portable: TrainyardKernelPortable.gemmNN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        }
    }

    /// `nt` packing into `workspace` instead of allocating.
    public static func nt(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false, workspace: GemmWorkspace
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 { if !accumulate { zero(m: m, n: n, c: c, ldc: ldc) }; return }
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        case .avx2FMA: TrainyardKernelAVX2.gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        case .portable: TrainyardKernelPortable.gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        }
    }

    /// `tn` packing into `workspace` instead of allocating.
    public static func tn(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false, workspace: GemmWorkspace
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 { if !accumulate { zero(m: m, n: n, c: c, ldc: ldc) }; return }
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.gemmTN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        case .avx2FMA: TrainyardKernelAVX2.gemmTN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        case .portable: TrainyardKernelPortable.gemmTN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: workspace.floats)
        }
    }

    private static func zero(m: Int, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
    }
}

/// Fused layer operations and the loss.
public enum Layers {
    /// x[r][c] = act(x[r][c] + bias[c]); ReLU when `relu`, identity otherwise.
    public static func biasActivationForward(rows: Int, cols: Int, x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, relu: Bool) {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.biasActivationForward(rows: rows, cols: cols, x: x, bias: bias, relu: relu)
        case .avx2FMA: TrainyardKernelAVX2.biasActivationForward(rows: rows, cols: cols, x: x, bias: bias, relu: relu)
        case .portable: TrainyardKernelPortable.biasActivationForward(rows: rows, cols: cols, x: x, bias: bias, relu: relu)
        }
    }

    /// dy[i] = 0 where the ReLU output y[i] <= 0.
    public static func reluBackward(count: Int, dy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>) {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.reluBackward(count: count, dy: dy, y: y)
        case .avx2FMA: TrainyardKernelAVX2.reluBackward(count: count, dy: dy, y: y)
        case .portable: TrainyardKernelPortable.reluBackward(count: count, dy: dy, y: y)
        }
    }

    /// out[c] = Σ_r x[r][c] (plus out when `accumulate`): a bias gradient.
    public static func columnSums(rows: Int, cols: Int, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.columnSums(rows: rows, cols: cols, x: x, out: out, accumulate: accumulate)
        case .avx2FMA: TrainyardKernelAVX2.columnSums(rows: rows, cols: cols, x: x, out: out, accumulate: accumulate)
        case .portable: TrainyardKernelPortable.columnSums(rows: rows, cols: cols, x: x, out: out, accumulate: accumulate)
        }
    }

    /// Softmax cross-entropy fused with its gradient (divided by `rows`); returns the summed loss
    /// and the number of rows whose argmax equals the label. Pass `gradient: nil` to evaluate only.
    public static func softmaxCrossEntropy(
        rows: Int, classes: Int, logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, gradient: UnsafeMutablePointer<Float>?
    ) -> (lossSum: Double, correct: Int) {
        precondition(rows > 0 && classes > 0, "softmaxCrossEntropy needs at least one row and one class")
        for r in 0..<rows {
            precondition(labels[r] >= 0 && Int(labels[r]) < classes, "label \(labels[r]) of row \(r) outside 0..<\(classes)")
        }
        switch KernelBackend.active {
        case .avx512: return TrainyardKernelAVX512.softmaxCrossEntropy(rows: rows, classes: classes, logits: logits, labels: labels, gradient: gradient)
        case .avx2FMA: return TrainyardKernelAVX2.softmaxCrossEntropy(rows: rows, classes: classes, logits: logits, labels: labels, gradient: gradient)
        case .portable: return TrainyardKernelPortable.softmaxCrossEntropy(rows: rows, classes: classes, logits: logits, labels: labels, gradient: gradient)
        }
    }
}

/// Data movement for the training loop.
public enum Rows {
    /// Copies rows `indices` (each `width` floats, `source` rows apart by `width`) to `destination`,
    /// one after another, asking for each row `ahead` rows before it is copied: the rows of a
    /// shuffled batch lie anywhere in a shard far larger than the caches.
    public static func gather(source: UnsafePointer<Float>, width: Int, indices: UnsafeBufferPointer<Int>, into destination: UnsafeMutablePointer<Float>, ahead: Int = 4) {
        let bytes = width * MemoryLayout<Float>.stride
        for k in 0..<min(ahead, indices.count) { ty_prefetch(source + indices[k] * width, bytes) }
        for (row, i) in indices.enumerated() {
            if row + ahead < indices.count { ty_prefetch(source + indices[row + ahead] * width, bytes) }
            (destination + row * width).update(from: source + i * width, count: width)
        }
    }
}

/// Checks of values that arrive from elsewhere (gradients a ps receives, a trainer's own).
public enum Checks {
    /// Whether every value is finite (no NaN, no ±∞).
    public static func allFinite(count: Int, values: UnsafePointer<Float>) -> Bool {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.allFinite(count: count, values: values)
        case .avx2FMA: TrainyardKernelAVX2.allFinite(count: count, values: values)
        case .portable: TrainyardKernelPortable.allFinite(count: count, values: values)
        }
    }

    /// Copies `count` floats from `source` (any alignment) to `destination`; returns whether every
    /// one is finite (one pass).
    public static func copyAllFinite(count: Int, from source: UnsafeRawPointer, to destination: UnsafeMutablePointer<Float>) -> Bool {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.copyAllFinite(count: count, from: source, to: destination)
        case .avx2FMA: TrainyardKernelAVX2.copyAllFinite(count: count, from: source, to: destination)
        case .portable: TrainyardKernelPortable.copyAllFinite(count: count, from: source, to: destination)
        }
    }
}

/// In-place optimizer updates over flat buffers.
public enum Updates {
    /// acc += g (the synchronous ps's accumulator), vectorized through the SGD kernel.
    public static func accumulate(count: Int, into acc: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>) {
        sgd(count: count, params: acc, gradients: gradients, learningRate: -1)
    }

    /// x *= factor, vectorized through the SGD kernel (x − (1 − factor)·x).
    public static func scale(count: Int, values: UnsafeMutablePointer<Float>, by factor: Float) {
        sgd(count: count, params: values, gradients: UnsafePointer(values), learningRate: 1 - factor)
    }

    public static func sgd(count: Int, params: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float) {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.sgdUpdate(count: count, params: params, gradients: gradients, learningRate: learningRate)
        case .avx2FMA: TrainyardKernelAVX2.sgdUpdate(count: count, params: params, gradients: gradients, learningRate: learningRate)
        case .portable: TrainyardKernelPortable.sgdUpdate(count: count, params: params, gradients: gradients, learningRate: learningRate)
        }
    }

    /// out = p − lr · g from gradients anywhere (a peer's shared region), and whether every value
    /// written to `out` is finite (then `out` is `sgd`'s result to the bit; otherwise discard it).
    /// The results are checked, not the gradients, so a gradient rewritten while it is read cannot
    /// reach `out` unchecked however the compiler loads it: a NaN or ∞ gradient gives a NaN or ∞
    /// result (for finite p), and so does a finite one whose update overflows.
    public static func sgdChecked(count: Int, params: UnsafePointer<Float>, gradients: UnsafeRawPointer, learningRate: Float,
                                  into out: UnsafeMutablePointer<Float>) -> Bool {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.sgdUpdateChecked(count: count, params: params, gradients: gradients, learningRate: learningRate, into: out)
        case .avx2FMA: TrainyardKernelAVX2.sgdUpdateChecked(count: count, params: params, gradients: gradients, learningRate: learningRate, into: out)
        case .portable: TrainyardKernelPortable.sgdUpdateChecked(count: count, params: params, gradients: gradients, learningRate: learningRate, into: out)
        }
    }

    public static func momentum(
        count: Int, params: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        learningRate: Float, momentum: Float, nesterov: Bool
    ) {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.momentumUpdate(count: count, params: params, velocity: velocity, gradients: gradients, learningRate: learningRate, momentum: momentum, nesterov: nesterov)
        case .avx2FMA: TrainyardKernelAVX2.momentumUpdate(count: count, params: params, velocity: velocity, gradients: gradients, learningRate: learningRate, momentum: momentum, nesterov: nesterov)
        case .portable: TrainyardKernelPortable.momentumUpdate(count: count, params: params, velocity: velocity, gradients: gradients, learningRate: learningRate, momentum: momentum, nesterov: nesterov)
        }
    }

    public static func adam(
        count: Int, params: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, step: Int
    ) {
        switch KernelBackend.active {
        case .avx512: TrainyardKernelAVX512.adamUpdate(count: count, params: params, m: m, v: v, gradients: gradients, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, step: step)
        case .avx2FMA: TrainyardKernelAVX2.adamUpdate(count: count, params: params, m: m, v: v, gradients: gradients, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, step: step)
        case .portable: TrainyardKernelPortable.adamUpdate(count: count, params: params, m: m, v: v, gradients: gradients, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, step: step)
        }
    }
}
