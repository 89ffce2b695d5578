/// How the model's variables are spread over the parameter servers.
///
/// Whole variables go round the shards by size, largest first, each to the least-loaded shard;
/// a variable larger than a quarter of an even share is first split by rows into near-equal
/// pieces (no bigger than that), so that
/// adding parameter servers adds bandwidth as on a real cluster (TensorFlow's partitioners split
/// along axis 0 too). Deterministic: every task computes the same partition from the same model.
public struct Partition: Sendable, Equatable {
    /// A run of whole rows of one variable: a contiguous range of the flat parameter array.
    public struct Piece: Sendable, Equatable {
        public var variable: Int
        public var rowStart: Int
        public var rowCount: Int
        /// Where the piece starts in the model's flat array, and how many Floats it holds.
        public var flatStart: Int
        public var count: Int
    }

    /// The pieces each shard holds, in flat order; a shard's values are its pieces back to back.
    public let shards: [[Piece]]
    public let totalElements: Int

    public var shardCount: Int { shards.count }
    public func elements(inShard s: Int) -> Int { shards[s].reduce(0) { $0 + $1.count } }

    /// Partitions `variables` (laid out back to back) over `shardCount` shards. Pieces are never cut
    /// smaller than `minimumPiece` elements (64 KiB by default): splitting below that buys no balance
    /// worth a message.
    public init(variables: [VariableSpec], shardCount: Int, minimumPiece: Int = 16_384) {
        precondition(shardCount >= 1, "a partition needs at least one shard")
        var offsets: [Int] = []
        var at = 0
        for v in variables { offsets.append(at); at += v.elements }
        totalElements = at
        let share = max(1, (totalElements + shardCount - 1) / shardCount)
        // Pieces of at most a quarter share keep the greedy assignment within a few percent of even.
        let maxPiece = shardCount == 1 ? totalElements : max(minimumPiece, share / 4, 1)

        var pieces: [Piece] = []
        for (i, v) in variables.enumerated() where v.elements > 0 {
            let parts = min(v.rows, max(1, (v.elements + maxPiece - 1) / maxPiece))
            var row = 0
            for p in 0..<parts {
                let rows = v.rows / parts + (p < v.rows % parts ? 1 : 0)
                pieces.append(Piece(variable: i, rowStart: row, rowCount: rows, flatStart: offsets[i] + row * v.cols, count: rows * v.cols))
                row += rows
            }
        }
        // Largest first; ties keep model order. Each goes to the least-loaded shard (lowest index on ties).
        let order = pieces.indices.sorted { a, b in
            pieces[a].count != pieces[b].count ? pieces[a].count > pieces[b].count : a < b
        }
        var load = [Int](repeating: 0, count: shardCount)
        var assigned = [[Piece]](repeating: [], count: shardCount)
        for i in order {
            let target = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
            assigned[target].append(pieces[i])
            load[target] += pieces[i].count
        }
        shards = assigned.map { $0.sorted { $0.flatStart < $1.flatStart } }
    }

    /// Copies shard `s`'s values out of the model's flat array.
    public func gather(shard s: Int, from flat: UnsafePointer<Float>) -> [Float] {
        // The pieces cover the shard exactly, so every element is written: no zeroing first.
        let n = elements(inShard: s)
        return [Float](unsafeUninitializedCapacity: n) { dst, count in
            var at = 0
            for piece in shards[s] {
                (dst.baseAddress! + at).initialize(from: flat + piece.flatStart, count: piece.count)
                at += piece.count
            }
            precondition(at == n, "shard \(s)'s pieces hold \(at) values, not \(n)")
            count = n
        }
    }

    public func gather(shard s: Int, from flat: [Float]) -> [Float] {
        flat.withUnsafeBufferPointer { gather(shard: s, from: $0.baseAddress!) }
    }

    /// Writes shard `s`'s values back into the model's flat array.
    public func scatter(shard s: Int, values: [Float], into flat: UnsafeMutablePointer<Float>) {
        precondition(values.count == elements(inShard: s), "shard \(s) holds \(elements(inShard: s)) values, got \(values.count)")
        values.withUnsafeBufferPointer { src in
            var at = 0
            for piece in shards[s] {
                (flat + piece.flatStart).update(from: src.baseAddress! + at, count: piece.count)
                at += piece.count
            }
        }
    }

    public func scatter(shard s: Int, values: [Float], into flat: inout [Float]) {
        flat.withUnsafeMutableBufferPointer { scatter(shard: s, values: values, into: $0.baseAddress!) }
    }
}
