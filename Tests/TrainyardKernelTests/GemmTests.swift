import XCTest
import TrainyardKernel

/// Every GEMM orientation of every build this CPU runs against a plain double-precision triple
/// loop, on shapes that hit every edge of the 12×32 (AVX-512), 6×16 (AVX2) and 6×8 (portable)
/// micro-tiles and of the KC / MC / NC blocks, with padded leading dimensions and both values of
/// `accumulate`.
final class GemmTests: XCTestCase {
    enum Orientation: String, CaseIterable { case nn, nt, tn }

    /// (m, n, k): tiny, odd, just below/at/above the tiles (and two AVX-512 tiles), and a few that
    /// cross the cache blocks (k > KC = 320 or 256 splits k; m > MC = 288 or 480 splits m;
    /// n > NC = 2048 splits n).
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (7, 13, 5), (17, 33, 9), (2, 3, 1), (1, 17, 4), (9, 1, 3),
        (5, 15, 8), (6, 16, 8), (7, 17, 8), (11, 31, 3), (12, 32, 2), (13, 33, 6),
        (6, 8, 1), (6, 7, 2), (18, 48, 16), (19, 47, 21), (23, 63, 17), (24, 64, 5), (25, 65, 7),
        (3, 5, 321), (7, 17, 650), (290, 9, 4), (485, 7, 3), (2, 2050, 3),
        (8, 32, 7), (20, 64, 9), (128, 96, 33), (4, 32, 5), (16, 33, 3),  // the AVX-512 build's 8-row edge kernel: exactly 8 rows, fewer, and a short last panel
    ]

    struct Layout {
        var lda: Int, ldb: Int, ldc: Int
    }

    /// Column count of each stored operand for an orientation: A is m×k (nn, nt) or k×m (tn);
    /// B is k×n (nn, tn) or n×k (nt).
    static func stored(_ o: Orientation, m: Int, n: Int, k: Int) -> (aRows: Int, aCols: Int, bRows: Int, bCols: Int) {
        switch o {
        case .nn: return (m, k, k, n)
        case .nt: return (m, k, n, k)
        case .tn: return (k, m, k, n)
        }
    }

    /// C = (accumulate ? C0 : 0) + op(A)·op(B) in double precision, plus a bound on the rounding error
    /// a float computation may make (proportional to Σ|a·b|).
    static func reference(_ o: Orientation, m: Int, n: Int, k: Int, a: [Float], lda: Int, b: [Float], ldb: Int,
                          c0: [Float], ldc: Int, accumulate: Bool) -> (value: [Double], tolerance: [Double]) {
        var value = [Double](repeating: 0, count: m * n)
        var tolerance = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = accumulate ? Double(c0[i * ldc + j]) : 0
                var magnitude = abs(s)
                for p in 0..<k {
                    let av: Float = o == .tn ? a[p * lda + i] : a[i * lda + p]
                    let bv: Float = o == .nt ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                    magnitude += abs(Double(av) * Double(bv))
                }
                value[i * n + j] = s
                tolerance[i * n + j] = 4e-7 * Double(k + 2) * magnitude + 1e-30
            }
        }
        return (value, tolerance)
    }

    func run(_ backend: Backend, _ o: Orientation, m: Int, n: Int, k: Int, pad: Int, accumulate: Bool,
             useWorkspace: Bool, seed: UInt64) {
        var rng = TestRandom(seed)
        let s = Self.stored(o, m: m, n: n, k: k)
        let layout = Layout(lda: s.aCols + pad, ldb: s.bCols + 2 * pad, ldc: n + pad)
        let a = rng.floats(s.aRows * layout.lda)
        let b = rng.floats(s.bRows * layout.ldb)
        var c = rng.floats(m * layout.ldc)
        // Padding columns of C hold a sentinel that must survive.
        for i in 0..<m { for j in n..<layout.ldc { c[i * layout.ldc + j] = 1234.5 } }
        let c0 = c
        let expected = Self.reference(o, m: m, n: n, k: k, a: a, lda: layout.lda, b: b, ldb: layout.ldb,
                                      c0: c0, ldc: layout.ldc, accumulate: accumulate)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    let args = (m, n, k, ap.baseAddress!, layout.lda, bp.baseAddress!, layout.ldb, cp.baseAddress!, layout.ldc, accumulate)
                    if useWorkspace {
                        let floats = backend.workspaceFloats(m, n, k)
                        let ws = UnsafeMutablePointer<Float>.allocate(capacity: floats)
                        defer { ws.deallocate() }
                        switch o {
                        case .nn: backend.gemmNNws(args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9, ws)
                        case .nt: backend.gemmNTws(args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9, ws)
                        case .tn: backend.gemmTNws(args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9, ws)
                        }
                    } else {
                        switch o {
                        case .nn: backend.gemmNN(args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9)
                        case .nt: backend.gemmNT(args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9)
                        case .tn: backend.gemmTN(args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9)
                        }
                    }
                }
            }
        }
        let label = "\(backend.name) \(o.rawValue) m=\(m) n=\(n) k=\(k) pad=\(pad) accumulate=\(accumulate) workspace=\(useWorkspace)"
        var failures = 0
        for i in 0..<m {
            for j in 0..<layout.ldc {
                let got = c[i * layout.ldc + j]
                if j >= n {
                    if got != 1234.5 { failures += 1; if failures < 4 { XCTFail("\(label): wrote padding C[\(i)][\(j)] = \(got)") } }
                    continue
                }
                let want = expected.value[i * n + j]
                if abs(Double(got) - want) > expected.tolerance[i * n + j] {
                    failures += 1
                    if failures < 4 { XCTFail("\(label): C[\(i)][\(j)] = \(got), want \(want) ± \(expected.tolerance[i * n + j])") }
                }
            }
        }
    }

    func testAllOrientationsBothBuildsAgainstNaiveReference() {
        var seed: UInt64 = 1
        for backend in Backend.runnable {
            for o in Orientation.allCases {
                for (m, n, k) in Self.shapes {
                    for accumulate in [false, true] {
                        seed += 1
                        run(backend, o, m: m, n: n, k: k, pad: 0, accumulate: accumulate, useWorkspace: seed % 2 == 0, seed: seed)
                    }
                }
            }
        }
    }

    /// A and B end exactly where an unreadable page begins (no padding, lda and ldb the stored
    /// widths): a load past an operand's last value (an 8-float load where 6 remain in a packing
    /// loop, say) kills the test with SIGSEGV instead of passing on the allocator's slack.
    func testNothingIsReadPastTheOperandsEnd() {
        var seed: UInt64 = 500
        for backend in Backend.runnable {
            for o in Orientation.allCases {
                for (m, n, k) in [(13, 17, 5), (14, 9, 3), (19, 33, 7), (7, 16, 2), (6, 8, 9), (25, 65, 4), (290, 20, 3), (8, 32, 7)] {
                    seed += 1
                    var rng = TestRandom(seed)
                    let s = Self.stored(o, m: m, n: n, k: k)
                    let a = GuardedFloats(rng.floats(s.aRows * s.aCols)), b = GuardedFloats(rng.floats(s.bRows * s.bCols))
                    defer { a.free(); b.free() }
                    var c = [Float](repeating: 0, count: m * n)
                    let fn: Backend.GemmFn = o == .nn ? backend.gemmNN : (o == .nt ? backend.gemmNT : backend.gemmTN)
                    c.withUnsafeMutableBufferPointer { fn(m, n, k, a.pointer, s.aCols, b.pointer, s.bCols, $0.baseAddress!, n, false) }
                    let expected = Self.reference(o, m: m, n: n, k: k, a: a.values, lda: s.aCols, b: b.values, ldb: s.bCols, c0: c, ldc: n, accumulate: false)
                    let wrong = (0..<(m * n)).filter { abs(Double(c[$0]) - expected.value[$0]) > expected.tolerance[$0] }
                    XCTAssertEqual(wrong.count, 0, "\(backend.name) \(o.rawValue) m=\(m) n=\(n) k=\(k): \(wrong.count) wrong values")
                }
            }
        }
    }

    func testLeadingDimensionsWiderThanTheMatrices() {
        var seed: UInt64 = 1000
        for backend in Backend.runnable {
            for o in Orientation.allCases {
                for (m, n, k) in [(7, 13, 5), (17, 33, 9), (6, 16, 4), (13, 31, 300)] {
                    for pad in [1, 3, 8] {
                        seed += 1
                        run(backend, o, m: m, n: n, k: k, pad: pad, accumulate: seed % 2 == 0, useWorkspace: seed % 3 == 0, seed: seed)
                    }
                }
            }
        }
    }

    /// 60 random small shapes per build (fixed seed): orientation, sizes 1...40, padding 0...5, accumulate.
    func testRandomShapes() {
        var rng = TestRandom(2024)
        for backend in Backend.runnable {
            for trial in 0..<60 {
                let o = Orientation.allCases[rng.int(3)]
                let (m, n, k) = (1 + rng.int(40), 1 + rng.int(40), 1 + rng.int(40))
                run(backend, o, m: m, n: n, k: k, pad: rng.int(6), accumulate: rng.int(2) == 1,
                    useWorkspace: rng.int(2) == 1, seed: 5000 + UInt64(trial))
            }
        }
    }

    /// The public dispatcher (whichever build this process runs), including the workspace overloads.
    func testDispatcherMatchesReference() {
        let workspace = GemmWorkspace()
        var rng = TestRandom(77)
        for o in Orientation.allCases {
            for (m, n, k) in [(7, 13, 5), (17, 33, 9), (1, 1, 1), (20, 40, 270)] {
                for withWorkspace in [false, true] {
                    let s = Self.stored(o, m: m, n: n, k: k)
                    let a = rng.floats(s.aRows * s.aCols), b = rng.floats(s.bRows * s.bCols)
                    var c = rng.floats(m * n)
                    let expected = Self.reference(o, m: m, n: n, k: k, a: a, lda: s.aCols, b: b, ldb: s.bCols, c0: c, ldc: n, accumulate: true)
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                        let (A, B, C) = (ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
                        switch (o, withWorkspace) {
                        case (.nn, false): Gemm.nn(m: m, n: n, k: k, a: A, lda: s.aCols, b: B, ldb: s.bCols, c: C, ldc: n, accumulate: true)
                        case (.nt, false): Gemm.nt(m: m, n: n, k: k, a: A, lda: s.aCols, b: B, ldb: s.bCols, c: C, ldc: n, accumulate: true)
                        case (.tn, false): Gemm.tn(m: m, n: n, k: k, a: A, lda: s.aCols, b: B, ldb: s.bCols, c: C, ldc: n, accumulate: true)
                        case (.nn, true): Gemm.nn(m: m, n: n, k: k, a: A, lda: s.aCols, b: B, ldb: s.bCols, c: C, ldc: n, accumulate: true, workspace: workspace)
                        case (.nt, true): Gemm.nt(m: m, n: n, k: k, a: A, lda: s.aCols, b: B, ldb: s.bCols, c: C, ldc: n, accumulate: true, workspace: workspace)
                        case (.tn, true): Gemm.tn(m: m, n: n, k: k, a: A, lda: s.aCols, b: B, ldb: s.bCols, c: C, ldc: n, accumulate: true, workspace: workspace)
                        }
                    }}}
                    for i in 0..<m * n {
                        XCTAssertEqual(Double(c[i]), expected.value[i], accuracy: expected.tolerance[i], "\(o) \(m)x\(n)x\(k) workspace=\(withWorkspace) [\(i)]")
                    }
                }
            }
        }
    }

    /// m == 0 or n == 0: nothing is read or written. k == 0: C = 0, or unchanged when accumulating.
    func testEmptyDimensions() {
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        for backend in Backend.runnable {
            for o in Orientation.allCases {
                let fn: Backend.GemmFn = o == .nn ? backend.gemmNN : (o == .nt ? backend.gemmNT : backend.gemmTN)
                var c: [Float] = [9, 9, 9, 9]
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    fn(0, 2, 2, ap.baseAddress!, 2, bp.baseAddress!, 2, cp.baseAddress!, 2, false)
                    fn(2, 0, 2, ap.baseAddress!, 2, bp.baseAddress!, 2, cp.baseAddress!, 2, false)
                }}}
                XCTAssertEqual(c, [9, 9, 9, 9], "\(backend.name) \(o): m or n = 0 must not touch C")
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    fn(2, 2, 0, ap.baseAddress!, 2, bp.baseAddress!, 2, cp.baseAddress!, 2, true)
                }}}
                XCTAssertEqual(c, [9, 9, 9, 9], "\(backend.name) \(o): k = 0 accumulating leaves C")
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    fn(2, 1, 0, ap.baseAddress!, 2, bp.baseAddress!, 2, cp.baseAddress!, 2, false)
                }}}
                XCTAssertEqual(c, [0, 9, 0, 9], "\(backend.name) \(o): k = 0 overwriting zeroes C's m×n block only")
            }
        }
        // The dispatcher too.
        var c: [Float] = [9, 9, 9, 9]
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            Gemm.nn(m: 0, n: 2, k: 2, a: ap.baseAddress!, lda: 2, b: bp.baseAddress!, ldb: 2, c: cp.baseAddress!, ldc: 2)
            Gemm.nt(m: 2, n: 0, k: 2, a: ap.baseAddress!, lda: 2, b: bp.baseAddress!, ldb: 2, c: cp.baseAddress!, ldc: 2)
            Gemm.tn(m: 0, n: 0, k: 0, a: ap.baseAddress!, lda: 2, b: bp.baseAddress!, ldb: 2, c: cp.baseAddress!, ldc: 2)
        }}}
        XCTAssertEqual(c, [9, 9, 9, 9])
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            Gemm.tn(m: 2, n: 2, k: 0, a: ap.baseAddress!, lda: 2, b: bp.baseAddress!, ldb: 2, c: cp.baseAddress!, ldc: 2)
        }}}
        XCTAssertEqual(c, [0, 0, 0, 0])
    }

    /// The builds agree with each other to rounding on a shape that crosses every block.
    func testBuildsAgree() throws {
        let builds = Backend.runnable
        guard builds.count >= 2 else { throw XCTSkip("this CPU runs only the portable build") }
        var rng = TestRandom(5)
        let (m, n, k) = (37, 45, 300)
        let a = rng.floats(m * k), b = rng.floats(k * n)
        var outputs: [[Float]] = []
        for backend in builds {
            var c = [Float](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                backend.gemmNN(m, n, k, ap.baseAddress!, k, bp.baseAddress!, n, cp.baseAddress!, n, false)
            }}}
            outputs.append(c)
        }
        for (b, output) in outputs.enumerated().dropFirst() {
            for i in 0..<m * n { XCTAssertEqual(outputs[0][i], output[i], accuracy: 1e-4, "\(builds[b].name) vs \(builds[0].name) [\(i)]") }
        }
    }
}
