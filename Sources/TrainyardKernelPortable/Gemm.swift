// Single-precision matrix multiply in the three orientations training needs.
//
// All matrices are row-major with explicit leading dimensions. Nothing is transposed in memory:
// `nt` and `tn` read their transposed operand in place. These are the reference-grade loops the
// cluster runs on until the blocked SIMD kernel replaces them; the public contract stays the same.

/// C[m×n] = A[m×k] · B[k×n]  (plus C when `accumulate`).
public func gemmNN(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool
) {
    for i in 0..<m {
        let ci = c + i * ldc
        if !accumulate { ci.update(repeating: 0, count: n) }
        for p in 0..<k {
            let aip = a[i * lda + p]
            if aip == 0 { continue }
            let bp = b + p * ldb
            for j in 0..<n { ci[j] += aip * bp[j] }
        }
    }
}

/// C[m×n] = A[m×k] · B[n×k]ᵀ  (plus C when `accumulate`).
public func gemmNT(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool
) {
    for i in 0..<m {
        let ai = a + i * lda
        for j in 0..<n {
            let bj = b + j * ldb
            var sum: Float = 0
            for p in 0..<k { sum += ai[p] * bj[p] }
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum
        }
    }
}

/// C[m×n] = A[k×m]ᵀ · B[k×n]  (plus C when `accumulate`).
public func gemmTN(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool
) {
    if !accumulate {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
    }
    for p in 0..<k {
        let ap = a + p * lda
        let bp = b + p * ldb
        for i in 0..<m {
            let api = ap[i]
            if api == 0 { continue }
            let ci = c + i * ldc
            for j in 0..<n { ci[j] += api * bp[j] }
        }
    }
}
