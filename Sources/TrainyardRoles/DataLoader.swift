import TrainyardCore

/// Loads a training task's data: its own shard of the training set, and the held-out set.
public enum DataLoader {
    /// The data for shard `shard` of `shardCount` (one per training task, chief first).
    public static func load(_ settings: TrainSettings, shard: Int, of shardCount: Int) throws -> DataSplit {
        switch settings.dataset {
        case .synthetic:
            let synthetic = SyntheticDataset(seed: settings.seed, inputs: settings.features, classes: settings.classes, examples: settings.examples)
            return synthetic.split(evalFraction: settings.evalFraction, shard: shard, of: shardCount)
        case .csv, .idx:
            throw UsageError("--dataset \(settings.dataset) is not supported by this build yet; use --dataset synthetic")
        }
    }
}
