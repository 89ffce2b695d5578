// Single-precision matrix multiply in the three orientations training needs.
//
// GotoBLAS/BLIS structure (Docs/kernel.md):
//
//   for jc in 0..<n step NC                      (B panel: kc × nc, in L2/L3)
//     for pc in 0..<k step KC
//       for ic in 0..<m step MC                  pack A[ic.., pc..] into MR-tall micro-panels (L2)
//         for jr in 0..<nc step NR               first ic only: pack this NR-wide B micro-panel
//           for ir in 0..<mc step MR             micro-kernel: C[MR×NR] += Ã · B̃ over kc
//                                                (the B micro-panel, kc × NR, stays in L1)
//
// The orientation only changes how the operands are packed: `nn`, `nt` and `tn` all run the same
// register-tiled micro-kernels, which read A's micro-panel at a stride (MR when packed; the
// AVX-512 build's `tn` reads Aᵀ's whole panels where they lie in A, stride lda). Packed
// micro-panels are zero-padded to full MR / NR, and an edge tile is computed into a scratch tile
// whose valid corner is copied.
//
// All matrices are row-major with explicit leading dimensions; the caller's data is never
// transposed in place, only read where it lies or copied into the packing buffers.

/// One SIMD register's worth of floats: a ymm register in the AVX2 build, two xmm in the portable one.
typealias V8 = SIMD8<Float>

// MARK: - Tile and block sizes

#if TRAINYARD_AVX512
/// Micro-tile rows (AVX-512 build): 12 rows × 2 zmm vectors = 24 accumulators, + 2 B vectors + 1
/// broadcast = 27 of the 32 zmm registers (the BLIS SKX sgemm tile, 32 × 12, seen row-major).
let gemmMR = 12
/// Micro-tile columns: two 16-float zmm vectors.
let gemmNR = 32
/// Largest k-block: a B micro-panel (KC × 32 floats, 32 KiB at 256) stays in L1 (48 KiB on Ice
/// Lake and later, 32 KiB on Skylake-SP, where a k step's 176 bytes per 12 FMA cycles come from L2
/// just as fast); K = 784 becomes 4 × 196 (25 KiB).
let gemmKCMax = 256
/// Largest m-block: the packed A block (MC × KC floats, ≤ 480 KiB) stays in a 1–2 MiB L2.
let gemmMCMax = 480
#elseif TRAINYARD_FMA
/// Micro-tile rows: 6 rows × 2 vectors = 12 accumulators, + 2 B vectors + 1 broadcast = 15 of 16 ymm.
let gemmMR = 6
/// Micro-tile columns: two 8-float vectors.
let gemmNR = 16
#else
/// Portable build: SIMD8 lowers to two SSE registers, so the tile is 6 × 8 (12 xmm accumulators).
let gemmMR = 6
let gemmNR = 8
#endif
#if !TRAINYARD_AVX512
/// Largest k-block: a B micro-panel (KC × NR floats, 20 KiB at NR = 16) plus the streamed A
/// micro-panels stay inside the 32 KiB L1 data cache.
let gemmKCMax = 320
/// Largest m-block: the packed A block (MC × KC floats, ≤ 360 KiB) stays inside a 512 KiB L2.
let gemmMCMax = 288
#endif
/// Largest n-block: the packed B panel (KC × NC floats, ≤ 2.5 MiB) lives in L3.
let gemmNCMax = 2048

/// The micro-tile every GEMM call computes in (rows × columns of C), and the rows the last tile of
/// a call runs when it has at most that many left (the AVX-512 build's 8-row kernel; otherwise a
/// whole tile): a call on an m × n output pays for whole tiles (the cost model counts them).
public func gemmTile() -> (rows: Int, columns: Int, edgeRows: Int) { (gemmMR, gemmNR, gemmHasEightRowKernel ? 8 : gemmMR) }

/// Floats of packing workspace any GEMM call needs at most: see `gemmWorkspaceFloats(m:n:k:)`.
public func gemmWorkspaceFloats() -> Int {
    gemmMCMax * gemmKCMax + gemmKCMax * gemmNCMax + gemmMR * gemmNR + 3 * 16
}

/// Floats of packing workspace a GEMM of this shape needs: the packed A block (mc × kc), the
/// packed B panel (kc × nc), an MR × NR edge tile, and slack to start each on a 64-byte boundary.
public func gemmWorkspaceFloats(m: Int, n: Int, k: Int) -> Int {
    let blocks = GemmBlocks(m: m, n: n, k: k)
    return blocks.mc * blocks.kc + blocks.kc * blocks.nc + gemmMR * gemmNR + 3 * 16
}

/// The block sizes one call uses: each dimension split into the fewest blocks no larger than its
/// cap, of nearly equal size (so no block is a sliver), rounded up to the micro-tile.
struct GemmBlocks {
    var mc: Int, nc: Int, kc: Int
    @inline(__always) init(m: Int, n: Int, k: Int) {
        mc = balancedBlock(m, max: gemmMCMax, multiple: gemmMR)
        nc = balancedBlock(n, max: gemmNCMax, multiple: gemmNR)
        kc = balancedBlock(k, max: gemmKCMax, multiple: 1)
    }
}

// MARK: - Public entry points

/// C[m×n] = A[m×k] · B[k×n]  (plus C when `accumulate`).
public func gemmNN(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool
) {
    withGemmWorkspace(m: m, n: n, k: k) { gemmNN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: $0) }
}

/// C[m×n] = A[m×k] · B[n×k]ᵀ  (plus C when `accumulate`).
public func gemmNT(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool
) {
    withGemmWorkspace(m: m, n: n, k: k) { gemmNT(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: $0) }
}

/// C[m×n] = A[k×m]ᵀ · B[k×n]  (plus C when `accumulate`).
public func gemmTN(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool
) {
    withGemmWorkspace(m: m, n: n, k: k) { gemmTN(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, workspace: $0) }
}

/// `gemmNN` with a caller-owned workspace of at least `gemmWorkspaceFloats(m:n:k:)` floats.
public func gemmNN(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, workspace: UnsafeMutablePointer<Float>
) {
    gemmBlocked(m: m, n: n, k: k, a: a, lda: lda, aTransposed: false, b: b, ldb: ldb, bTransposed: false,
                c: c, ldc: ldc, accumulate: accumulate, workspace: workspace)
}

/// `gemmNT` with a caller-owned workspace of at least `gemmWorkspaceFloats(m:n:k:)` floats.
public func gemmNT(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, workspace: UnsafeMutablePointer<Float>
) {
    gemmBlocked(m: m, n: n, k: k, a: a, lda: lda, aTransposed: false, b: b, ldb: ldb, bTransposed: true,
                c: c, ldc: ldc, accumulate: accumulate, workspace: workspace)
}

/// `gemmTN` with a caller-owned workspace of at least `gemmWorkspaceFloats(m:n:k:)` floats.
public func gemmTN(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, workspace: UnsafeMutablePointer<Float>
) {
    gemmBlocked(m: m, n: n, k: k, a: a, lda: lda, aTransposed: true, b: b, ldb: ldb, bTransposed: false,
                c: c, ldc: ldc, accumulate: accumulate, workspace: workspace)
}

/// Runs `body` with a freshly allocated, 64-byte aligned workspace big enough for this shape.
@inline(__always)
func withGemmWorkspace(m: Int, n: Int, k: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
    let floats = gemmWorkspaceFloats(m: m, n: n, k: k)
    let raw = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
    defer { raw.deallocate() }
    body(raw.bindMemory(to: Float.self, capacity: floats))
}

// MARK: - Driver

/// Splits `total` into the fewest blocks of at most `maxBlock`, of nearly equal size rounded up to
/// a multiple of `multiple` (so no block is a sliver).
@inline(__always)
func balancedBlock(_ total: Int, max maxBlock: Int, multiple: Int) -> Int {
    if total <= 0 { return multiple }
    let blocks = (total + maxBlock - 1) / maxBlock
    let even = (total + blocks - 1) / blocks
    return min(maxBlock, (even + multiple - 1) / multiple * multiple)
}

@inline(__always)
func alignUp64(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
    let address = UInt(bitPattern: p)
    return UnsafeMutablePointer(bitPattern: (address + 63) & ~UInt(63))!
}

/// The shared blocked loop nest. `aTransposed`: A is stored k×m (read as Aᵀ); `bTransposed`: B is
/// stored n×k (read as Bᵀ).
func gemmBlocked(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, aTransposed: Bool,
    b: UnsafePointer<Float>, ldb: Int, bTransposed: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, workspace: UnsafeMutablePointer<Float>
) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let mr = gemmMR, nr = gemmNR
    let blocks = GemmBlocks(m: m, n: n, k: k)
    let kcBlock = blocks.kc, mcBlock = blocks.mc, ncBlock = blocks.nc

    let packedA = alignUp64(workspace)
    let packedB = alignUp64(packedA + mcBlock * kcBlock)
    let edge = alignUp64(packedB + kcBlock * ncBlock)

    var jc = 0
    while jc < n {
        let nc = min(ncBlock, n - jc)
        var pc = 0
        while pc < k {
            let kc = min(kcBlock, k - pc)
            let addToC = accumulate || pc > 0
            var ic = 0
            while ic < m {
                let mc = min(mcBlock, m - ic)
                if aTransposed {
                    #if TRAINYARD_AVX512
                    // Aᵀ's micro-panels are read where they lie (`readsATransposedInPlace`); only an edge
                    // panel that no kernel reads exactly is packed, zero-padded.
                    let whole = mc / mr * mr
                    if mc > whole && !readsATransposedInPlace(rows: mc - whole) {
                        packATransposedEdge(rows: mc - whole, kc: kc, a: a + pc * lda + ic + whole, lda: lda, into: packedA + whole * kc)
                    }
                    #else
                    packATransposed(mc: mc, kc: kc, a: a + pc * lda + ic, lda: lda, readable: m - ic, into: packedA)
                    #endif
                } else {
                    packA(mc: mc, kc: kc, a: a + ic * lda + pc, lda: lda, into: packedA)
                }
                var jr = 0
                while jr < nc {
                    let nrHere = min(nr, nc - jr)
                    if ic == 0 {
                        // Each B micro-panel is packed just before its first use, so it is still
                        // in L1 when the micro-kernel starts streaming A past it.
                        if bTransposed {
                            packBTransposed(kc: kc, nc: nrHere, b: b + (jc + jr) * ldb + pc, ldb: ldb, into: packedB + jr * kc)
                        } else {
                            packB(kc: kc, nc: nrHere, b: b + pc * ldb + jc + jr, ldb: ldb, into: packedB + jr * kc)
                        }
                    }
                    let bPanel = UnsafePointer(packedB + jr * kc)
                    var ir = 0
                    while ir < mc {
                        let mrHere = min(mr, mc - ir)
                        let direct = aTransposed && readsATransposedInPlace(rows: mrHere)
                        let aPanel = direct ? a + pc * lda + ic + ir : UnsafePointer(packedA + ir * kc)
                        let aStride = direct ? lda : mr
                        let cTile = c + (ic + ir) * ldc + jc + jr
                        if mrHere == mr && nrHere == nr {
                            microKernel(kc: kc, a: aPanel, aStride: aStride, b: bPanel, c: cTile, ldc: ldc, load: addToC)
                        } else if gemmHasEightRowKernel && mrHere == 8 && nrHere == nr {
                            // The last 8 rows of a batch of 128 (10 × 12 + 8): 8 rows of FMAs, not 12.
                            microKernel8(kc: kc, a: aPanel, aStride: aStride, b: bPanel, c: cTile, ldc: ldc, load: addToC)
                        } else {
                            if gemmHasEightRowKernel && mrHere <= 8 {
                                microKernel8(kc: kc, a: aPanel, aStride: aStride, b: bPanel, c: edge, ldc: nr, load: false)
                            } else {
                                microKernel(kc: kc, a: aPanel, aStride: aStride, b: bPanel, c: edge, ldc: nr, load: false)
                            }
                            for i in 0..<mrHere {
                                let ci = cTile + i * ldc
                                let ei = edge + i * nr
                                if addToC {
                                    for j in 0..<nrHere { ci[j] += ei[j] }
                                } else {
                                    for j in 0..<nrHere { ci[j] = ei[j] }
                                }
                            }
                        }
                        ir += mr
                    }
                    jr += nr
                }
                ic += mc
            }
            pc += kc
        }
        jc += nc
    }
}

// MARK: - Packing

/// Whether a `tn` micro-panel of `rows` rows is read straight from A (stored k×m, `aStride` =
/// lda): each k step's values are contiguous in a row of A, as a packed panel's are.
///
/// The AVX-512 build reads whole panels there, and the 8-row kernel's (it reads 8 values a step,
/// all inside the row); other edges are packed, zero-padded, because the kernel that reads them
/// reads MR values (measured faster than packing on the Zen 5 EPYC, 48 KiB 12-way L1; a 12-float
/// panel row is 48 of a cache line's 64 bytes). The 6-row builds pack every panel: their 24-byte
/// rows leave most of each line unused, and at a power-of-two stride of A a panel's kc lines share
/// a few L1 sets (on the Zen 3 EPYC, 32 KiB 8-way, reading in place took `tn` 512³ to 0.83–0.91×
/// OpenBLAS, packed 0.98–0.99× in the same runs; Docs/kernel.md).
@inline(__always)
func readsATransposedInPlace(rows: Int) -> Bool {
    #if TRAINYARD_AVX512
    rows == gemmMR || (gemmHasEightRowKernel && rows == 8)
    #else
    false
    #endif
}

/// A stored m×k (row-major, `lda`): writes ⌈mc/MR⌉ micro-panels, each kc × MR (k-major), rows past
/// mc zero.
func packA(mc: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, into dst: UnsafeMutablePointer<Float>) {
    let mr = gemmMR
    var out = dst
    var i = 0
    while i + mr <= mc {
        #if TRAINYARD_AVX512
        let r0 = a + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda
        let r6 = r5 + lda, r7 = r6 + lda, r8 = r7 + lda, r9 = r8 + lda, r10 = r9 + lda, r11 = r10 + lda
        // Four columns at a time: one 4-float load from each row, then each column's 12 values
        // stored from the vectors' lanes (left to itself, the loop below became AVX-512 scatters,
        // which cost more than the multiply-adds they feed on a 128-row batch).
        var p0 = 0
        while p0 + 4 <= kc {
            @inline(__always) func row(_ r: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(r + p0).loadUnaligned(as: SIMD4<Float>.self) }
            let v0 = row(r0), v1 = row(r1), v2 = row(r2), v3 = row(r3), v4 = row(r4), v5 = row(r5)
            let v6 = row(r6), v7 = row(r7), v8 = row(r8), v9 = row(r9), v10 = row(r10), v11 = row(r11)
            for j in 0..<4 {
                out[0] = v0[j]; out[1] = v1[j]; out[2] = v2[j]; out[3] = v3[j]
                out[4] = v4[j]; out[5] = v5[j]; out[6] = v6[j]; out[7] = v7[j]
                out[8] = v8[j]; out[9] = v9[j]; out[10] = v10[j]; out[11] = v11[j]
                out += mr
            }
            p0 += 4
        }
        for p in p0..<kc {
            out[0] = r0[p]; out[1] = r1[p]; out[2] = r2[p]; out[3] = r3[p]
            out[4] = r4[p]; out[5] = r5[p]; out[6] = r6[p]; out[7] = r7[p]
            out[8] = r8[p]; out[9] = r9[p]; out[10] = r10[p]; out[11] = r11[p]
            out += mr
        }
        #else
        let r0 = a + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda
        for p in 0..<kc {
            out[0] = r0[p]; out[1] = r1[p]; out[2] = r2[p]
            out[3] = r3[p]; out[4] = r4[p]; out[5] = r5[p]
            out += mr
        }
        #endif
        i += mr
    }
    if i < mc {
        let rows = mc - i
        for p in 0..<kc {
            for r in 0..<mr { out[r] = r < rows ? a[(i + r) * lda + p] : 0 }
            out += mr
        }
    }
}

#if !TRAINYARD_AVX512
/// A stored k×m (row-major, `lda`) read as Aᵀ: ⌈mc/MR⌉ micro-panels, each kc × MR (k-major), the
/// rows past mc zero. A k step's MR values are contiguous in a row of A; an 8-float load and store
/// copies them (its 2 extra floats land where the next k step's values go, so the last step copies
/// exactly), as long as the load stays inside the `readable` columns of A's row.
func packATransposed(mc: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, readable: Int, into dst: UnsafeMutablePointer<Float>) {
    let mr = gemmMR
    let panelStride = kc * mr
    let fullPanels = mc / mr
    let rest = mc - fullPanels * mr
    // Panels whose 8-float load stays inside the readable part of the row.
    let vectorPanels = readable >= 8 ? min(fullPanels, (readable - 8) / mr + 1) : 0
    for p in 0..<kc {
        let src = a + p * lda
        let out = dst + p * mr
        var j = 0
        if p < kc - 1 {
            while j < vectorPanels {
                store(load(src + j * mr), out + j * panelStride)
                j += 1
            }
        }
        while j < fullPanels {
            let s = src + j * mr, o = out + j * panelStride
            for r in 0..<mr { o[r] = s[r] }
            j += 1
        }
        if rest > 0 {
            let s = src + fullPanels * mr, o = out + fullPanels * panelStride
            for r in 0..<mr { o[r] = r < rest ? s[r] : 0 }
        }
    }
}
#endif

#if TRAINYARD_AVX512
/// The edge micro-panel of A stored k×m (row-major, `lda`) read as Aᵀ: `rows` (fewer than MR)
/// columns of A from `a`, kc steps of MR floats, the rows past `rows` zero. Whole panels are not
/// packed (`readsATransposedInPlace`).
func packATransposedEdge(rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, into dst: UnsafeMutablePointer<Float>) {
    let mr = gemmMR
    for p in 0..<kc {
        let s = a + p * lda, o = dst + p * mr
        for r in 0..<mr { o[r] = r < rows ? s[r] : 0 }
    }
}
#endif

/// B stored k×n (row-major, `ldb`): micro-panels of kc × NR, each row NR contiguous floats.
func packB(kc: Int, nc: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
    let nr = gemmNR
    var out = dst
    var j = 0
    while j + nr <= nc {
        var src = b + j
        for _ in 0..<kc {
            for v in stride(from: 0, to: nr, by: 8) { store(load(src + v), out + v) }
            out += nr
            src += ldb
        }
        j += nr
    }
    if j < nc {
        let cols = nc - j
        var src = b + j
        for _ in 0..<kc {
            for q in 0..<nr { out[q] = q < cols ? src[q] : 0 }
            out += nr
            src += ldb
        }
    }
}

/// B stored n×k (row-major, `ldb`), read as Bᵀ: gathers NR rows of B into each micro-panel.
func packBTransposed(kc: Int, nc: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
    let nr = gemmNR
    var out = dst
    var j = 0
    while j < nc {
        let cols = min(nr, nc - j)
        let src = b + j * ldb
        if cols == nr {
            // 8 × 8 blocks: eight row loads, eight transposed stores.
            var p = 0
            while p + 8 <= kc {
                for g in stride(from: 0, to: nr, by: 8) {
                    let s = src + g * ldb + p
                    let r0 = load(s), r1 = load(s + ldb), r2 = load(s + 2 * ldb), r3 = load(s + 3 * ldb)
                    let r4 = load(s + 4 * ldb), r5 = load(s + 5 * ldb), r6 = load(s + 6 * ldb), r7 = load(s + 7 * ldb)
                    for i in 0..<8 {
                        store(V8(r0[i], r1[i], r2[i], r3[i], r4[i], r5[i], r6[i], r7[i]), out + i * nr + g)
                    }
                }
                out += 8 * nr
                p += 8
            }
            while p < kc {
                for q in 0..<nr { out[q] = src[q * ldb + p] }
                out += nr
                p += 1
            }
        } else {
            for p in 0..<kc {
                for q in 0..<nr { out[q] = q < cols ? src[q * ldb + p] : 0 }
                out += nr
            }
        }
        j += nr
    }
}

// MARK: - Micro-kernel

@inline(__always) func load(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}
@inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}
@inline(__always) func store(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
}

/// acc + x·y: one fused multiply-add in the AVX2 build, a multiply and an add in the portable one
/// (which must never reach the software `fmaf`).
@inline(__always) func madd(_ acc: V8, _ x: V8, _ y: V8) -> V8 {
    #if TRAINYARD_FMA
    return acc.addingProduct(x, y)
    #else
    return acc + x * y
    #endif
}

#if TRAINYARD_AVX512
/// One zmm register of floats (AVX-512 build only).
typealias V16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> V16 {
    UnsafeRawPointer(p).loadUnaligned(as: V16.self)
}
@inline(__always) func load16(_ p: UnsafeMutablePointer<Float>) -> V16 {
    UnsafeRawPointer(p).loadUnaligned(as: V16.self)
}
@inline(__always) func store16(_ v: V16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self)
}

/// One 32-float row of a micro-tile into C at `r`: stored, or added to what is there.
@inline(__always) func storeTileRow(_ r: UnsafeMutablePointer<Float>, _ v0: V16, _ v1: V16, add: Bool) {
    if add {
        store16(v0 + load16(r), r); store16(v1 + load16(r + 16), r + 16)
    } else {
        store16(v0, r); store16(v1, r + 16)
    }
}

/// C[12×32] (+)= Ã[12×kc] · B̃[kc×32] from micro-panels (Ã's k steps `aStride` floats apart: MR
/// when packed, lda when `tn` reads A in place): per k step two zmm loads of B̃,
/// twelve broadcasts of Ã and 24 independent `vfmadd231ps zmm` into 24 accumulators. Written
/// with explicit `SIMD16` and `addingProduct`: LLVM's 256-bit preference on Intel targets only
/// narrows the loops it vectorizes itself, so explicit 512-bit vectors stay zmm.
func microKernel(kc: Int, a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, load doLoad: Bool) {
    var c00 = V16(), c01 = V16(), c10 = V16(), c11 = V16(), c20 = V16(), c21 = V16()
    var c30 = V16(), c31 = V16(), c40 = V16(), c41 = V16(), c50 = V16(), c51 = V16()
    var c60 = V16(), c61 = V16(), c70 = V16(), c71 = V16(), c80 = V16(), c81 = V16()
    var c90 = V16(), c91 = V16(), ca0 = V16(), ca1 = V16(), cb0 = V16(), cb1 = V16()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = load16(pb), b1 = load16(pb + 16)
        var x = V16(repeating: pa[0])
        c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
        x = V16(repeating: pa[1])
        c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
        x = V16(repeating: pa[2])
        c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
        x = V16(repeating: pa[3])
        c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
        x = V16(repeating: pa[4])
        c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
        x = V16(repeating: pa[5])
        c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
        x = V16(repeating: pa[6])
        c60 = c60.addingProduct(x, b0); c61 = c61.addingProduct(x, b1)
        x = V16(repeating: pa[7])
        c70 = c70.addingProduct(x, b0); c71 = c71.addingProduct(x, b1)
        x = V16(repeating: pa[8])
        c80 = c80.addingProduct(x, b0); c81 = c81.addingProduct(x, b1)
        x = V16(repeating: pa[9])
        c90 = c90.addingProduct(x, b0); c91 = c91.addingProduct(x, b1)
        x = V16(repeating: pa[10])
        ca0 = ca0.addingProduct(x, b0); ca1 = ca1.addingProduct(x, b1)
        x = V16(repeating: pa[11])
        cb0 = cb0.addingProduct(x, b0); cb1 = cb1.addingProduct(x, b1)
        pa += aStride
        pb += 32
    }
    @inline(__always) func finish(_ row: Int, _ v0: V16, _ v1: V16) { storeTileRow(c + row * ldc, v0, v1, add: doLoad) }
    finish(0, c00, c01); finish(1, c10, c11); finish(2, c20, c21); finish(3, c30, c31)
    finish(4, c40, c41); finish(5, c50, c51); finish(6, c60, c61); finish(7, c70, c71)
    finish(8, c80, c81); finish(9, c90, c91); finish(10, ca0, ca1); finish(11, cb0, cb1)
}

/// Whether this build has `microKernel8` (the AVX-512 one: a 12-row tile leaves an 8-row edge
/// at a batch of 128).
let gemmHasEightRowKernel = true

/// The first 8 rows of `microKernel`'s tile: C[8×32] (+)= Ã[8×kc] · B̃[kc×32], reading the same
/// A micro-panels (8 values a k step: rows 8–11 of a packed panel are not read), 16 accumulators.
func microKernel8(kc: Int, a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, load doLoad: Bool) {
    var c00 = V16(), c01 = V16(), c10 = V16(), c11 = V16(), c20 = V16(), c21 = V16()
    var c30 = V16(), c31 = V16(), c40 = V16(), c41 = V16(), c50 = V16(), c51 = V16()
    var c60 = V16(), c61 = V16(), c70 = V16(), c71 = V16()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = load16(pb), b1 = load16(pb + 16)
        var x = V16(repeating: pa[0])
        c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
        x = V16(repeating: pa[1])
        c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
        x = V16(repeating: pa[2])
        c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
        x = V16(repeating: pa[3])
        c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
        x = V16(repeating: pa[4])
        c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
        x = V16(repeating: pa[5])
        c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
        x = V16(repeating: pa[6])
        c60 = c60.addingProduct(x, b0); c61 = c61.addingProduct(x, b1)
        x = V16(repeating: pa[7])
        c70 = c70.addingProduct(x, b0); c71 = c71.addingProduct(x, b1)
        pa += aStride
        pb += 32
    }
    @inline(__always) func finish(_ row: Int, _ v0: V16, _ v1: V16) { storeTileRow(c + row * ldc, v0, v1, add: doLoad) }
    finish(0, c00, c01); finish(1, c10, c11); finish(2, c20, c21); finish(3, c30, c31)
    finish(4, c40, c41); finish(5, c50, c51); finish(6, c60, c61); finish(7, c70, c71)
}
#elseif TRAINYARD_FMA
/// C[6×16] (+)= Ã[6×kc] · B̃[kc×16] from micro-panels (Ã's k steps `aStride` apart), with 12 independent accumulators.
func microKernel(kc: Int, a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, load doLoad: Bool) {
    var c00 = V8(), c01 = V8(), c10 = V8(), c11 = V8(), c20 = V8(), c21 = V8()
    var c30 = V8(), c31 = V8(), c40 = V8(), c41 = V8(), c50 = V8(), c51 = V8()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = load(pb), b1 = load(pb + 8)
        var x = V8(repeating: pa[0])
        c00 = madd(c00, x, b0); c01 = madd(c01, x, b1)
        x = V8(repeating: pa[1])
        c10 = madd(c10, x, b0); c11 = madd(c11, x, b1)
        x = V8(repeating: pa[2])
        c20 = madd(c20, x, b0); c21 = madd(c21, x, b1)
        x = V8(repeating: pa[3])
        c30 = madd(c30, x, b0); c31 = madd(c31, x, b1)
        x = V8(repeating: pa[4])
        c40 = madd(c40, x, b0); c41 = madd(c41, x, b1)
        x = V8(repeating: pa[5])
        c50 = madd(c50, x, b0); c51 = madd(c51, x, b1)
        pa += aStride
        pb += 16
    }
    let r0 = c, r1 = c + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc
    if doLoad {
        c00 += load(r0); c01 += load(r0 + 8)
        c10 += load(r1); c11 += load(r1 + 8)
        c20 += load(r2); c21 += load(r2 + 8)
        c30 += load(r3); c31 += load(r3 + 8)
        c40 += load(r4); c41 += load(r4 + 8)
        c50 += load(r5); c51 += load(r5 + 8)
    }
    store(c00, r0); store(c01, r0 + 8)
    store(c10, r1); store(c11, r1 + 8)
    store(c20, r2); store(c21, r2 + 8)
    store(c30, r3); store(c31, r3 + 8)
    store(c40, r4); store(c41, r4 + 8)
    store(c50, r5); store(c51, r5 + 8)
}
#else
/// C[6×8] (+)= Ã[6×kc] · B̃[kc×8] from micro-panels (Ã's k steps `aStride` apart; portable build: 12 xmm accumulators).
func microKernel(kc: Int, a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, load doLoad: Bool) {
    var c0 = V8(), c1 = V8(), c2 = V8(), c3 = V8(), c4 = V8(), c5 = V8()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = load(pb)
        c0 = madd(c0, V8(repeating: pa[0]), b0)
        c1 = madd(c1, V8(repeating: pa[1]), b0)
        c2 = madd(c2, V8(repeating: pa[2]), b0)
        c3 = madd(c3, V8(repeating: pa[3]), b0)
        c4 = madd(c4, V8(repeating: pa[4]), b0)
        c5 = madd(c5, V8(repeating: pa[5]), b0)
        pa += aStride
        pb += 8
    }
    let r0 = c, r1 = c + ldc, r2 = r1 + ldc, r3 = r2 + ldc, r4 = r3 + ldc, r5 = r4 + ldc
    if doLoad {
        c0 += load(r0); c1 += load(r1); c2 += load(r2)
        c3 += load(r3); c4 += load(r4); c5 += load(r5)
    }
    store(c0, r0); store(c1, r1); store(c2, r2)
    store(c3, r3); store(c4, r4); store(c5, r5)
}
#endif

#if !TRAINYARD_AVX512
/// The 6-row tiles of these builds leave no 8-row edge worth its own kernel.
let gemmHasEightRowKernel = false
/// Never called in this build (`gemmHasEightRowKernel` is false).
func microKernel8(kc: Int, a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, load doLoad: Bool) {
    microKernel(kc: kc, a: a, aStride: aStride, b: b, c: c, ldc: ldc, load: doLoad)
}
#endif

