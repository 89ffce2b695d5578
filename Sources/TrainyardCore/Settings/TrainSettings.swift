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
        throw UsageError("must be synthetic, csv:PATH or idx:IMAGES,LABELS, got \"\(text)\"")
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
    /// Keep training when a step's loss or gradients are not finite; by default such a step fails
    /// the job (`diverged at step N: loss is nan`).
    public var allowDivergence = false

    public init() {}

    /// Every training option, declared once: help, argv parsing, role arguments and the keys of
    /// scenario and sweep files all come from this table.
    public static let options = OptionTable<TrainSettings>([
        .int("max-steps", \.maxSteps, in: 1...Int.max, placeholder: "S", help: "stop when the global step reaches S"),
        .int("batch-size", \.batchSize, in: 1...65_536, placeholder: "B", help: "examples per step per training task"),
        .double("learning-rate", \.learningRate, in: 0...10, placeholder: "L", help: "optimizer learning rate"),
        .choice("optimizer", \.optimizer, placeholder: "NAME", help: "sgd, momentum or adam, applied by the ps"),
        .double("momentum", \.momentum, in: 0...0.9999, placeholder: "M", help: "momentum coefficient"),
        OptionSpec("hidden", \.hidden, placeholder: "A,B,…", help: "hidden layer widths, or none",
                   allowed: "widths in 1...65536, comma-separated, or none",
                   parse: { (t: String) throws(UsageError) in try TrainSettings.parseHidden(t) },
                   format: { $0.isEmpty ? "none" : $0.map(String.init).joined(separator: ",") }),
        OptionSpec("dataset", \.dataset, placeholder: "SOURCE", help: "synthetic, csv:PATH or idx:IMAGES,LABELS",
                   allowed: "synthetic, csv:PATH or idx:IMAGES,LABELS",
                   parse: { (t: String) throws(UsageError) in try DatasetSource(parsing: t) }, format: { $0.description }),
        .int("features", \.features, in: 1...1_000_000, placeholder: "D", help: "synthetic data: input width"),
        .int("classes", \.classes, in: 2...100_000, placeholder: "C", help: "synthetic data: classes"),
        .int("examples", \.examples, in: 2...100_000_000, placeholder: "N", help: "synthetic data: examples"),
        .double("eval-fraction", \.evalFraction, in: 0...0.9, placeholder: "F", help: "share of the data held out for evaluation"),
        .string("label-column", \.labelColumn, placeholder: "NAME|INDEX", help: "CSV: the label column",
                default: "the one named label, else the last", nonEmpty: true),
        .choice("csv-header", \.csvHeader, placeholder: "auto|true|false", help: "CSV: whether the first row is a header"),
        OptionSpec("seed", \.seed, placeholder: "X", help: "seed for data, initial weights and shuffles", allowed: "0...", kind: .integer,
                   parse: { (t: String) throws(UsageError) in
                       guard let v = UInt64(t) else { throw UsageError("takes a whole number ≥ 0, got \"\(t)\"") }
                       return v
                   }, format: { String($0) }),
        .int("checkpoint-every", \.checkpointEvery, in: 1...Int.max, placeholder: "K", help: "checkpoint every K global steps"),
        .int("keep-checkpoints", \.keepCheckpoints, in: 1...1000, placeholder: "N", help: "keep the newest N checkpoints"),
        .int("eval-every", \.evalEvery, in: 1...Int.max, placeholder: "E", help: "evaluate every E global steps"),
        .int("log-every", \.logEvery, in: 1...Int.max, placeholder: "N", help: "metrics record every N local steps per task"),
        .flag("sync", \.sync, help: "synchronous training: each step averages gradients from several tasks (SyncReplicasOptimizer)"),
        .int("replicas-to-aggregate", \.replicasToAggregate, in: 1...100_000, placeholder: "K",
             help: "with --sync: gradients per step; fewer than the training tasks = backup workers", default: "every training task"),
        .double("rpc-timeout", \.rpcTimeout, in: 0.05...3600, placeholder: "S", help: "seconds an RPC may take before it is retried"),
        .double("startup-timeout", \.startupTimeout, in: 0.1...86_400, placeholder: "S", help: "seconds a task waits for its peers"),
        .flag("allow-divergence", \.allowDivergence, help: "train on when a loss or gradient is not finite (by default the job fails: diverged)"),
    ], defaults: TrainSettings())

    /// The options `parse` understands, with their meaning, for help texts.
    public static var help: [(String, String)] { options.helpLines }

    /// Takes the training options out of `args`, leaving the rest for the caller.
    public static func parse(_ args: inout Arguments) throws(UsageError) -> TrainSettings {
        var s = TrainSettings()
        try options.parse(&args, into: &s)
        return s
    }

    /// Reads a file's training object (`{"max_steps": 300, "sync": true}`: the options' snake_case
    /// names) over the defaults and validates it; errors name the key as the file spells it
    /// (`training.replicas_to_aggregate: needs sync`). Keys in `skipping` are left for the caller.
    public init(decoding object: JSONField, skipping: Set<String> = []) throws(FieldError) {
        self.init()
        try TrainSettings.options.decode(object, into: &self, skipping: skipping)
        if let (option, reason) = conflict(spelling: .key) {
            throw FieldError(source: object.source, path: object.childPath(OptionSpelling.key(option)), reason)
        }
    }

    /// Checks that the options make sense together (each was checked alone by `parse`).
    public func validate() throws(UsageError) { try validate(spelling: .flag) }

    /// `validate()`, naming options as flags (`--sync`) or as file keys (`sync`).
    public func validate(spelling name: OptionSpelling) throws(UsageError) {
        if let (option, reason) = conflict(spelling: name) { throw UsageError("\(name(option)) \(reason)") }
    }

    /// The first option (dashed name) that does not fit with the others, and why.
    func conflict(spelling name: OptionSpelling) -> (option: String, reason: String)? {
        if replicasToAggregate != nil && !sync { return ("replicas-to-aggregate", "needs \(name("sync"))") }
        return nil
    }

    public static func parseHidden(_ text: String) throws(UsageError) -> [Int] {
        if text.isEmpty || text == "none" { return [] }
        var widths: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let w = Int(part.trimmingCharacters(in: " ")), (1...65_536).contains(w) else {
                throw UsageError("takes comma-separated layer widths like 256,128, got \"\(text)\"")
            }
            widths.append(w)
        }
        return widths
    }

    /// The same settings as command-line options, for passing to role processes:
    /// `parse(roleArguments) == self`.
    public var roleArguments: [String] { TrainSettings.options.arguments(for: self) }

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
