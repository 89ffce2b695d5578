import TrainyardCore

/// `<job-dir>/metrics.jsonl`: one JSON object per line, appended by every task.
///
/// Training records: `time` (Unix seconds), `task`, `step` (global), `loss`, `accuracy`,
/// `examples_per_sec`, `kind: "train"`. Evaluation records (chief): `kind: "eval"`, `loss`,
/// `accuracy`. Parameter-server records: `kind: "ps"`, `updates_per_sec`. Lines are appended with one
/// write each, so tasks never interleave. Every record appended is also sent to its task's
/// TensorBoard run under `<job-dir>/tensorboard/<task>/` (`TensorBoardWriter`, off this thread).
public struct MetricsLog: Sendable {
    public let path: String
    public let jobDirectory: String
    public init(jobDirectory: String) {
        self.jobDirectory = jobDirectory
        path = jobDirectory + "/metrics.jsonl"
    }

    public func append(_ fields: [(String, JSONValue)]) {
        let record = JSONValue.object([("time", JSONValue(MonotonicClock.wallNow()))] + fields)
        try? Files.appendLine(record.serialized(), to: path)
        TensorBoardWriter.forward(record: record, jobDirectory: jobDirectory)
    }

    /// Every record so far, skipping lines that do not parse (a line being written).
    public func records() -> [JSONValue] {
        guard let text = try? Files.readText(path) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }
}
