import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard models register|list|show`: a registry of trained models with increasing versions,
/// each recording where it came from and its metrics (`$TRAINYARD_HOME/models/NAME/VERSION/`).
enum ModelsCommand {
    static var root: String { Home.path + "/models" }

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
            guard let first = name.first, first.isLetter, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw UsageError("model name \"\(name)\" must start with a letter and hold only letters, digits, - and _")
            }
            var source: [(String, JSONValue)] = []
            let jobName: String
            var metrics: [(String, JSONValue)] = []
            if let sweep {
                let record = try SweepCommand.load(sweep)
                guard let best = record["best_trial"], best != .null, let j = best["job"]?.stringValue else {
                    throw RuntimeFailure("sweep \(sweep) has no trial with a \(record["objective"]?["primary_metric"]?.stringValue ?? "primary metric") yet", exitCode: .failure)
                }
                jobName = j
                source = [("sweep", .string(sweep)), ("trial", best["trial"] ?? .null), ("parameters", best["parameters"] ?? .null)]
                metrics = best["last_metrics"]?.objectValue ?? []
                if let m = record["objective"]?["primary_metric"]?.stringValue, let b = best["best_metric"] { metrics.append(("best_" + m, b)) }
            } else {
                jobName = job!
            }
            let record = try JobStore.load(jobName)
            guard record.state == .succeeded || sweep != nil else {
                throw RuntimeFailure("job \(jobName) is \(record.state.rawValue): only a job that SUCCEEDED has a model to register", exitCode: .failure)
            }
            let modelFolder = record.jobDirectory + "/model"
            let from = Files.isDirectory(modelFolder) ? modelFolder : record.jobDirectory
            guard Files.isDirectory(from), !Files.list(from).isEmpty else {
                throw RuntimeFailure("job \(jobName) left nothing in \(record.jobDirectory) to register", exitCode: .failure)
            }
            if let described = try? JSONParser.parse(Files.readText(modelFolder + "/model.json")), let m = described["metrics"]?.objectValue, metrics.isEmpty {
                metrics = m
            }
            source = [("job", .string(jobName)), ("job_dir", .string(record.spec.jobDir ?? record.jobDirectory))] + source
            try Files.createDirectory(root + "/\(name)")
            let version = try FileLock.withLock(root + "/\(name)/.lock") { () throws -> Int in
                let v = (Files.list(root + "/\(name)").compactMap(Int.init).max() ?? 0) + 1
                let dest = root + "/\(name)/\(v)"
                var files: [String] = []
                for (path, isDir) in StorageCommand.entries(from, recursive: true) where !isDir {
                    try StorageCommand.copy(from + "/" + path, dest + "/files/" + path)
                    files.append(path)
                }
                let info = JSONValue.object([
                    ("name", .string(name)), ("version", JSONValue(v)), ("created", .string(JobsCommand.iso(MonotonicClock.wallNow()))),
                    ("source", .object(source)), ("metrics", .object(metrics)), ("files", JSONValue(files)),
                ])
                try Files.writeAtomically(info.prettySerialized() + "\n", to: dest + "/version.json")
                return v
            }
            let info = try JSONParser.parse(Files.readText(root + "/\(name)/\(version)/version.json"))
            print(json ? info.prettySerialized() : "Registered \(name):\(version) from job \(jobName)" + (sweep.map { " (best of sweep \($0))" } ?? "") + ".")
            return .success
        case "list":
            try args.finish()
            let models = Files.list(root).filter { Files.isDirectory(root + "/" + $0) }.compactMap { name -> JSONValue? in
                guard let v = Files.list(root + "/" + name).compactMap(Int.init).max() else { return nil }
                return try? JSONParser.parse(Files.readText(root + "/\(name)/\(v)/version.json"))
            }
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
            let parts = ref.split(separator: ":", maxSplits: 1).map(String.init)
            let name = parts[0]
            let versions = Files.list(root + "/\(name)").compactMap(Int.init)
            guard !versions.isEmpty else { throw UsageError("no model named \(name) (`trainyard models list`)") }
            let version: Int
            if parts.count == 2 {
                guard let v = Int(parts[1]), versions.contains(v) else { throw UsageError("\(name) has no version \(parts[1]) (versions: \(versions.sorted().map(String.init).joined(separator: ", ")))") }
                version = v
            } else {
                version = versions.max()!
            }
            let info = try JSONParser.parse(Files.readText(root + "/\(name)/\(version)/version.json"))
            if json { print(info.prettySerialized()); return .success }
            var lines = ["\(name):\(version) (versions: \(versions.sorted().map(String.init).joined(separator: ", ")))", "created: \(info["created"]?.stringValue ?? "?")"]
            for (k, v) in info["source"]?.objectValue ?? [] { lines.append("source.\(k): \(v.stringValue ?? v.serialized())") }
            for (k, v) in info["metrics"]?.objectValue ?? [] { lines.append("metrics.\(k): \(v.doubleValue.map { String(format: "%.6g", $0) } ?? v.serialized())") }
            lines.append("files (in \(root)/\(name)/\(version)/files): \((info["files"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "))")
            print(lines.joined(separator: "\n"))
            return .success
        default:
            throw UsageError("unknown models command \"\(sub)\" (expected register, list or show)")
        }
    }
}
