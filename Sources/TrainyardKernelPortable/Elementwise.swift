// Fused activations, the bias gradient, and the softmax cross-entropy loss with its gradient.
// Everything works 8 floats at a time (one ymm register in the AVX2 build) with a scalar tail.

/// x[r][c] = act(x[r][c] + bias[c]) over a rows×cols row-major block; ReLU when `relu`.
public func biasActivationForward(
    rows: Int, cols: Int, x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, relu: Bool
) {
    let zero = V8()
    for r in 0..<max(rows, 0) {
        let xr = x + r * cols
        var c = 0
        if relu {
            while c + 8 <= cols {
                // v < 0 ? 0 : v, as a compare and blend (`pointwiseMax` is an unspecialized call).
                let v = load(xr + c) + load(bias + c)
                store(v.replacing(with: 0, where: v .< zero), xr + c)
                c += 8
            }
            while c < cols { xr[c] = max(xr[c] + bias[c], 0); c += 1 }
        } else {
            while c + 8 <= cols {
                store(load(xr + c) + load(bias + c), xr + c)
                c += 8
            }
            while c < cols { xr[c] += bias[c]; c += 1 }
        }
    }
}

/// dy[i] = 0 wherever y[i] <= 0: the ReLU backward step, given the ReLU's output y.
public func reluBackward(count: Int, dy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>) {
    let zero = V8()
    var i = 0
    while i + 32 <= count {
        for u in stride(from: 0, to: 32, by: 8) {
            let g = load(dy + i + u)
            store(g.replacing(with: 0, where: load(y + i + u) .<= zero), dy + i + u)
        }
        i += 32
    }
    while i + 8 <= count {
        store(load(dy + i).replacing(with: 0, where: load(y + i) .<= zero), dy + i)
        i += 8
    }
    while i < count {
        if y[i] <= 0 { dy[i] = 0 }
        i += 1
    }
}

/// out[c] = Σ_r x[r][c] (plus out when `accumulate`): the bias gradient.
public func columnSums(
    rows: Int, cols: Int, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, accumulate: Bool
) {
    var c = 0
    // 32 columns at a time: four independent vector sums down the rows.
    while c + 32 <= cols {
        var s0 = accumulate ? load(out + c) : V8()
        var s1 = accumulate ? load(out + c + 8) : V8()
        var s2 = accumulate ? load(out + c + 16) : V8()
        var s3 = accumulate ? load(out + c + 24) : V8()
        var p = x + c
        for _ in 0..<max(rows, 0) {
            s0 += load(p); s1 += load(p + 8); s2 += load(p + 16); s3 += load(p + 24)
            p += cols
        }
        store(s0, out + c); store(s1, out + c + 8); store(s2, out + c + 16); store(s3, out + c + 24)
        c += 32
    }
    while c + 8 <= cols {
        var s = accumulate ? load(out + c) : V8()
        var p = x + c
        for _ in 0..<max(rows, 0) { s += load(p); p += cols }
        store(s, out + c)
        c += 8
    }
    while c < cols {
        var s: Float = accumulate ? out[c] : 0
        var p = x + c
        for _ in 0..<max(rows, 0) { s += p[0]; p += cols }
        out[c] = s
        c += 1
    }
}

/// Softmax cross-entropy of `rows` examples over `classes` logits, fused with its gradient.
///
/// Writes d(mean loss)/d(logits) into `gradient` (rows×classes, already divided by `rows`) and
/// returns the summed loss and how many rows' argmax (the first, on ties) equals the label.
/// Labels must lie in 0..<classes; rows and classes must be positive (the dispatcher checks).
/// Numerically stable: exponentials are taken of z - max(z), so none overflows.
public func softmaxCrossEntropy(
    rows: Int, classes: Int,
    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
    gradient: UnsafeMutablePointer<Float>?
) -> (lossSum: Double, correct: Int) {
    var lossSum = 0.0
    var correct = 0
    let scale = 1 / Float(rows)
    let full = classes & ~7
    let tail = classes - full
    for r in 0..<rows {
        let z = logits + r * classes
        // The maximum, and the first index that holds it.
        var zmax = z[0]
        var best = 0
        for c in 1..<classes where z[c] > zmax { zmax = z[c]; best = c }
        let label = Int(labels[r])
        if best == label { correct += 1 }

        // Σ exp(z - max), storing the exponentials in the gradient row when there is one.
        let shift = V8(repeating: zmax)
        var sums = V8()
        let gr = gradient.map { $0 + r * classes }
        var c = 0
        while c < full {
            let e = exp8(load(z + c) - shift)
            sums += e
            if let gr { store(e, gr + c) }
            c += 8
        }
        if tail > 0 {
            var v = V8(repeating: -Float.infinity)
            for t in 0..<tail { v[t] = z[full + t] }
            let e = exp8(v - shift)
            for t in 0..<tail {
                sums[t] += e[t]
                gr?[full + t] = e[t]
            }
        }
        let sum = sums.sum()
        // loss = log Σ exp(z - max) - (z[label] - max)
        lossSum += logarithm(Double(sum)) - Double(z[label] - zmax)

        if let gr {
            // gradient = (softmax - onehot) / rows
            let k = V8(repeating: scale / sum)
            c = 0
            while c < full { store(load(gr + c) * k, gr + c); c += 8 }
            while c < classes { gr[c] *= scale / sum; c += 1 }
            gr[label] -= scale
        }
    }
    return (lossSum, correct)
}

// MARK: - Elementary functions

/// e^x for 8 lanes, relative error about 2e-7 over the range where e^x is a normal float.
///
/// x = n·ln 2 + r with n = round(x / ln 2) and |r| ≤ ln 2 / 2 (ln 2 split in two parts so n·ln 2
/// is exact), e^r from Cephes' degree-6 polynomial, and 2^n built in the exponent bits. Inputs are
/// clamped to [-87.3, 88] (so 2^n stays a normal float), so -∞ gives ~1e-38 rather than 0 (softmax only ever feeds x ≤ 0).
@inline(__always)
func exp8(_ input: V8) -> V8 {
    let lo = V8(repeating: -87.33654), hi = V8(repeating: 88.0)
    let x = input.replacing(with: lo, where: input .< lo).replacing(with: hi, where: input .> hi)
    // n = round(x / ln 2): adding 1.5·2^23 rounds to an integer (to nearest even) and leaves
    // n in the low mantissa bits of t, for the 2^n below. No SSE4.1 `roundps` needed.
    let magic = V8(repeating: 12_582_912)  // 1.5 · 2^23
    let t = madd(magic, x, V8(repeating: 1.442_695_04))
    let n = t - magic
    var r = madd(x, n, V8(repeating: -0.693_359_375))
    r = madd(r, n, V8(repeating: 2.121_944_4e-4))
    var p = V8(repeating: 1.987_569_15e-4)
    p = madd(V8(repeating: 1.398_199_95e-3), p, r)
    p = madd(V8(repeating: 8.333_451_9e-3), p, r)
    p = madd(V8(repeating: 4.166_579_59e-2), p, r)
    p = madd(V8(repeating: 1.666_666_55e-1), p, r)
    p = madd(V8(repeating: 5.000_000_12e-1), p, r)
    let r2 = r * r
    let y = madd(r + V8(repeating: 1), p, r2)
    // 2^n: the integer n + 127 shifted into the exponent field. (Integer lanes from t's bits:
    // the float-to-int SIMD conversion would be an unspecialized call.)
    let biased = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self) &+ 127
    return y * unsafeBitCast(biased &<< 23, to: V8.self)
}

/// e^x for one float, through the same 8-lane code.
@inline(__always)
func exp1(_ x: Float) -> Float { exp8(V8(repeating: x))[0] }

/// Natural logarithm of a positive, finite double, accurate to about 1e-15 relative.
///
/// x = m·2^e with m in [√½, √2); ln m = 2·atanh(s) with s = (m-1)/(m+1), |s| ≤ 0.172, summed as an
/// odd series to s^21. Not used where speed matters (once per softmax row).
func logarithm(_ x: Double) -> Double {
    guard x > 0, x.isFinite else { return x == 0 ? -.infinity : (x.isNaN || x < 0 ? .nan : x) }
    var e = Int(x.exponent)
    var m = x.significand // [1, 2)
    if m > 1.414_213_562_373_095_1 { m *= 0.5; e += 1 }
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    var term = s
    var series = 0.0
    var odd = 1.0
    for _ in 0..<11 {
        series += term / odd
        term *= s2
        odd += 2
    }
    return 2 * series + Double(e) * 0.693_147_180_559_945_3
}

/// Whether every one of `count` values is finite (no NaN, no ±∞): v − v is 0 for every finite v
/// and NaN for ±∞ and NaN, and a NaN in a sum stays. 16-float vectors (one zmm in the AVX-512
/// build, two ymm in the AVX2 one), 32 floats per iteration.
public func allFinite(count: Int, values: UnsafePointer<Float>) -> Bool {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= count {
        let raw = UnsafeRawPointer(values + i)
        let x0 = raw.loadUnaligned(as: SIMD16<Float>.self), x1 = raw.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        a0 += x0 - x0; a1 += x1 - x1
        i += 32
    }
    var rest: Float = 0
    while i < count { rest += values[i] - values[i]; i += 1 }
    return ((a0 + a1).sum() + rest) == 0
}

/// Copies `count` floats from `source` (any alignment) to `destination` and returns whether every
/// one is finite: the copy and `allFinite` in one pass, each value read once.
public func copyAllFinite(count: Int, from source: UnsafeRawPointer, to destination: UnsafeMutablePointer<Float>) -> Bool {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= count {
        let x0 = source.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), x1 = source.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
        let out = UnsafeMutableRawPointer(destination + i)
        out.storeBytes(of: x0, as: SIMD16<Float>.self); out.storeBytes(of: x1, toByteOffset: 64, as: SIMD16<Float>.self)
        a0 += x0 - x0; a1 += x1 - x1
        i += 32
    }
    var rest: Float = 0
    while i < count {
        let v = source.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        destination[i] = v
        rest += v - v
        i += 1
    }
    return ((a0 + a1).sum() + rest) == 0
}
