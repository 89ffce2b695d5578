/// Reading what a trial reported: one entry per report ("interval"), each with its metrics.
///
/// - Trainyard's trainer: the chief's evaluation records in `metrics.jsonl`
///   (`kind: "eval"`: `accuracy`, `loss`, `step`).
/// - Any trainer: a line on stdout `trainyard-metric accuracy=0.91 loss=0.3 step=200`, or a JSON
///   object per line in the file `$TRAINYARD_METRICS_FILE`; each line is one report.
public enum TrialMetrics {
    public struct Report: Sendable, Equatable {
        public var step: Int?
        public var values: [String: Double]
        public init(step: Int?, values: [String: Double]) {
            self.step = step
            self.values = values
        }
    }

    /// The reports among the built-in trainer's metrics records (the chief's evaluations).
    public static func fromRecords(_ records: [JSONValue]) -> [Report] {
        records.filter { $0["kind"] == "eval" }.map { r in
            var values: [String: Double] = [:]
            for key in ["accuracy", "loss"] { if let v = r[key]?.doubleValue { values[key] = v } }
            return Report(step: r["step"]?.intValue, values: values)
        }
    }

    /// A `trainyard-metric name=value …` line, if this is one.
    public static func fromLogLine(_ line: Substring) -> Report? {
        guard let range = line.range(of: "trainyard-metric ") else { return nil }
        var values: [String: Double] = [:]
        var step: Int?
        for pair in line[range.upperBound...].split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Double(kv[1].trimmedSpaces) else { continue }
            if kv[0] == "step" { step = Int(v) } else { values[String(kv[0])] = v }
        }
        return values.isEmpty ? nil : Report(step: step, values: values)
    }

    /// A JSON line of the metrics file: numbers are metrics, `step` is the step.
    public static func fromJSONLine(_ line: Substring) -> Report? {
        guard let v = try? JSONParser.parse(String(line)), let fields = v.objectValue else { return nil }
        var values: [String: Double] = [:]
        var step: Int?
        for (k, x) in fields {
            guard let d = x.doubleValue else { continue }
            if k == "step" { step = Int(d) } else { values[k] = d }
        }
        return values.isEmpty ? nil : Report(step: step, values: values)
    }
}
