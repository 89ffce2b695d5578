/// A deterministic, learnable classification problem made from a seed.
///
/// Inputs are standard-normal vectors; a fixed random "teacher" network (one tanh hidden layer)
/// labels each with the argmax of its outputs. The same seed gives the same examples in every
/// process, and example `i` depends only on the seed and `i`, so each task can make just its shard.
public struct SyntheticDataset: Sendable, Equatable {
    public var seed: UInt64
    public var inputs: Int
    public var classes: Int
    public var examples: Int
    public var teacherHidden: Int

    public init(seed: UInt64, inputs: Int, classes: Int, examples: Int, teacherHidden: Int = 8) {
        self.seed = seed
        self.inputs = inputs
        self.classes = classes
        self.examples = examples
        self.teacherHidden = teacherHidden
    }

    /// The teacher's weights: inputs×hidden then hidden×classes.
    private func teacher() -> ([Double], [Double]) {
        var rng = SplitMix64(seed: seed, stream: 0x7EAC)
        let w1 = (0..<inputs * teacherHidden).map { _ in rng.nextGaussian() / Double(inputs).squareRoot() }
        let w2 = (0..<teacherHidden * classes).map { _ in rng.nextGaussian() / Double(teacherHidden).squareRoot() }
        return (w1, w2)
    }

    /// Examples `range`, generated directly.
    public func make(_ indices: [Int]) -> Dataset {
        let generator = Generator(self)
        var labels = [Int32](repeating: 0, count: indices.count)
        let features = [Float](unsafeUninitializedCapacity: indices.count * inputs) { buffer, count in
            for (row, i) in indices.enumerated() {
                labels[row] = generator.example(i, into: buffer.baseAddress! + row * inputs)
            }
            count = indices.count * inputs
        }
        return Dataset(inputs: inputs, classes: classes, features: features, labels: labels)
    }

    /// Makes single examples: the teacher's weights computed once, example `i` from the seed and `i` alone.
    final class Generator: @unchecked Sendable {
        let data: SyntheticDataset
        let w1: [Double], w2: [Double]
        private var x: [Double], h: [Double]

        init(_ data: SyntheticDataset) {
            self.data = data
            (w1, w2) = data.teacher()
            x = [Double](repeating: 0, count: data.inputs)
            h = [Double](repeating: 0, count: data.teacherHidden)
        }

        /// Writes example `i`'s features at `features` and returns its label.
        func example(_ i: Int, into features: UnsafeMutablePointer<Float>) -> Int32 {
            let inputs = data.inputs, hidden = data.teacherHidden
            var rng = SplitMix64(seed: data.seed, stream: 0x1_0000_0000 &+ UInt64(i))
            for d in 0..<inputs {
                x[d] = rng.nextGaussian()
                features[d] = Float(x[d])
            }
            for j in 0..<hidden {
                var s = 0.0
                for d in 0..<inputs { s += x[d] * w1[d * hidden + j] }
                h[j] = Math.tanh(s)
            }
            var best = 0
            var bestScore = -Double.infinity
            for c in 0..<data.classes {
                var s = 0.0
                for j in 0..<hidden { s += h[j] * w2[j * data.classes + c] }
                if s > bestScore { bestScore = s; best = c }
            }
            return Int32(best)
        }
    }

    /// Examples `indices`, each generated the first time it is read (`Examples`): a task starts
    /// training after making one batch, not its whole shard. The values are `make(indices)`'s.
    public func lazy(_ indices: [Int]) -> Examples { Examples(lazy: self, indices: indices) }

    /// The held-out examples are the last `evalFraction` of the index range; the rest are split
    /// into `shardCount` shards, every `shardCount`-th example, and shard `shard` is returned.
    public func split(evalFraction: Double, shard: Int, of shardCount: Int) -> DataSplit {
        let evalCount = min(examples - 1, max(0, Int((Double(examples) * evalFraction).rounded())))
        let trainCount = examples - evalCount
        let trainIndices = Array(stride(from: shard, to: trainCount, by: shardCount))
        return DataSplit(train: make(trainIndices), eval: make(Array(trainCount..<examples)))
    }

    /// `split`, with both sets generated an example at a time as they are read: training rows as
    /// batches draw them, the held-out set when it is first evaluated on (only the chief does).
    public func lazySplit(evalFraction: Double, shard: Int, of shardCount: Int) -> DataSplit {
        let evalCount = min(examples - 1, max(0, Int((Double(examples) * evalFraction).rounded())))
        let trainCount = examples - evalCount
        return DataSplit(trainExamples: lazy(Array(stride(from: shard, to: trainCount, by: shardCount))),
                         evalExamples: lazy(Array(trainCount..<examples)))
    }
}
