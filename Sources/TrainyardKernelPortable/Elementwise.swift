// Fused activations, the softmax cross-entropy loss and its gradient.

/// x[r][c] = act(x[r][c] + bias[c]) over a rows×cols row-major block; ReLU when `relu`.
public func biasActivationForward(
    rows: Int, cols: Int, x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, relu: Bool
) {
    for r in 0..<rows {
        let xr = x + r * cols
        for c in 0..<cols {
            let v = xr[c] + bias[c]
            xr[c] = relu ? max(v, 0) : v
        }
    }
}

/// dy[i] = 0 wherever y[i] <= 0: the ReLU backward step, given the ReLU's output y.
public func reluBackward(count: Int, dy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>) {
    for i in 0..<count where y[i] <= 0 { dy[i] = 0 }
}

/// out[c] = Σ_r x[r][c] (plus out when `accumulate`): the bias gradient.
public func columnSums(
    rows: Int, cols: Int, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, accumulate: Bool
) {
    if !accumulate { out.update(repeating: 0, count: cols) }
    for r in 0..<rows {
        let xr = x + r * cols
        for c in 0..<cols { out[c] += xr[c] }
    }
}

/// Softmax cross-entropy of `rows` examples over `classes` logits, fused with its gradient.
///
/// Writes d(mean loss)/d(logits) into `gradient` (rows×classes, already divided by `rows`) and
/// returns the summed loss and how many rows' argmax equals the label. Labels must lie in
/// 0..<classes.
public func softmaxCrossEntropy(
    rows: Int, classes: Int,
    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
    gradient: UnsafeMutablePointer<Float>?
) -> (lossSum: Double, correct: Int) {
    var lossSum = 0.0
    var correct = 0
    let scale = 1 / Float(rows)
    for r in 0..<rows {
        let z = logits + r * classes
        var best = 0
        var zmax = z[0]
        for c in 1..<classes where z[c] > zmax { zmax = z[c]; best = c }
        var sum: Float = 0
        for c in 0..<classes { sum += expf_(z[c] - zmax) }
        let label = Int(labels[r])
        if best == label { correct += 1 }
        lossSum += Double(logf_(sum) - (z[label] - zmax))
        if let g = gradient {
            let gr = g + r * classes
            let inv = 1 / sum
            for c in 0..<classes {
                let p = expf_(z[c] - zmax) * inv
                gr[c] = (p - (c == label ? 1 : 0)) * scale
            }
        }
    }
    return (lossSum, correct)
}

@inline(__always) func expf_(_ x: Float) -> Float { Float(_exp(Double(x))) }
@inline(__always) func logf_(_ x: Float) -> Float { Float(_log(Double(x))) }

// exp and log without importing a platform module: the kernel stays free of Glibc.
@_silgen_name("exp") func _exp(_ x: Double) -> Double
@_silgen_name("log") func _log(_ x: Double) -> Double
