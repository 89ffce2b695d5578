/// Which optimizer the parameter servers apply.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case sgd
    case momentum
    case adam
}

/// Where the training data comes from: `synthetic`, `csv:PATH` or `idx:IMAGES,LABELS`.
public enum DatasetSource: Sendable, Equatable, CustomStringConvertible {
    case synthetic
    case csv(path: String)
    case idx(images: String, labels: String)

    public init(parsing text: String) throws(UsageError) {
        if text == "synthetic" { self = .synthetic; return }
        if text.hasPrefix("csv:"), text.count > 4 { self = .csv(path: String(text.dropFirst(4))); return }
        if text.hasPrefix("idx:") {
            let parts = text.dropFirst(4).split(separator: ",", omittingEmptySubsequences: false)
            if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty {
                self = .idx(images: String(parts[0]), labels: String(parts[1]))
                return
            }
        }
        throw UsageError("--dataset must be synthetic, csv:PATH or idx:IMAGES,LABELS, got \"\(text)\"")
    }

    public var description: String {
        switch self {
        case .synthetic: return "synthetic"
        case .csv(let path): return "csv:\(path)"
        case .idx(let images, let labels): return "idx:\(images),\(labels)"
        }
    }
}

/// Everything a training task needs to know about the job, apart from the cluster.
///
/// The launcher parses these from `trainyard train`'s flags and hands every role the same values
/// (`roleArguments`), so all tasks agree on the model, the data and the schedule.
public struct TrainSettings: Sendable, Equatable {
    public var maxSteps = 2000
    public var batchSize = 64
    public var learningRate = 0.02
    public var momentum = 0.9
    public var optimizer = OptimizerKind.momentum
    public var hidden = [256, 128]
    public var seed: UInt64 = 1
    public var dataset = DatasetSource.synthetic
    /// Synthetic data: input width, classes and example count.
    public var features = 32
    public var classes = 10
    public var examples = 20_000
    public var evalFraction = 0.1
    /// CSV data: which column holds the label (name or index; default `label`, else the last),
    /// and whether the first row is a header (`auto`, `true`, `false`).
    public var labelColumn: String?
    public var csvHeader = CSVDataset.Header.auto
    /// Checkpoint every this many global steps; keep this many of the newest.
    public var checkpointEvery = 500
    public var keepCheckpoints = 5
    /// Evaluate on held-out data every this many global steps (and at the end).
    public var evalEvery = 500
    /// Each training task logs a metrics record every this many of its own steps.
    public var logEvery = 20
    /// Synchronous training (SyncReplicasOptimizer): each step averages `replicasToAggregate`
    /// gradients (default: one per training task) and drops stale ones.
    public var sync = false
    public var replicasToAggregate: Int?
    /// Seconds an RPC may take before it fails and is retried.
    public var rpcTimeout = 10.0
    /// Seconds a task waits for its peers (the parameter servers, the chief's initialization).
    public var startupTimeout = 60.0

    public init() {}

    /// The options `parse` understands, with their meaning, for help texts.
    public static let help: [(String, String)] = [
        ("--max-steps S", "stop when the global step reaches S (default 2000)"),
        ("--batch-size B", "examples per step per training task (default 64)"),
        ("--learning-rate L", "optimizer learning rate (default 0.02)"),
        ("--optimizer NAME", "sgd, momentum or adam, applied by the ps (default momentum)"),
        ("--momentum M", "momentum coefficient (default 0.9)"),
        ("--hidden A,B,…", "hidden layer widths (default 256,128)"),
        ("--dataset SOURCE", "synthetic, csv:PATH or idx:IMAGES,LABELS (default synthetic)"),
        ("--features D --classes C --examples N", "synthetic data shape (defaults 32, 10, 20000)"),
        ("--eval-fraction F", "share of the data held out for evaluation (default 0.1)"),
        ("--label-column NAME|INDEX", "CSV: the label column (default: the one named label, else the last)"),
        ("--csv-header auto|true|false", "CSV: whether the first row is a header (default auto)"),
        ("--seed X", "seed for data, initial weights and shuffles (default 1)"),
        ("--checkpoint-every K", "checkpoint every K global steps (default 500)"),
        ("--keep-checkpoints N", "keep the newest N checkpoints (default 5)"),
        ("--eval-every E", "evaluate every E global steps (default 500)"),
        ("--log-every N", "metrics record every N local steps per task (default 20)"),
        ("--sync", "synchronous training: each step averages gradients from several tasks (SyncReplicasOptimizer)"),
        ("--replicas-to-aggregate K", "with --sync: gradients per step (default: every training task); fewer = backup workers"),
        ("--rpc-timeout S", "seconds an RPC may take before it is retried (default 10)"),
        ("--startup-timeout S", "seconds a task waits for its peers (default 60)"),
    ]

    /// Takes the training options out of `args`, leaving the rest for the caller.
    public static func parse(_ args: inout Arguments) throws(UsageError) -> TrainSettings {
        var s = TrainSettings()
        if let v = try args.int("--max-steps", in: 1...Int.max) { s.maxSteps = v }
        if let v = try args.int("--batch-size", in: 1...65_536) { s.batchSize = v }
        if let v = try args.double("--learning-rate", in: 0...10) { s.learningRate = v }
        if let v = try args.double("--momentum", in: 0...0.9999) { s.momentum = v }
        if let v = try args.value("--optimizer") {
            guard let kind = OptimizerKind(rawValue: v) else { throw UsageError("--optimizer must be sgd, momentum or adam, got \"\(v)\"") }
            s.optimizer = kind
        }
        if let v = try args.value("--hidden") { s.hidden = try parseHidden(v) }
        if let v = try args.value("--seed") {
            guard let seed = UInt64(v) else { throw UsageError("--seed takes a whole number ≥ 0, got \"\(v)\"") }
            s.seed = seed
        }
        if let v = try args.value("--dataset") { s.dataset = try DatasetSource(parsing: v) }
        if let v = try args.int("--features", in: 1...1_000_000) { s.features = v }
        if let v = try args.int("--classes", in: 2...100_000) { s.classes = v }
        if let v = try args.int("--examples", in: 2...100_000_000) { s.examples = v }
        if let v = try args.double("--eval-fraction", in: 0...0.9) { s.evalFraction = v }
        if let v = try args.value("--label-column") {
            guard !v.isEmpty else { throw UsageError("--label-column needs a column name or index") }
            s.labelColumn = v
        }
        if let v = try args.value("--csv-header") {
            guard let h = CSVDataset.Header(rawValue: v) else { throw UsageError("--csv-header must be auto, true or false, got \"\(v)\"") }
            s.csvHeader = h
        }
        if let v = try args.int("--checkpoint-every", in: 1...Int.max) { s.checkpointEvery = v }
        if let v = try args.int("--keep-checkpoints", in: 1...1000) { s.keepCheckpoints = v }
        if let v = try args.int("--eval-every", in: 1...Int.max) { s.evalEvery = v }
        if let v = try args.int("--log-every", in: 1...Int.max) { s.logEvery = v }
        if try args.flag("--sync") { s.sync = true }
        if let v = try args.int("--replicas-to-aggregate", in: 1...100_000) { s.replicasToAggregate = v }
        if let v = try args.double("--rpc-timeout", in: 0.05...3600) { s.rpcTimeout = v }
        if let v = try args.double("--startup-timeout", in: 0.1...86_400) { s.startupTimeout = v }
        return s
    }

    /// Checks that the options make sense together (each was checked alone by `parse`).
    public func validate() throws(UsageError) {
        if replicasToAggregate != nil && !sync { throw UsageError("--replicas-to-aggregate needs --sync") }
    }

    static func parseHidden(_ text: String) throws(UsageError) -> [Int] {
        if text.isEmpty || text == "none" { return [] }
        var widths: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let w = Int(part.trimmingCharacters(in: " ")), (1...65_536).contains(w) else {
                throw UsageError("--hidden takes comma-separated layer widths like 256,128, got \"\(text)\"")
            }
            widths.append(w)
        }
        return widths
    }

    /// The same settings as command-line options, for passing to role processes.
    public var roleArguments: [String] {
        var a: [String] = []
        a += ["--max-steps", String(maxSteps), "--batch-size", String(batchSize)]
        a += ["--learning-rate", JSONValue.format(learningRate), "--momentum", JSONValue.format(momentum)]
        a += ["--optimizer", optimizer.rawValue, "--hidden", hidden.isEmpty ? "none" : hidden.map(String.init).joined(separator: ",")]
        a += ["--seed", String(seed), "--dataset", dataset.description]
        a += ["--features", String(features), "--classes", String(classes), "--examples", String(examples)]
        a += ["--eval-fraction", JSONValue.format(evalFraction), "--csv-header", csvHeader.rawValue]
        if let labelColumn { a += ["--label-column", labelColumn] }
        a += ["--checkpoint-every", String(checkpointEvery), "--keep-checkpoints", String(keepCheckpoints)]
        a += ["--eval-every", String(evalEvery), "--log-every", String(logEvery)]
        a += ["--rpc-timeout", JSONValue.format(rpcTimeout), "--startup-timeout", JSONValue.format(startupTimeout)]
        if sync { a.append("--sync") }
        if let k = replicasToAggregate { a += ["--replicas-to-aggregate", String(k)] }
        return a
    }

    /// Optimizer parameters in the form the parameter server applies them.
    public var optimizerConfig: OptimizerConfig {
        OptimizerConfig(kind: optimizer, learningRate: Float(learningRate), momentum: Float(momentum))
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
