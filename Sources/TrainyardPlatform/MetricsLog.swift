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

    /// Every record so far from byte `offset` on (0: the whole file), skipping lines that do not
    /// parse (a line being written). A launcher passes the file's size when its run began
    /// (`size`), so that a job folder trained in before does not lend this run its records.
    public func records(from offset: Int = 0) -> [JSONValue] {
        let (bytes, _) = Files.readFrom(path, offset: offset)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }

    /// The file's size in bytes now (0 when it does not exist yet): where this run's records begin.
    public var size: Int { Files.size(path) ?? 0 }
}
