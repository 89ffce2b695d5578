import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard models register|list|show`: a registry of trained models with increasing versions,
/// each recording where it came from and its metrics (`$TRAINYARD_HOME/models/NAME/VERSION/`).
enum ModelsCommand {
    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        guard let sub = args.positional(), sub != "--help" else {
            print(TrainyardCommand.helpText("trainyard models register NAME (--from-job JOB | --best-of-sweep SWEEP) | list | show NAME[:VERSION] [--json]", [
                ("register NAME --from-job JOB", "register a job's model as the next version of NAME"),
                ("register NAME --best-of-sweep SWEEP", "register the best trial's model of a sweep"),
                ("list", "every model and its latest version"),
                ("show NAME[:VERSION]", "one version (the latest by default): source, metrics, files"),
            ]))
            return .success
        }
        let json = try args.flag("--json")
        switch sub {
        case "register":
            guard let name = args.positional() else { throw UsageError("models register needs a model name") }
            let job = try args.value("--from-job")
            let sweep = try args.value("--best-of-sweep")
            try args.finish()
            guard (job == nil) != (sweep == nil) else { throw UsageError("models register needs --from-job JOB or --best-of-sweep SWEEP (one of them)") }
            let info = try ModelRegistry.register(name, fromJob: job, bestOfSweep: sweep)
            let jobName = info["source"]?["job"]?.stringValue ?? "?"
            let version = info["version"]?.intValue ?? 0
            print(json ? info.prettySerialized() : "Registered \(name):\(version) from job \(jobName)" + (sweep.map { " (best of sweep \($0))" } ?? "") + ".")
            return .success
        case "list":
            try args.finish()
            let models = ModelRegistry.all()
            if json { print(JSONValue.array(models).prettySerialized()); return .success }
            var rows = [["MODEL", "LATEST", "CREATED", "SOURCE", "METRICS"]]
            for m in models {
                let src = m["source"]?["sweep"]?.stringValue.map { "sweep \($0)" } ?? "job \(m["source"]?["job"]?.stringValue ?? "?")"
                let metrics = (m["metrics"]?.objectValue ?? []).map { "\($0.0)=\($0.1.doubleValue.map { String(format: "%.4f", $0) } ?? $0.1.serialized())" }.joined(separator: " ")
                rows.append([m["name"]?.stringValue ?? "?", String(m["version"]?.intValue ?? 0), m["created"]?.stringValue ?? "?", src, metrics])
            }
            print(TextTable.render(rows))
            return .success
        case "show":
            guard let ref = args.positional() else { throw UsageError("models show needs NAME or NAME:VERSION") }
            try args.finish()
            let (name, version, versions, info) = try ModelRegistry.show(ref)
            if json { print(info.prettySerialized()); return .success }
            var lines = ["\(name):\(version) (versions: \(versions.sorted().map(String.init).joined(separator: ", ")))", "created: \(info["created"]?.stringValue ?? "?")"]
            for (k, v) in info["source"]?.objectValue ?? [] { lines.append("source.\(k): \(v.stringValue ?? v.serialized())") }
            for (k, v) in info["metrics"]?.objectValue ?? [] { lines.append("metrics.\(k): \(v.doubleValue.map { String(format: "%.6g", $0) } ?? v.serialized())") }
            lines.append("files (in \(ModelRegistry.root)/\(name)/\(version)/files): \((info["files"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "))")
            print(lines.joined(separator: "\n"))
            return .success
        default:
            throw UsageError("unknown models command \"\(sub)\" (expected register, list or show)")
        }
    }
}
