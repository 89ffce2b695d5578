import XCTest
import TrainyardKernel
import TrainyardKernelAVX2
import TrainyardKernelAVX512
import TrainyardKernelPortable

/// One compiled build of the kernel, called directly (not through the dispatcher), so every build
/// this CPU runs is tested whatever this process's `KernelBackend.active` is.
struct Backend: @unchecked Sendable {
    typealias GemmFn = (Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Bool) -> Void
    typealias GemmWsFn = (Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Bool, UnsafeMutablePointer<Float>) -> Void

    var name: String
    var gemmNN: GemmFn, gemmNT: GemmFn, gemmTN: GemmFn
    var gemmNNws: GemmWsFn, gemmNTws: GemmWsFn, gemmTNws: GemmWsFn
    var workspaceFloats: (Int, Int, Int) -> Int
    var biasActivationForward: (Int, Int, UnsafeMutablePointer<Float>, UnsafePointer<Float>, Bool) -> Void
    var reluBackward: (Int, UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void
    var columnSums: (Int, Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Bool) -> Void
    var softmaxCrossEntropy: (Int, Int, UnsafePointer<Float>, UnsafePointer<Int32>, UnsafeMutablePointer<Float>?) -> (lossSum: Double, correct: Int)
    var sgd: (Int, UnsafeMutablePointer<Float>, UnsafePointer<Float>, Float) -> Void
    var momentum: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, Float, Float, Bool) -> Void
    var adam: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, Float, Float, Float, Float, Int) -> Void
    var allFinite: (Int, UnsafePointer<Float>) -> Bool
    var copyAllFinite: (Int, UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Bool
    var sgdChecked: (Int, UnsafePointer<Float>, UnsafeRawPointer, Float, UnsafeMutablePointer<Float>) -> Bool

    static let portable = Backend(
        name: "portable",
        gemmNN: { TrainyardKernelPortable.gemmNN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmNT: { TrainyardKernelPortable.gemmNT(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmTN: { TrainyardKernelPortable.gemmTN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmNNws: { TrainyardKernelPortable.gemmNN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        gemmNTws: { TrainyardKernelPortable.gemmNT(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        gemmTNws: { TrainyardKernelPortable.gemmTN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        workspaceFloats: { TrainyardKernelPortable.gemmWorkspaceFloats(m: $0, n: $1, k: $2) },
        biasActivationForward: { TrainyardKernelPortable.biasActivationForward(rows: $0, cols: $1, x: $2, bias: $3, relu: $4) },
        reluBackward: { TrainyardKernelPortable.reluBackward(count: $0, dy: $1, y: $2) },
        columnSums: { TrainyardKernelPortable.columnSums(rows: $0, cols: $1, x: $2, out: $3, accumulate: $4) },
        softmaxCrossEntropy: { TrainyardKernelPortable.softmaxCrossEntropy(rows: $0, classes: $1, logits: $2, labels: $3, gradient: $4) },
        sgd: { TrainyardKernelPortable.sgdUpdate(count: $0, params: $1, gradients: $2, learningRate: $3) },
        momentum: { TrainyardKernelPortable.momentumUpdate(count: $0, params: $1, velocity: $2, gradients: $3, learningRate: $4, momentum: $5, nesterov: $6) },
        adam: { TrainyardKernelPortable.adamUpdate(count: $0, params: $1, m: $2, v: $3, gradients: $4, learningRate: $5, beta1: $6, beta2: $7, epsilon: $8, step: $9) },
        allFinite: { TrainyardKernelPortable.allFinite(count: $0, values: $1) },
        copyAllFinite: { TrainyardKernelPortable.copyAllFinite(count: $0, from: $1, to: $2) },
        sgdChecked: { TrainyardKernelPortable.sgdUpdateChecked(count: $0, params: $1, gradients: $2, learningRate: $3, into: $4) }
    )

    static let avx2 = Backend(
        name: "avx2+fma",
        gemmNN: { TrainyardKernelAVX2.gemmNN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmNT: { TrainyardKernelAVX2.gemmNT(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmTN: { TrainyardKernelAVX2.gemmTN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmNNws: { TrainyardKernelAVX2.gemmNN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        gemmNTws: { TrainyardKernelAVX2.gemmNT(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        gemmTNws: { TrainyardKernelAVX2.gemmTN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        workspaceFloats: { TrainyardKernelAVX2.gemmWorkspaceFloats(m: $0, n: $1, k: $2) },
        biasActivationForward: { TrainyardKernelAVX2.biasActivationForward(rows: $0, cols: $1, x: $2, bias: $3, relu: $4) },
        reluBackward: { TrainyardKernelAVX2.reluBackward(count: $0, dy: $1, y: $2) },
        columnSums: { TrainyardKernelAVX2.columnSums(rows: $0, cols: $1, x: $2, out: $3, accumulate: $4) },
        softmaxCrossEntropy: { TrainyardKernelAVX2.softmaxCrossEntropy(rows: $0, classes: $1, logits: $2, labels: $3, gradient: $4) },
        sgd: { TrainyardKernelAVX2.sgdUpdate(count: $0, params: $1, gradients: $2, learningRate: $3) },
        momentum: { TrainyardKernelAVX2.momentumUpdate(count: $0, params: $1, velocity: $2, gradients: $3, learningRate: $4, momentum: $5, nesterov: $6) },
        adam: { TrainyardKernelAVX2.adamUpdate(count: $0, params: $1, m: $2, v: $3, gradients: $4, learningRate: $5, beta1: $6, beta2: $7, epsilon: $8, step: $9) },
        allFinite: { TrainyardKernelAVX2.allFinite(count: $0, values: $1) },
        copyAllFinite: { TrainyardKernelAVX2.copyAllFinite(count: $0, from: $1, to: $2) },
        sgdChecked: { TrainyardKernelAVX2.sgdUpdateChecked(count: $0, params: $1, gradients: $2, learningRate: $3, into: $4) }
    )

    static let avx512 = Backend(
        name: "avx512",
        gemmNN: { TrainyardKernelAVX512.gemmNN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmNT: { TrainyardKernelAVX512.gemmNT(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmTN: { TrainyardKernelAVX512.gemmTN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9) },
        gemmNNws: { TrainyardKernelAVX512.gemmNN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        gemmNTws: { TrainyardKernelAVX512.gemmNT(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        gemmTNws: { TrainyardKernelAVX512.gemmTN(m: $0, n: $1, k: $2, a: $3, lda: $4, b: $5, ldb: $6, c: $7, ldc: $8, accumulate: $9, workspace: $10) },
        workspaceFloats: { TrainyardKernelAVX512.gemmWorkspaceFloats(m: $0, n: $1, k: $2) },
        biasActivationForward: { TrainyardKernelAVX512.biasActivationForward(rows: $0, cols: $1, x: $2, bias: $3, relu: $4) },
        reluBackward: { TrainyardKernelAVX512.reluBackward(count: $0, dy: $1, y: $2) },
        columnSums: { TrainyardKernelAVX512.columnSums(rows: $0, cols: $1, x: $2, out: $3, accumulate: $4) },
        softmaxCrossEntropy: { TrainyardKernelAVX512.softmaxCrossEntropy(rows: $0, classes: $1, logits: $2, labels: $3, gradient: $4) },
        sgd: { TrainyardKernelAVX512.sgdUpdate(count: $0, params: $1, gradients: $2, learningRate: $3) },
        momentum: { TrainyardKernelAVX512.momentumUpdate(count: $0, params: $1, velocity: $2, gradients: $3, learningRate: $4, momentum: $5, nesterov: $6) },
        adam: { TrainyardKernelAVX512.adamUpdate(count: $0, params: $1, m: $2, v: $3, gradients: $4, learningRate: $5, beta1: $6, beta2: $7, epsilon: $8, step: $9) },
        allFinite: { TrainyardKernelAVX512.allFinite(count: $0, values: $1) },
        copyAllFinite: { TrainyardKernelAVX512.copyAllFinite(count: $0, from: $1, to: $2) },
        sgdChecked: { TrainyardKernelAVX512.sgdUpdateChecked(count: $0, params: $1, gradients: $2, learningRate: $3, into: $4) }
    )

    /// The builds this machine can run: the AVX2 one only on a CPU that has AVX2 and FMA, the
    /// AVX-512 one only on a CPU (and OS) with AVX-512 (on other architectures the AVX2 module is
    /// just the FMA build of the same sources and always runs; the AVX-512 module is a plain copy
    /// that is never chosen).
    static var runnable: [Backend] {
        #if arch(x86_64)
        var builds = [portable]
        if KernelBackend.cpuSupportsAVX2FMA { builds.append(avx2) }
        if KernelBackend.cpuSupportsAVX512 { builds.append(avx512) }
        return builds
        #else
        return [portable, avx2]
        #endif
    }
}

/// Deterministic test data (xorshift), so failures reproduce.
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
    mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Floats placed so that the last one ends exactly where a page with no access begins (mmap, then
/// mprotect of the page after them): reading one float past them faults.
struct GuardedFloats {
    let values: [Float]
    let base: UnsafeMutableRawPointer
    let length: Int
    let pointer: UnsafeMutablePointer<Float>

    init(_ values: [Float]) {
        self.values = values
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = max(1, values.count) * 4
        let dataPages = (bytes + page - 1) / page
        length = (dataPages + 1) * page
        guard let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapped != MAP_FAILED else {
            fatalError("mmap of \(length) bytes failed")
        }
        base = mapped
        precondition(mprotect(mapped + dataPages * page, page, PROT_NONE) == 0, "mprotect failed")
        pointer = (mapped + dataPages * page - values.count * 4).bindMemory(to: Float.self, capacity: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    func free() { munmap(base, length) }
}
