/// Labelled examples in memory: features row-major (count × inputs), labels in 0..<classes.
public struct Dataset: Sendable, Equatable {
    public var inputs: Int
    public var classes: Int
    public var features: [Float]
    public var labels: [Int32]

    public init(inputs: Int, classes: Int, features: [Float], labels: [Int32]) {
        precondition(features.count == labels.count * inputs, "features and labels disagree on the example count")
        self.inputs = inputs
        self.classes = classes
        self.features = features
        self.labels = labels
    }

    public var count: Int { labels.count }

    /// The examples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        var f = [Float]()
        f.reserveCapacity(indices.count * inputs)
        for i in indices { f.append(contentsOf: features[i * inputs..<(i + 1) * inputs]) }
        return Dataset(inputs: inputs, classes: classes, features: f, labels: indices.map { labels[$0] })
    }

    /// Shard `index` of `count`: every `count`-th example starting at `index`.
    public func shard(_ index: Int, of count: Int) -> Dataset {
        precondition(count > 0 && (0..<count).contains(index))
        return subset(Array(stride(from: index, to: self.count, by: count)))
    }
}

/// A training set and its held-out evaluation set.
public struct DataSplit: Sendable {
    public var train: Dataset
    public var eval: Dataset
    public init(train: Dataset, eval: Dataset) {
        self.train = train
        self.eval = eval
    }
}

/// Walks a data set in seeded shuffled order, one epoch after another, filling batch buffers.
public struct BatchSampler {
    public let data: Dataset
    public let batchSize: Int
    private var order: [Int]
    private var position: Int
    private var rng: SplitMix64
    public private(set) var epoch = 0

    public init(data: Dataset, batchSize: Int, seed: UInt64) {
        precondition(data.count > 0, "cannot sample batches from an empty data set")
        self.data = data
        self.batchSize = batchSize
        rng = SplitMix64(seed: seed, stream: 0xB47C)
        order = Array(0..<data.count)
        order.shuffle(using: &rng)
        position = 0
    }

    /// Copies the next `batchSize` examples into `features` and `labels`.
    public mutating func next(features: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        let d = data.inputs
        data.features.withUnsafeBufferPointer { src in
            for row in 0..<batchSize {
                if position == order.count {
                    order.shuffle(using: &rng)
                    position = 0
                    epoch += 1
                }
                let i = order[position]
                position += 1
                (features + row * d).update(from: src.baseAddress! + i * d, count: d)
                labels[row] = data.labels[i]
            }
        }
    }
}
