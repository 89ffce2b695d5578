import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard models register|list|show`: a registry of trained models with increasing versions,
/// each recording where it came from and its metrics (`$TRAINYARD_HOME/models/NAME/VERSION/`).
enum ModelsCommand {
    static let help = HelpPage(
        usage: "trainyard models COMMAND",
        summary: "The model registry: trained models with increasing versions, each with its source and metrics.",
        options: [("--json", "JSON output")],
        subcommands: [
            .init(words: ["register"], usage: "trainyard models register NAME (--from-job JOB | --best-of-sweep SWEEP) [--json]",
                  summary: "Registers a job's model (or the best trial's of a sweep) as the next version of NAME.",
                  options: [("--from-job JOB", "a job that SUCCEEDED"), ("--best-of-sweep SWEEP", "the best trial of a sweep")]),
            .init(words: ["list"], usage: "trainyard models list [--json]", summary: "Every model and its latest version."),
            .init(words: ["show"], usage: "trainyard models show NAME[:VERSION] [--json]", summary: "One version (the latest by default): source, metrics, files."),
        ])

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        guard let sub = args.positional() else { throw UsageError("models needs a command: register, list or show (`trainyard models --help`)") }
        let json = try args.flag("--json")
        switch sub {
        case "register":
            let job = try args.value("--from-job")
            let sweep = try args.value("--best-of-sweep")
            guard let name = args.positional() else { throw UsageError("models register needs a model name") }
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
