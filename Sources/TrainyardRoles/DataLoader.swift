import TrainyardCore
import TrainyardPlatform

/// Loads a training task's data: its own shard of the training set, and the held-out set.
public enum DataLoader {
    /// The data for shard `shard` of `shardCount` (one per training task, chief first).
    public static func load(_ settings: TrainSettings, shard: Int, of shardCount: Int) throws -> DataSplit {
        switch settings.dataset {
        case .synthetic:
            let synthetic = SyntheticDataset(seed: settings.seed, inputs: settings.features, classes: settings.classes, examples: settings.examples)
            // Generated an example at a time as training reads them: launch makes no data.
            return synthetic.lazySplit(evalFraction: settings.evalFraction, shard: shard, of: shardCount)
        case .csv(let path):
            let text = try readFile(path)
            let options = CSVDataset.Options(label: settings.labelColumn.map(CSVDataset.LabelColumn.init(parsing:)) ?? .automatic,
                                             header: settings.csvHeader)
            return try CSVDataset.load(text: String(decoding: text, as: UTF8.self), file: path, options: options,
                                       evalFraction: settings.evalFraction, shard: shard, of: shardCount)
        case .idx(let images, let labels):
            return try IDXDataset.load(images: try readFile(images), imagesFile: images, labels: try readFile(labels), labelsFile: labels,
                                       evalFraction: settings.evalFraction, shard: shard, of: shardCount)
        }
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        do { return try Files.read(path) } catch {
            throw FieldError(source: path, path: "", "cannot read the data file: \(error)")
        }
    }
}
