// The fuzz harnesses type-check this file without the kernel (Tests/Fuzz/run.sh): the gather
// then copies row by row.
#if canImport(TrainyardKernel)
import TrainyardKernel
#endif

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

/// Labelled examples a task reads one at a time: a `Dataset` in memory, or a synthetic one whose
/// examples are generated the first time each is read (and kept). Used by one thread.
public final class Examples: @unchecked Sendable {
    public let inputs: Int
    public let classes: Int
    public let count: Int
    private var eager: Dataset?
    // Lazy: the generator, the global index of each row, what is made so far.
    private let generator: SyntheticDataset.Generator?
    private let indices: [Int]
    private var features: [Float]
    private var labels: [Int32]
    private var made: [Bool]
    public private(set) var madeCount = 0

    public init(_ data: Dataset) {
        inputs = data.inputs
        classes = data.classes
        count = data.count
        eager = data
        generator = nil
        indices = []
        features = []
        labels = []
        made = []
    }

    init(lazy data: SyntheticDataset, indices: [Int]) {
        inputs = data.inputs
        classes = data.classes
        count = indices.count
        generator = SyntheticDataset.Generator(data)
        self.indices = indices
        // Rows are written before they are read (`made`), so the storage starts uninitialized.
        features = [Float](unsafeUninitializedCapacity: indices.count * data.inputs) { _, n in n = indices.count * data.inputs }
        labels = [Int32](repeating: 0, count: indices.count)
        made = [Bool](repeating: false, count: indices.count)
    }

    /// Copies example `row`'s features to `destination` and returns its label.
    public func copy(row: Int, to destination: UnsafeMutablePointer<Float>) -> Int32 {
        if let eager {
            eager.features.withUnsafeBufferPointer { destination.update(from: $0.baseAddress! + row * inputs, count: inputs) }
            return eager.labels[row]
        }
        make(row)
        features.withUnsafeBufferPointer { destination.update(from: $0.baseAddress! + row * inputs, count: inputs) }
        return labels[row]
    }

    /// Copies examples `rows` one after another to `features` and their labels to `labels`: made
    /// first where lazy, then gathered with the rows ahead already requested from memory.
    public func copy(rows: [Int], features destination: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        if eager == nil { for r in rows { make(r) } }
        let source = eager?.features ?? features
        let sourceLabels = eager?.labels ?? self.labels
        source.withUnsafeBufferPointer { f in
            guard let base = f.baseAddress, !rows.isEmpty else { return }
            #if canImport(TrainyardKernel)
            rows.withUnsafeBufferPointer { Rows.gather(source: base, width: inputs, indices: $0, into: destination) }
            #else
            for (k, r) in rows.enumerated() { (destination + k * inputs).update(from: base + r * inputs, count: inputs) }
            #endif
        }
        for (k, r) in rows.enumerated() { labels[k] = sourceLabels[r] }
    }

    private func make(_ row: Int) {
        guard !made[row], let generator else { return }
        let d = inputs
        let label = features.withUnsafeMutableBufferPointer { generator.example(indices[row], into: $0.baseAddress! + row * d) }
        labels[row] = label
        made[row] = true
        madeCount += 1
    }

    /// Every example in memory (the lazy ones generated now, once).
    public var dataset: Dataset {
        if let eager { return eager }
        for row in 0..<count { make(row) }
        let whole = Dataset(inputs: inputs, classes: classes, features: features, labels: labels)
        eager = whole
        features = []
        return whole
    }
}

/// A training set and its held-out evaluation set.
public struct DataSplit: Sendable {
    public let trainExamples: Examples
    public let evalExamples: Examples
    /// The training set, all in memory.
    public var train: Dataset { trainExamples.dataset }
    /// The held-out set, all in memory.
    public var eval: Dataset { evalExamples.dataset }
    public init(train: Dataset, eval: Dataset) {
        trainExamples = Examples(train)
        evalExamples = Examples(eval)
    }
    public init(trainExamples: Examples, evalExamples: Examples) {
        self.trainExamples = trainExamples
        self.evalExamples = evalExamples
    }
}

/// Walks a data set in seeded shuffled order, one epoch after another, filling batch buffers.
public struct BatchSampler {
    public let examples: Examples
    public let batchSize: Int
    private var order: [Int]
    private var position: Int
    private var rng: SplitMix64
    public private(set) var epoch = 0

    public init(data: Dataset, batchSize: Int, seed: UInt64) {
        self.init(examples: Examples(data), batchSize: batchSize, seed: seed)
    }

    public init(examples: Examples, batchSize: Int, seed: UInt64) {
        precondition(examples.count > 0, "cannot sample batches from an empty data set")
        self.examples = examples
        self.batchSize = batchSize
        rng = SplitMix64(seed: seed, stream: 0xB47C)
        order = Array(0..<examples.count)
        order.shuffle(using: &rng)
        position = 0
    }

    /// Copies the next `batchSize` examples into `features` and `labels`.
    public mutating func next(features: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        var rows = [Int](repeating: 0, count: batchSize)
        for row in 0..<batchSize {
            if position == order.count {
                order.shuffle(using: &rng)
                position = 0
                epoch += 1
            }
            rows[row] = order[position]
            position += 1
        }
        examples.copy(rows: rows, features: features, labels: labels)
    }
}
