// In-place optimizer updates. The parameter server applies these as gradients arrive; the MLP
// benchmark applies `sgdUpdate` after every step. 16 floats per iteration, scalar tail.

/// p -= lr · g
public func sgdUpdate(count: Int, params: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float) {
    let step = V8(repeating: -learningRate)
    var i = 0
    while i + 16 <= count {
        store(madd(load(params + i), step, load(gradients + i)), params + i)
        store(madd(load(params + i + 8), step, load(gradients + i + 8)), params + i + 8)
        i += 16
    }
    while i + 8 <= count {
        store(madd(load(params + i), step, load(gradients + i)), params + i)
        i += 8
    }
    while i < count {
        params[i] -= learningRate * gradients[i]
        i += 1
    }
}

/// out = p − lr · g, with `g` read from `gradients` (any alignment) exactly once, and whether
/// every gradient read is finite: `sgdUpdate` into another buffer with `allFinite` in the same
/// pass. The values written are `sgdUpdate`'s to the bit. Each gradient is read once, so what is
/// checked is what is applied even when another process can write the memory it lies in.
public func sgdUpdateChecked(count: Int, params: UnsafePointer<Float>, gradients: UnsafeRawPointer, learningRate: Float,
                             into out: UnsafeMutablePointer<Float>) -> Bool {
    let step = V8(repeating: -learningRate)
    var a0 = V8(), a1 = V8()
    var i = 0
    // The results are checked, not the gradients: what is checked is what is stored. A peer may
    // rewrite its region while this reads it, and a build that loads a gradient twice (the debug
    // build loaded each vector's upper half again for `madd`) would otherwise check one value and
    // store another. p − lr·g is finite when p and g are and it does not overflow.
    while i + 16 <= count {
        let g0 = gradients.loadUnaligned(fromByteOffset: i * 4, as: V8.self)
        let g1 = gradients.loadUnaligned(fromByteOffset: i * 4 + 32, as: V8.self)
        let u0 = madd(load(params + i), step, g0), u1 = madd(load(params + i + 8), step, g1)
        a0 += u0 - u0; a1 += u1 - u1
        store(u0, out + i)
        store(u1, out + i + 8)
        i += 16
    }
    while i + 8 <= count {
        let g0 = gradients.loadUnaligned(fromByteOffset: i * 4, as: V8.self)
        let u0 = madd(load(params + i), step, g0)
        a0 += u0 - u0
        store(u0, out + i)
        i += 8
    }
    var rest: Float = 0
    while i < count {
        let g = gradients.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        let u = params[i] - learningRate * g
        out[i] = u
        rest += u - u
        i += 1
    }
    return ((a0 + a1).sum() + rest) == 0
}

/// v = μ·v + g;  p -= lr · (nesterov ? g + μ·v : v)   (TensorFlow's MomentumOptimizer)
public func momentumUpdate(
    count: Int, params: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>,
    gradients: UnsafePointer<Float>, learningRate: Float, momentum: Float, nesterov: Bool
) {
    let mu = V8(repeating: momentum)
    let step = V8(repeating: -learningRate)
    var i = 0
    if nesterov {
        while i + 8 <= count {
            let g = load(gradients + i)
            let v = madd(g, mu, load(velocity + i))
            store(v, velocity + i)
            store(madd(load(params + i), step, madd(g, mu, v)), params + i)
            i += 8
        }
    } else {
        while i + 8 <= count {
            let v = madd(load(gradients + i), mu, load(velocity + i))
            store(v, velocity + i)
            store(madd(load(params + i), step, v), params + i)
            i += 8
        }
    }
    while i < count {
        let v = momentum * velocity[i] + gradients[i]
        velocity[i] = v
        params[i] -= learningRate * (nesterov ? gradients[i] + momentum * v : v)
        i += 1
    }
}

/// Adam (Kingma & Ba) with bias correction; `step` counts updates from 1.
///
/// m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;  p -= α·m / (√v + ε)  with
/// α = lr·√(1-β2^t) / (1-β1^t), the form TensorFlow's AdamOptimizer uses.
public func adamUpdate(
    count: Int, params: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
    gradients: UnsafePointer<Float>, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, step: Int
) {
    let t = Double(max(step, 1))
    let correction1 = 1 - _pow(Double(beta1), t)
    let correction2 = 1 - _pow(Double(beta2), t)
    let alpha = Float(Double(learningRate) * correction2.squareRoot() / correction1)
    let b1 = V8(repeating: beta1), b2 = V8(repeating: beta2)
    let c1 = V8(repeating: 1 - beta1), c2 = V8(repeating: 1 - beta2)
    let eps = V8(repeating: epsilon), negAlpha = V8(repeating: -alpha)
    var i = 0
    while i + 8 <= count {
        let g = load(gradients + i)
        let mi = madd(b1 * load(m + i), c1, g)
        let vi = madd(b2 * load(v + i), c2, g * g)
        store(mi, m + i)
        store(vi, v + i)
        store(madd(load(params + i), negAlpha, mi / (squareRoot8(vi) + eps)), params + i)
        i += 8
    }
    while i < count {
        let g = gradients[i]
        let mi = beta1 * m[i] + (1 - beta1) * g
        let vi = beta2 * v[i] + (1 - beta2) * g * g
        m[i] = mi
        v[i] = vi
        params[i] -= alpha * mi / (vi.squareRoot() + epsilon)
        i += 1
    }
}

/// √x for 8 non-negative lanes, to about 1 float ulp.
///
/// `SIMD8.squareRoot()` lowers to eight scalar `sqrtf` calls here (with errno checks), so: 1/√x
/// from the classic bit-level estimate (3.4% off), three Newton steps y ← y·(1.5 − x/2·y²)
/// (error 1.7e-3, 4.6e-6, then rounding), and √x = x·y, which is exactly 0 at x = 0.
@inline(__always)
func squareRoot8(_ x: V8) -> V8 {
    let estimate = SIMD8<Int32>(repeating: 0x5F37_59DF) &- (unsafeBitCast(x, to: SIMD8<Int32>.self) &>> 1)
    var y = unsafeBitCast(estimate, to: V8.self)
    let minusHalfX = x * -0.5
    let threeHalves = V8(repeating: 1.5)
    y = y * madd(threeHalves, minusHalfX * y, y)
    y = y * madd(threeHalves, minusHalfX * y, y)
    y = y * madd(threeHalves, minusHalfX * y, y)
    return x * y
}

// Not hot: two calls per Adam update, outside the loop.
@_silgen_name("pow") func _pow(_ x: Double, _ y: Double) -> Double
