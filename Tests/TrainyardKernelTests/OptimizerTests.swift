import Foundation
import XCTest
import TrainyardKernel

/// SGD, momentum (plain and Nesterov) and Adam of both builds against the reference formulas in
/// double precision, over lengths around the vector width and its tails.
final class OptimizerTests: XCTestCase {
    static let counts = [0, 1, 7, 8, 9, 15, 16, 17, 33, 100]

    func testSGD() {
        var rng = TestRandom(21)
        for backend in Backend.runnable {
            for count in Self.counts {
                var p = rng.floats(count)
                let g = rng.floats(count)
                let p0 = p
                let lr: Float = 0.05
                p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { gp in
                    backend.sgd(count, pp.baseAddress!, gp.baseAddress!, lr)
                }}
                for i in 0..<count {
                    XCTAssertEqual(Double(p[i]), Double(p0[i]) - Double(lr) * Double(g[i]), accuracy: 2e-7, "\(backend.name) count=\(count) [\(i)]")
                }
            }
        }
    }

    func testMomentum() {
        var rng = TestRandom(22)
        for backend in Backend.runnable {
            for count in Self.counts {
                for nesterov in [false, true] {
                    var p = rng.floats(count), v = rng.floats(count, scale: 0.1)
                    let p0 = p, v0 = v
                    let lr: Float = 0.1, mu: Float = 0.9
                    // Three steps with different gradients.
                    var wantP = p0.map(Double.init), wantV = v0.map(Double.init)
                    for step in 0..<3 {
                        let g = rng.floats(count)
                        p.withUnsafeMutableBufferPointer { pp in v.withUnsafeMutableBufferPointer { vp in g.withUnsafeBufferPointer { gp in
                            backend.momentum(count, pp.baseAddress!, vp.baseAddress!, gp.baseAddress!, lr, mu, nesterov)
                        }}}
                        for i in 0..<count {
                            let gi = Double(g[i])
                            wantV[i] = Double(mu) * wantV[i] + gi
                            wantP[i] -= Double(lr) * (nesterov ? gi + Double(mu) * wantV[i] : wantV[i])
                        }
                        for i in 0..<count {
                            XCTAssertEqual(Double(v[i]), wantV[i], accuracy: 1e-6, "\(backend.name) count=\(count) nesterov=\(nesterov) step \(step) v[\(i)]")
                            XCTAssertEqual(Double(p[i]), wantP[i], accuracy: 1e-6, "\(backend.name) count=\(count) nesterov=\(nesterov) step \(step) p[\(i)]")
                        }
                    }
                }
            }
        }
    }

    func testAdam() {
        var rng = TestRandom(23)
        for backend in Backend.runnable {
            for count in Self.counts {
                var p = rng.floats(count)
                var m = [Float](repeating: 0, count: count), v = [Float](repeating: 0, count: count)
                var wantP = p.map(Double.init), wantM = [Double](repeating: 0, count: count), wantV = wantM
                let lr: Float = 0.01, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-7
                for step in 1...5 {
                    let g = rng.floats(count)
                    p.withUnsafeMutableBufferPointer { pp in m.withUnsafeMutableBufferPointer { mp in v.withUnsafeMutableBufferPointer { vp in
                        g.withUnsafeBufferPointer { gp in
                            backend.adam(count, pp.baseAddress!, mp.baseAddress!, vp.baseAddress!, gp.baseAddress!, lr, b1, b2, eps, step)
                        }
                    }}}
                    let alpha = Double(lr) * (1 - Foundation.pow(Double(b2), Double(step))).squareRoot() / (1 - Foundation.pow(Double(b1), Double(step)))
                    for i in 0..<count {
                        let gi = Double(g[i])
                        wantM[i] = Double(b1) * wantM[i] + (1 - Double(b1)) * gi
                        wantV[i] = Double(b2) * wantV[i] + (1 - Double(b2)) * gi * gi
                        wantP[i] -= alpha * wantM[i] / (wantV[i].squareRoot() + Double(eps))
                    }
                    for i in 0..<count {
                        XCTAssertEqual(Double(m[i]), wantM[i], accuracy: 1e-6, "\(backend.name) count=\(count) step \(step) m[\(i)]")
                        XCTAssertEqual(Double(v[i]), wantV[i], accuracy: 1e-6 * max(wantV[i], 1e-3), "\(backend.name) count=\(count) step \(step) v[\(i)]")
                        XCTAssertEqual(Double(p[i]), wantP[i], accuracy: 1e-5, "\(backend.name) count=\(count) step \(step) p[\(i)]")
                    }
                }
            }
        }
    }

    /// Adam's vectorized square root across ten decades of gradient size: at step 1 every
    /// parameter moves by lr·g / (|g| + ε'), i.e. by lr in the direction of -g.
    func testAdamStepAcrossGradientMagnitudes() {
        for backend in Backend.runnable {
            let g: [Float] = (0..<40).map { i in Float((i % 2 == 0 ? 1.0 : -1.0) * Foundation.pow(10.0, Double(i % 10) - 6)) * (1 + Float(i) / 64) }
            var p = [Float](repeating: 0, count: g.count), m = p, v = p
            let lr: Float = 0.001, eps: Float = 1e-12
            p.withUnsafeMutableBufferPointer { pp in m.withUnsafeMutableBufferPointer { mp in v.withUnsafeMutableBufferPointer { vp in
                g.withUnsafeBufferPointer { gp in
                    backend.adam(g.count, pp.baseAddress!, mp.baseAddress!, vp.baseAddress!, gp.baseAddress!, lr, 0.9, 0.999, eps, 1)
                }
            }}}
            for i in 0..<g.count {
                let gi = Double(g[i])
                let alpha = Double(lr) * (1 - 0.999).squareRoot() / (1 - 0.9)
                let want = -alpha * (0.1 * gi) / ((0.001 * gi * gi).squareRoot() + Double(eps))
                XCTAssertEqual(Double(p[i]), want, accuracy: 2e-6 * abs(want), "\(backend.name) g=\(g[i])")
            }
        }
    }

    /// The dispatcher's entry points reach a working build.
    func testDispatcherUpdates() {
        var p: [Float] = [1, 2, 3], v: [Float] = [0, 0, 0], m2: [Float] = [0, 0, 0], v2: [Float] = [0, 0, 0]
        let g: [Float] = [1, -1, 0.5]
        p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { gp in
            Updates.sgd(count: 3, params: pp.baseAddress!, gradients: gp.baseAddress!, learningRate: 0.5)
        }}
        XCTAssertEqual(p, [0.5, 2.5, 2.75])
        p.withUnsafeMutableBufferPointer { pp in v.withUnsafeMutableBufferPointer { vp in g.withUnsafeBufferPointer { gp in
            Updates.momentum(count: 3, params: pp.baseAddress!, velocity: vp.baseAddress!, gradients: gp.baseAddress!, learningRate: 1, momentum: 0.5, nesterov: false)
        }}}
        XCTAssertEqual(v, g)
        XCTAssertEqual(p, [-0.5, 3.5, 2.25])
        p.withUnsafeMutableBufferPointer { pp in m2.withUnsafeMutableBufferPointer { mp in v2.withUnsafeMutableBufferPointer { vp in g.withUnsafeBufferPointer { gp in
            Updates.adam(count: 3, params: pp.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!, gradients: gp.baseAddress!,
                         learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, step: 1)
        }}}}
        // Step 1 of Adam moves each parameter by lr·sign(g).
        XCTAssertEqual(p[0], -0.6, accuracy: 1e-5)
        XCTAssertEqual(p[1], 3.6, accuracy: 1e-5)
        XCTAssertEqual(p[2], 2.15, accuracy: 1e-5)
    }
}
