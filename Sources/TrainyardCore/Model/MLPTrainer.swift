import TrainyardKernel

/// Forward and backward passes of an `MLPArchitecture` over caller-owned parameters.
///
/// Owns the activation buffers for batches of up to `maxBatch` rows, so a training step allocates
/// nothing. Not thread-safe: one per thread.
public final class MLPTrainer {
    public let architecture: MLPArchitecture
    public let maxBatch: Int
    private let widths: [Int]
    private let offsets: [Int]
    /// activations[l] holds the input of layer l (activations[0] is a copy-free view: see `forward`).
    private var activations: [UnsafeMutablePointer<Float>]
    private var deltaA: UnsafeMutablePointer<Float>
    private var deltaB: UnsafeMutablePointer<Float>
    /// GEMM packing buffers, reused by every call so a step allocates nothing.
    private let workspace = GemmWorkspace()

    public init(architecture: MLPArchitecture, maxBatch: Int) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        self.architecture = architecture
        self.maxBatch = maxBatch
        widths = architecture.widths
        offsets = architecture.offsets
        activations = architecture.widths.dropFirst().map { UnsafeMutablePointer<Float>.allocate(capacity: maxBatch * $0) }
        let widest = architecture.widths.max()!
        deltaA = .allocate(capacity: maxBatch * widest)
        deltaB = .allocate(capacity: maxBatch * widest)
    }

    deinit {
        activations.forEach { $0.deallocate() }
        deltaA.deallocate()
        deltaB.deallocate()
    }

    private func kernel(_ l: Int, _ p: UnsafePointer<Float>) -> UnsafePointer<Float> { p + offsets[2 * l] }
    private func bias(_ l: Int, _ p: UnsafePointer<Float>) -> UnsafePointer<Float> { p + offsets[2 * l + 1] }

    /// Runs the forward pass; returns a pointer to the logits (rows × classes), valid until the next call.
    @discardableResult
    public func forward(parameters p: UnsafePointer<Float>, inputs x: UnsafePointer<Float>, rows: Int) -> UnsafePointer<Float> {
        precondition(rows > 0 && rows <= maxBatch, "batch of \(rows) rows outside 1...\(maxBatch)")
        var input = x
        for l in 0..<architecture.layerCount {
            let out = activations[l]
            Gemm.nn(m: rows, n: widths[l + 1], k: widths[l], a: input, lda: widths[l], b: kernel(l, p), ldb: widths[l + 1], c: out, ldc: widths[l + 1], workspace: workspace)
            Layers.biasActivationForward(rows: rows, cols: widths[l + 1], x: out, bias: bias(l, p), relu: l < architecture.layerCount - 1)
            input = UnsafePointer(out)
        }
        return input
    }

    /// One training step's math: the mean loss over the batch, how many examples were classified
    /// right, and d(mean loss)/d(parameters) written into `gradients` (same layout as parameters).
    public func lossAndGradients(
        parameters p: UnsafePointer<Float>, inputs x: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int,
        gradients g: UnsafeMutablePointer<Float>
    ) -> (loss: Double, correct: Int) {
        let logits = forward(parameters: p, inputs: x, rows: rows)
        let last = architecture.layerCount - 1
        let (lossSum, correct) = Layers.softmaxCrossEntropy(rows: rows, classes: widths[last + 1], logits: logits, labels: labels, gradient: deltaA)
        var delta = deltaA
        var spare = deltaB
        for l in stride(from: last, through: 0, by: -1) {
            let input: UnsafePointer<Float> = l == 0 ? x : UnsafePointer(activations[l - 1])
            // dW = inputᵀ · delta ; db = Σ rows of delta
            Gemm.tn(m: widths[l], n: widths[l + 1], k: rows, a: input, lda: widths[l], b: delta, ldb: widths[l + 1], c: g + offsets[2 * l], ldc: widths[l + 1], workspace: workspace)
            Layers.columnSums(rows: rows, cols: widths[l + 1], x: delta, out: g + offsets[2 * l + 1])
            if l > 0 {
                // d(input) = delta · Wᵀ, then through the ReLU that produced the input
                Gemm.nt(m: rows, n: widths[l], k: widths[l + 1], a: delta, lda: widths[l + 1], b: kernel(l, p), ldb: widths[l + 1], c: spare, ldc: widths[l], workspace: workspace)
                Layers.reluBackward(count: rows * widths[l], dy: spare, y: activations[l - 1])
                swap(&delta, &spare)
            }
        }
        return (lossSum / Double(rows), correct)
    }

    /// Mean loss and accuracy of the parameters on a whole data set, in batches of `maxBatch`.
    public func evaluate(parameters p: UnsafePointer<Float>, on data: Dataset) -> (loss: Double, accuracy: Double) {
        guard data.count > 0 else { return (0, 0) }
        var lossSum = 0.0
        var correct = 0
        data.features.withUnsafeBufferPointer { xs in
            data.labels.withUnsafeBufferPointer { ys in
                var start = 0
                while start < data.count {
                    let rows = min(maxBatch, data.count - start)
                    let logits = forward(parameters: p, inputs: xs.baseAddress! + start * data.inputs, rows: rows)
                    let r = Layers.softmaxCrossEntropy(rows: rows, classes: architecture.classes, logits: logits, labels: ys.baseAddress! + start, gradient: nil)
                    lossSum += r.lossSum
                    correct += r.correct
                    start += rows
                }
            }
        }
        return (lossSum / Double(data.count), Double(correct) / Double(data.count))
    }
}
