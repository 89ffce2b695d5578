import Foundation
import XCTest
import TrainyardKernel

/// The fused layer operations and the loss of both builds, against plain double-precision loops,
/// on widths around the 8-float vector and its tails.
final class ElementwiseTests: XCTestCase {
    static let widths = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 45, 70]

    /// The batch gather copies exactly the rows named, in the order named (repeats included),
    /// for batches shorter and longer than its look-ahead.
    func testRowsGatherCopiesTheNamedRowsInOrder() {
        var rng = TestRandom(5)
        for width in [1, 7, 16, 17, 784] {
            let source = rng.floats(50 * width)
            for indices in [[3], [0, 49], [9, 9, 2, 40, 1, 0, 33, 33, 12], Array((0..<50).reversed())] {
                var out = [Float](repeating: .nan, count: indices.count * width)
                source.withUnsafeBufferPointer { s in indices.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
                    Rows.gather(source: s.baseAddress!, width: width, indices: i, into: o.baseAddress!)
                }}}
                let expected = indices.flatMap { source[($0 * width)..<($0 * width + width)] }
                XCTAssertEqual(out, expected, "width \(width) indices \(indices)")
            }
        }
    }

    /// Every build's finiteness check, and its copy that checks as it copies, find NaN and ±∞
    /// anywhere (vector body and tail), pass the extreme finite values, and copy every bit.
    func testFiniteChecksAndTheCheckingCopy() {
        let finite: [Float] = [0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1, -3]
        for backend in Backend.runnable {
            for n in [0, 1, 7, 8, 31, 32, 33, 100, 1000] {
                var values = (0..<n).map { finite[$0 % finite.count] }
                func check(_ expected: Bool, _ what: String) {
                    values.withUnsafeBufferPointer { v in
                        if n > 0 { XCTAssertEqual(backend.allFinite(n, v.baseAddress!), expected, "\(backend.name) n \(n) \(what)") }
                        // From an odd address, as a region's bytes may lie.
                        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * 4 + 1, alignment: 64)
                        defer { raw.deallocate() }
                        if n > 0 { (raw + 1).copyMemory(from: v.baseAddress!, byteCount: n * 4) }
                        var out = [Float](repeating: 7, count: n)
                        let ok = out.withUnsafeMutableBufferPointer { o in n == 0 || backend.copyAllFinite(n, UnsafeRawPointer(raw + 1), o.baseAddress!) }
                        XCTAssertEqual(ok, expected, "\(backend.name) copy n \(n) \(what)")
                        XCTAssertEqual(out.map(\.bitPattern), values.map(\.bitPattern), "\(backend.name) copy n \(n) \(what)")
                    }
                }
                check(true, "all finite")
                for bad in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7F80_0001)] {
                    for position in Set([0, n / 2, n - 1]) where n > 0 {
                        let saved = values[position]
                        values[position] = bad
                        check(false, "\(bad) at \(position)")
                        values[position] = saved
                    }
                }
            }
        }
    }

    /// Every build's checked SGD (the ps's update from a trainer's shared region) writes exactly
    /// what the in-place SGD does, bit for bit, leaves the parameters alone, reads gradients from
    /// any address, and reports a NaN or ±∞ anywhere (vector body and tail).
    func testCheckedSGDWritesTheInPlaceUpdateAndFindsNonFiniteGradients() {
        var rng = TestRandom(23)
        for backend in Backend.runnable {
            for n in [1, 7, 8, 15, 16, 17, 31, 33, 100, 1000] {
                let params = rng.floats(n, scale: 3)
                var gradients = rng.floats(n, scale: 5)
                var inPlace = params
                inPlace.withUnsafeMutableBufferPointer { p in gradients.withUnsafeBufferPointer { g in backend.sgd(n, p.baseAddress!, g.baseAddress!, 0.037) } }
                func run() -> (ok: Bool, out: [Float]) {
                    let raw = UnsafeMutableRawPointer.allocate(byteCount: n * 4 + 1, alignment: 64)
                    defer { raw.deallocate() }
                    gradients.withUnsafeBytes { (raw + 1).copyMemory(from: $0.baseAddress!, byteCount: n * 4) }
                    var out = [Float](repeating: 7, count: n)
                    let ok = params.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
                        backend.sgdChecked(n, p.baseAddress!, UnsafeRawPointer(raw + 1), 0.037, o.baseAddress!)
                    }}
                    return (ok, out)
                }
                let (ok, out) = run()
                XCTAssertTrue(ok, "\(backend.name) n \(n)")
                XCTAssertEqual(out.map(\.bitPattern), inPlace.map(\.bitPattern), "\(backend.name) n \(n)")
                for bad in [Float.nan, .infinity, -.infinity] {
                    for position in Set([0, n / 2, n - 1]) {
                        let saved = gradients[position]
                        gradients[position] = bad
                        XCTAssertFalse(run().ok, "\(backend.name) n \(n) \(bad) at \(position)")
                        gradients[position] = saved
                    }
                }
            }
        }
    }

    /// The results are what the checked SGD checks (what it stores), so a finite gradient whose
    /// update passes Float's range is refused as a NaN would be, in the vector body and the tail.
    func testCheckedSGDRefusesAnUpdatePastTheFloatRange() {
        for backend in Backend.runnable {
            for n in [2, 16, 17] {
                var p = [Float](repeating: 1, count: n), g = [Float](repeating: 1, count: n)
                p[n - 1] = .greatestFiniteMagnitude
                g[n - 1] = -.greatestFiniteMagnitude
                var out = [Float](repeating: 0, count: n)
                let ok = p.withUnsafeBufferPointer { pp in g.withUnsafeBytes { gg in out.withUnsafeMutableBufferPointer { o in
                    backend.sgdChecked(n, pp.baseAddress!, gg.baseAddress!, 0.5, o.baseAddress!)
                }}}
                XCTAssertFalse(ok, "\(backend.name) n \(n)")
                XCTAssertEqual(out[n - 1], .infinity, "\(backend.name) n \(n)")
                p[n - 1] = 1; g[n - 1] = 1
                XCTAssertTrue(p.withUnsafeBufferPointer { pp in g.withUnsafeBytes { gg in out.withUnsafeMutableBufferPointer { o in
                    backend.sgdChecked(n, pp.baseAddress!, gg.baseAddress!, 0.5, o.baseAddress!)
                }}}, "\(backend.name) n \(n)")
            }
        }
    }

    func testBiasActivationForward() {
        var rng = TestRandom(11)
        for backend in Backend.runnable {
            for cols in Self.widths {
                for relu in [false, true] {
                    let rows = 3
                    var x = rng.floats(rows * cols, scale: 2)
                    let bias = rng.floats(cols)
                    let x0 = x
                    x.withUnsafeMutableBufferPointer { xp in bias.withUnsafeBufferPointer { bp in
                        backend.biasActivationForward(rows, cols, xp.baseAddress!, bp.baseAddress!, relu)
                    }}
                    for r in 0..<rows {
                        for c in 0..<cols {
                            let v = x0[r * cols + c] + bias[c]
                            XCTAssertEqual(x[r * cols + c], relu ? max(v, 0) : v, "\(backend.name) cols=\(cols) relu=\(relu) [\(r)][\(c)]")
                        }
                    }
                }
            }
        }
    }

    func testReluBackward() {
        var rng = TestRandom(12)
        for backend in Backend.runnable {
            for count in [0, 1, 7, 8, 9, 31, 32, 33, 70, 100] {
                var dy = rng.floats(count)
                // y: the ReLU's output, with exact zeros (gradient blocked) and a few negatives.
                let y: [Float] = (0..<count).map { i in i % 3 == 0 ? 0 : (i % 7 == 0 ? -1 : rng.float() + 1.5) }
                let dy0 = dy
                dy.withUnsafeMutableBufferPointer { dp in y.withUnsafeBufferPointer { yp in
                    backend.reluBackward(count, dp.baseAddress!, yp.baseAddress!)
                }}
                for i in 0..<count {
                    XCTAssertEqual(dy[i], y[i] <= 0 ? 0 : dy0[i], "\(backend.name) count=\(count) [\(i)]")
                }
            }
        }
    }

    func testColumnSums() {
        var rng = TestRandom(13)
        for backend in Backend.runnable {
            for cols in Self.widths {
                for rows in [0, 1, 5] {
                    for accumulate in [false, true] {
                        let x = rng.floats(rows * cols)
                        var out = rng.floats(cols)
                        let out0 = out
                        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
                            backend.columnSums(rows, cols, xp.baseAddress!, op.baseAddress!, accumulate)
                        }}
                        for c in 0..<cols {
                            var s = accumulate ? Double(out0[c]) : 0
                            for r in 0..<rows { s += Double(x[r * cols + c]) }
                            XCTAssertEqual(Double(out[c]), s, accuracy: 1e-5, "\(backend.name) rows=\(rows) cols=\(cols) acc=\(accumulate)")
                        }
                    }
                }
            }
        }
    }

    /// Loss, gradient and accuracy count against a double-precision softmax, over class counts
    /// around the vector width, with logits from tiny to ±1000 (stability: no overflow, no NaN).
    func testSoftmaxCrossEntropyAgainstDoubleReference() {
        var rng = TestRandom(14)
        for backend in Backend.runnable {
            for classes in [1, 2, 3, 7, 8, 9, 10, 16, 17, 33] {
                for scale: Float in [0.01, 3, 40, 1000] {
                    let rows = 4
                    let logits = rng.floats(rows * classes, scale: scale)
                    let labels = (0..<rows).map { _ in Int32(rng.int(classes)) }
                    var gradient = [Float](repeating: .nan, count: rows * classes)
                    let result = logits.withUnsafeBufferPointer { lp in labels.withUnsafeBufferPointer { yp in
                        gradient.withUnsafeMutableBufferPointer { gp in
                            backend.softmaxCrossEntropy(rows, classes, lp.baseAddress!, yp.baseAddress!, gp.baseAddress!)
                        }
                    }}
                    let lossOnly = logits.withUnsafeBufferPointer { lp in labels.withUnsafeBufferPointer { yp in
                        backend.softmaxCrossEntropy(rows, classes, lp.baseAddress!, yp.baseAddress!, nil)
                    }}
                    var lossSum = 0.0
                    var correct = 0
                    for r in 0..<rows {
                        let z = (0..<classes).map { Double(logits[r * classes + $0]) }
                        let zmax = z.max()!
                        let argmax = z.firstIndex(of: zmax)!
                        if argmax == Int(labels[r]) { correct += 1 }
                        let sum = z.reduce(0) { $0 + Foundation.exp($1 - zmax) }
                        lossSum += Foundation.log(sum) - (z[Int(labels[r])] - zmax)
                        for c in 0..<classes {
                            let p = Foundation.exp(z[c] - zmax) / sum
                            let want = (p - (c == Int(labels[r]) ? 1 : 0)) / Double(rows)
                            let got = Double(gradient[r * classes + c])
                            // p - 1 for the label cancels: allow a few float ulps of 1, over rows.
                            XCTAssertEqual(got, want, accuracy: 2e-6 * abs(want) + 2.4e-7 / Double(rows),
                                           "\(backend.name) classes=\(classes) scale=\(scale) grad[\(r)][\(c)]")
                        }
                    }
                    let label = "\(backend.name) classes=\(classes) scale=\(scale)"
                    XCTAssertEqual(result.lossSum, lossSum, accuracy: 1e-6 * max(1, abs(lossSum)), label)
                    XCTAssertEqual(result.correct, correct, label)
                    XCTAssertEqual(lossOnly.lossSum, result.lossSum, label)
                    XCTAssertEqual(lossOnly.correct, result.correct, label)
                    XCTAssertTrue(result.lossSum.isFinite, label)
                }
            }
        }
    }

    /// The exponential inside the softmax, probed through two-class rows: p = 1 / (1 + e^d), over
    /// d from -75 to 75, to 1e-6 relative.
    func testSoftmaxProbabilitiesAcrossTheExponentRange() {
        for backend in Backend.runnable {
            var logits: [Float] = []
            var ds: [Double] = []
            var d: Float = -75
            while d <= 75 {
                logits += [0, d]
                ds.append(Double(d))
                d += 0.37
            }
            let rows = ds.count
            let labels = [Int32](repeating: 1, count: rows)
            var gradient = [Float](repeating: 0, count: rows * 2)
            _ = logits.withUnsafeBufferPointer { lp in labels.withUnsafeBufferPointer { yp in gradient.withUnsafeMutableBufferPointer { gp in
                backend.softmaxCrossEntropy(rows, 2, lp.baseAddress!, yp.baseAddress!, gp.baseAddress!)
            }}}
            for r in 0..<rows {
                // gradient[r][0] = p0 / rows with p0 = 1 / (1 + e^d)
                let want = 1 / (1 + Foundation.exp(ds[r]))
                let got = Double(gradient[r * 2]) * Double(rows)
                XCTAssertEqual(got, want, accuracy: 1e-6 * want + 1e-30, "\(backend.name) d=\(ds[r])")
            }
        }
    }

    func testSoftmaxTiesCountTheFirstMaximum() {
        for backend in Backend.runnable {
            let logits: [Float] = [2, 2, 1, 5, 5, 5]
            let labels: [Int32] = [1, 0]
            let r = logits.withUnsafeBufferPointer { lp in labels.withUnsafeBufferPointer { yp in
                backend.softmaxCrossEntropy(2, 3, lp.baseAddress!, yp.baseAddress!, nil)
            }}
            XCTAssertEqual(r.correct, 1, backend.name)  // row 0 argmax 0 ≠ 1; row 1 argmax 0 = 0
            XCTAssertEqual(r.lossSum, (Foundation.log(2 + Foundation.exp(-1.0))) + Foundation.log(3.0), accuracy: 1e-6)
        }
    }

    /// The dispatcher's entry points reach a working build.
    func testDispatcherLayers() {
        var x: [Float] = [-1, 2, 3, -4]
        let bias: [Float] = [0.5, -0.5]
        x.withUnsafeMutableBufferPointer { xp in bias.withUnsafeBufferPointer { bp in
            Layers.biasActivationForward(rows: 2, cols: 2, x: xp.baseAddress!, bias: bp.baseAddress!, relu: true)
        }}
        XCTAssertEqual(x, [0, 1.5, 3.5, 0])
        var dy: [Float] = [1, 1, 1, 1]
        dy.withUnsafeMutableBufferPointer { dp in x.withUnsafeBufferPointer { yp in
            Layers.reluBackward(count: 4, dy: dp.baseAddress!, y: yp.baseAddress!)
        }}
        XCTAssertEqual(dy, [0, 1, 1, 0])
        var sums: [Float] = [0, 0]
        x.withUnsafeBufferPointer { xp in sums.withUnsafeMutableBufferPointer { sp in
            Layers.columnSums(rows: 2, cols: 2, x: xp.baseAddress!, out: sp.baseAddress!)
        }}
        XCTAssertEqual(sums, [3.5, 1.5])
        let logits: [Float] = [0, 0]
        let labels: [Int32] = [1]
        var g: [Float] = [0, 0]
        let r = logits.withUnsafeBufferPointer { lp in labels.withUnsafeBufferPointer { yp in g.withUnsafeMutableBufferPointer { gp in
            Layers.softmaxCrossEntropy(rows: 1, classes: 2, logits: lp.baseAddress!, labels: yp.baseAddress!, gradient: gp.baseAddress!)
        }}}
        XCTAssertEqual(r.lossSum, Foundation.log(2.0), accuracy: 1e-7)
        XCTAssertEqual(g[0], 0.5, accuracy: 1e-7)
        XCTAssertEqual(g[1], -0.5, accuracy: 1e-7)
    }
}
