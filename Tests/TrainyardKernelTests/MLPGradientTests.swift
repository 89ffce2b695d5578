import Foundation
import XCTest
import TrainyardCore
import TrainyardKernel

/// The whole training step of a small MLP: `MLPTrainer`'s analytic gradients against central
/// finite differences of an independent double-precision forward pass, and of its own float loss.
final class MLPGradientTests: XCTestCase {
    let architecture = MLPArchitecture(inputs: 5, hidden: [7, 4], classes: 3)
    let rows = 4

    /// Parameters with non-zero biases, inputs and labels, all fixed.
    func problem() -> (parameters: [Float], inputs: [Float], labels: [Int32]) {
        var parameters = architecture.initialParameters(seed: 42)
        var rng = TestRandom(99)
        let offsets = architecture.offsets
        for (i, v) in architecture.variables.enumerated() where v.name.hasSuffix("bias") {
            for j in 0..<v.elements { parameters[offsets[i] + j] = rng.float() * 0.3 }
        }
        let inputs = rng.floats(rows * architecture.inputs, scale: 1.5)
        let labels: [Int32] = [0, 2, 1, 2]
        return (parameters, inputs, labels)
    }

    /// Mean softmax cross-entropy of the MLP in double precision, written out independently.
    func referenceLoss(_ p: [Double], _ x: [Float], _ labels: [Int32]) -> Double {
        let w = architecture.widths
        let offsets = architecture.offsets
        var total = 0.0
        for r in 0..<rows {
            var a = (0..<w[0]).map { Double(x[r * w[0] + $0]) }
            for l in 0..<architecture.layerCount {
                var out = [Double](repeating: 0, count: w[l + 1])
                for j in 0..<w[l + 1] {
                    var s = p[offsets[2 * l + 1] + j]
                    for i in 0..<w[l] { s += a[i] * p[offsets[2 * l] + i * w[l + 1] + j] }
                    out[j] = l < architecture.layerCount - 1 ? max(s, 0) : s
                }
                a = out
            }
            let zmax = a.max()!
            let sum = a.reduce(0) { $0 + Foundation.exp($1 - zmax) }
            total += Foundation.log(sum) + zmax - a[Int(labels[r])]
        }
        return total / Double(rows)
    }

    func analytic(_ trainer: MLPTrainer, _ parameters: [Float], _ inputs: [Float], _ labels: [Int32]) -> (loss: Double, correct: Int, gradients: [Float]) {
        var gradients = [Float](repeating: .nan, count: architecture.parameterCount)
        let result = parameters.withUnsafeBufferPointer { p in inputs.withUnsafeBufferPointer { x in labels.withUnsafeBufferPointer { y in
            gradients.withUnsafeMutableBufferPointer { g in
                trainer.lossAndGradients(parameters: p.baseAddress!, inputs: x.baseAddress!, labels: y.baseAddress!, rows: rows, gradients: g.baseAddress!)
            }
        }}}
        return (result.loss, result.correct, gradients)
    }

    func testGradientsMatchCentralDifferencesInDouble() {
        let (parameters, inputs, labels) = problem()
        let trainer = MLPTrainer(architecture: architecture, maxBatch: 8)
        let (loss, _, gradients) = analytic(trainer, parameters, inputs, labels)
        let p = parameters.map(Double.init)
        XCTAssertEqual(loss, referenceLoss(p, inputs, labels), accuracy: 1e-5)
        let h = 1e-6
        var worst = 0.0
        for i in 0..<p.count {
            var plus = p, minus = p
            plus[i] += h
            minus[i] -= h
            let numeric = (referenceLoss(plus, inputs, labels) - referenceLoss(minus, inputs, labels)) / (2 * h)
            let error = abs(Double(gradients[i]) - numeric) / max(abs(numeric), abs(Double(gradients[i])), 1e-3)
            worst = max(worst, error)
            XCTAssertLessThan(error, 1e-2, "parameter \(i): analytic \(gradients[i]), numeric \(numeric)")
        }
        XCTAssertLessThan(worst, 1e-3, "worst relative error \(worst)")
    }

    /// The trainer's own float loss, differenced centrally: the gradient vector agrees to 1e-2.
    func testGradientsMatchCentralDifferencesOfTheTrainersFloatLoss() {
        let (parameters, inputs, labels) = problem()
        let trainer = MLPTrainer(architecture: architecture, maxBatch: 8)
        let (_, _, gradients) = analytic(trainer, parameters, inputs, labels)
        let h: Float = 1e-2
        var difference = 0.0, norm = 0.0
        for i in 0..<parameters.count {
            var plus = parameters, minus = parameters
            plus[i] += h
            minus[i] -= h
            let numeric = (analytic(trainer, plus, inputs, labels).loss - analytic(trainer, minus, inputs, labels).loss) / Double(2 * h)
            difference += (Double(gradients[i]) - numeric) * (Double(gradients[i]) - numeric)
            norm += numeric * numeric
        }
        XCTAssertLessThan((difference / norm).squareRoot(), 1e-2)
    }

    func testForwardAndEvaluateMatchTheReference() {
        let (parameters, inputs, labels) = problem()
        let trainer = MLPTrainer(architecture: architecture, maxBatch: 3)  // evaluate runs 3 + 1 rows
        let data = Dataset(inputs: 5, classes: 3, features: inputs, labels: labels)
        let result = parameters.withUnsafeBufferPointer { trainer.evaluate(parameters: $0.baseAddress!, on: data) }
        XCTAssertEqual(result.loss, referenceLoss(parameters.map(Double.init), inputs, labels), accuracy: 1e-5)
        XCTAssert((0...1).contains(result.accuracy))
        // A step of SGD along the gradient lowers the loss.
        let big = MLPTrainer(architecture: architecture, maxBatch: 8)
        let (loss, _, gradients) = analytic(big, parameters, inputs, labels)
        var updated = parameters
        updated.withUnsafeMutableBufferPointer { p in gradients.withUnsafeBufferPointer { g in
            Updates.sgd(count: p.count, params: p.baseAddress!, gradients: g.baseAddress!, learningRate: 0.05)
        }}
        XCTAssertLessThan(analytic(big, updated, inputs, labels).loss, loss)
    }
}
