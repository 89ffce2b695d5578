// In-place optimizer updates. The parameter server applies these as gradients arrive.

/// p -= lr · g
public func sgdUpdate(count: Int, params: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float) {
    for i in 0..<count { params[i] -= learningRate * gradients[i] }
}

/// v = μ·v + g;  p -= lr · (nesterov ? g + μ·v : v)   (TensorFlow's MomentumOptimizer)
public func momentumUpdate(
    count: Int, params: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>,
    gradients: UnsafePointer<Float>, learningRate: Float, momentum: Float, nesterov: Bool
) {
    for i in 0..<count {
        let v = momentum * velocity[i] + gradients[i]
        velocity[i] = v
        params[i] -= learningRate * (nesterov ? gradients[i] + momentum * v : v)
    }
}

/// Adam (Kingma & Ba) with bias correction; `step` counts updates from 1.
public func adamUpdate(
    count: Int, params: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
    gradients: UnsafePointer<Float>, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, step: Int
) {
    let t = Double(max(step, 1))
    let correction1 = 1 - _pow(Double(beta1), t)
    let correction2 = 1 - _pow(Double(beta2), t)
    let alpha = Float(Double(learningRate) * correction2.squareRoot() / correction1)
    for i in 0..<count {
        let g = gradients[i]
        let mi = beta1 * m[i] + (1 - beta1) * g
        let vi = beta2 * v[i] + (1 - beta2) * g * g
        m[i] = mi
        v[i] = vi
        params[i] -= alpha * mi / (vi.squareRoot() + epsilon)
    }
}

@_silgen_name("pow") func _pow(_ x: Double, _ y: Double) -> Double
