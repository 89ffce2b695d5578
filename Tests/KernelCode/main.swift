#if canImport(Glibc)
import Glibc
#endif

// The GEMM driver of a kernel build checked on any x86-64 CPU with AVX2: check-kernel-code.sh
// compiles the kernel sources with this file and the AVX-512 build's define (`TRAINYARD_AVX512`:
// the 12×32 tile, its packing and blocking) but `-target-cpu haswell`, so each SIMD16 becomes two
// ymm registers and the code runs here. Every orientation against a double-precision triple loop,
// on shapes around the tile and across the blocks, accumulate on and off, padded leading
// dimensions. Prints one line per failure and exits 1 if any.

var state: UInt64 = 0x9E37_79B9_7F4A_7C15
func nextFloat() -> Float {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17
    return Float(Double(state >> 11) / Double(1 << 53) * 2 - 1)
}

var failures = 0
var cases = 0
let shapes: [(Int, Int, Int)] = [
    (1, 1, 1), (7, 13, 5), (11, 31, 3), (12, 32, 2), (13, 33, 6), (23, 63, 17), (24, 64, 5), (25, 65, 7),
    (3, 5, 257), (7, 17, 650), (485, 7, 3), (2, 2050, 3), (37, 45, 300), (128, 10, 128), (128, 256, 784),
]
for (m, n, k) in shapes {
    for orientation in 0..<3 {          // nn, nt, tn
        for accumulate in [false, true] {
            for pad in [0, 3] {
                cases += 1
                let aRows = orientation == 2 ? k : m, aCols = orientation == 2 ? m : k
                let bRows = orientation == 1 ? n : k, bCols = orientation == 1 ? k : n
                let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
                let a = (0..<aRows * lda).map { _ in nextFloat() }
                let b = (0..<bRows * ldb).map { _ in nextFloat() }
                var c = (0..<m * ldc).map { _ in nextFloat() }
                for i in 0..<m { for j in n..<ldc { c[i * ldc + j] = 1234.5 } }
                let c0 = c
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    switch orientation {
                    case 0: gemmNN(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: ldc, accumulate: accumulate)
                    case 1: gemmNT(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: ldc, accumulate: accumulate)
                    default: gemmTN(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: ldc, accumulate: accumulate)
                    }
                }}}
                var bad = 0
                for i in 0..<m {
                    for j in 0..<ldc {
                        let got = Double(c[i * ldc + j])
                        if j >= n {
                            if got != 1234.5 { bad += 1 }
                            continue
                        }
                        var s = accumulate ? Double(c0[i * ldc + j]) : 0
                        var magnitude = abs(s)
                        for p in 0..<k {
                            let av = Double(orientation == 2 ? a[p * lda + i] : a[i * lda + p])
                            let bv = Double(orientation == 1 ? b[j * ldb + p] : b[p * ldb + j])
                            s += av * bv
                            magnitude += abs(av * bv)
                        }
                        if abs(got - s) > 4e-7 * Double(k + 2) * magnitude + 1e-30 { bad += 1 }
                    }
                }
                if bad > 0 {
                    failures += 1
                    print("FAIL \(["nn", "nt", "tn"][orientation]) m=\(m) n=\(n) k=\(k) accumulate=\(accumulate) pad=\(pad): \(bad) wrong elements")
                }
            }
        }
    }
}
print("gemm driver (tile \(gemmMR)×\(gemmNR), KC ≤ \(gemmKCMax), MC ≤ \(gemmMCMax)): \(cases - failures)/\(cases) cases match the double-precision reference")
if failures > 0 { exit(1) }
