/// One trainable variable: a row-major matrix (a layer's kernel) or a vector (a bias, one column).
public struct VariableSpec: Sendable, Equatable {
    public var name: String
    public var rows: Int
    public var cols: Int
    public var elements: Int { rows * cols }

    public init(name: String, rows: Int, cols: Int) {
        self.name = name
        self.rows = rows
        self.cols = cols
    }
}

/// A multilayer perceptron's shape: inputs → hidden layers (ReLU) → classes (softmax).
///
/// Its variables are laid out back to back in one flat Float array, in the order
/// `dense_0/kernel, dense_0/bias, dense_1/kernel, …`; every component (worker, ps, checkpoint)
/// addresses parameters by offsets into that array.
public struct MLPArchitecture: Sendable, Equatable, CustomStringConvertible {
    public var inputs: Int
    public var hidden: [Int]
    public var classes: Int

    public init(inputs: Int, hidden: [Int], classes: Int) {
        precondition(inputs > 0 && classes > 1 && hidden.allSatisfy { $0 > 0 })
        self.inputs = inputs
        self.hidden = hidden
        self.classes = classes
    }

    /// Layer widths from input to output: `[inputs] + hidden + [classes]`.
    public var widths: [Int] { [inputs] + hidden + [classes] }
    public var layerCount: Int { hidden.count + 1 }

    public var variables: [VariableSpec] {
        let w = widths
        return (0..<layerCount).flatMap { l in
            [VariableSpec(name: "dense_\(l)/kernel", rows: w[l], cols: w[l + 1]),
             VariableSpec(name: "dense_\(l)/bias", rows: w[l + 1], cols: 1)]
        }
    }

    /// Flat offset of each variable, in `variables` order.
    public var offsets: [Int] {
        var result: [Int] = []
        var at = 0
        for v in variables { result.append(at); at += v.elements }
        return result
    }

    public var parameterCount: Int { variables.reduce(0) { $0 + $1.elements } }

    /// Multiply-adds per example in the forward pass (training costs about 3× this, in FLOPs 6×).
    public var forwardMACsPerExample: Int {
        let w = widths
        return (0..<layerCount).reduce(0) { $0 + w[$1] * w[$1 + 1] }
    }

    public var description: String { widths.map(String.init).joined(separator: "-") }

    /// He-normal kernels and zero biases, from `seed`.
    public func initialParameters(seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed, stream: 0x1_0000)
        var params = [Float](repeating: 0, count: parameterCount)
        var at = 0
        for v in variables {
            if v.cols > 1 || v.name.hasSuffix("kernel") {
                let scale = (2.0 / Double(v.rows)).squareRoot()
                for i in 0..<v.elements { params[at + i] = Float(rng.nextGaussian() * scale) }
            }
            at += v.elements
        }
        return params
    }
}
