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
        let (w1, w2) = teacher()
        var features = [Float](repeating: 0, count: indices.count * inputs)
        var labels = [Int32](repeating: 0, count: indices.count)
        var x = [Double](repeating: 0, count: inputs)
        var h = [Double](repeating: 0, count: teacherHidden)
        for (row, i) in indices.enumerated() {
            var rng = SplitMix64(seed: seed, stream: 0x1_0000_0000 &+ UInt64(i))
            for d in 0..<inputs {
                x[d] = rng.nextGaussian()
                features[row * inputs + d] = Float(x[d])
            }
            for j in 0..<teacherHidden {
                var s = 0.0
                for d in 0..<inputs { s += x[d] * w1[d * teacherHidden + j] }
                h[j] = Math.tanh(s)
            }
            var best = 0
            var bestScore = -Double.infinity
            for c in 0..<classes {
                var s = 0.0
                for j in 0..<teacherHidden { s += h[j] * w2[j * classes + c] }
                if s > bestScore { bestScore = s; best = c }
            }
            labels[row] = Int32(best)
        }
        return Dataset(inputs: inputs, classes: classes, features: features, labels: labels)
    }

    /// The held-out examples are the last `evalFraction` of the index range; the rest are split
    /// into `shardCount` shards, every `shardCount`-th example, and shard `shard` is returned.
    public func split(evalFraction: Double, shard: Int, of shardCount: Int) -> DataSplit {
        let evalCount = min(examples - 1, max(0, Int((Double(examples) * evalFraction).rounded())))
        let trainCount = examples - evalCount
        let trainIndices = Array(stride(from: shard, to: trainCount, by: shardCount))
        return DataSplit(train: make(trainIndices), eval: make(Array(trainCount..<examples)))
    }
}
