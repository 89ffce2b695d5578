import Foundation
import TrainyardCore
import TrainyardPlatform

/// The model registry: trained models with increasing versions, each recording where it came
/// from and its metrics (`$TRAINYARD_HOME/models/NAME/VERSION/`).
public enum ModelRegistry {
    public static var root: String { Home.path + "/models" }

    /// Registers a job's model (or the best trial's of a sweep) as the next version of `name`;
    /// returns the version record.
    public static func register(_ name: String, fromJob job: String?, bestOfSweep sweep: String?) throws -> JSONValue {
        guard let first = name.first, first.isLetter, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw UsageError("model name \"\(name)\" must start with a letter and hold only letters, digits, - and _")
        }
        var source: [(String, JSONValue)] = []
        let jobName: String
        var metrics: [(String, JSONValue)] = []
        if let sweep {
            let record = try SweepStore.load(sweep)
            guard let best = record["best_trial"], best != .null, let j = best["job"]?.stringValue else {
                throw RuntimeFailure("sweep \(sweep) has no trial with a \(record["objective"]?["primary_metric"]?.stringValue ?? "primary metric") yet", exitCode: .failure)
            }
            jobName = j
            source = [("sweep", .string(sweep)), ("trial", best["trial"] ?? .null), ("parameters", best["parameters"] ?? .null)]
            // The values the sweep ranked the trial by: its last report, which for Trainyard's
            // trainer is the final evaluation of the very model registered here.
            metrics = best["last_metrics"]?.objectValue ?? []
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
            do {
                for (path, isDir) in BucketStorage.entries(from, recursive: true) where !isDir {
                    try BucketStorage.copy(from + "/" + path, dest + "/files/" + path, during: "models register (nothing registered)")
                    files.append(path)
                }
                let info = JSONValue.object([
                    ("name", .string(name)), ("version", JSONValue(v)), ("created", .string(ISOTime.format(MonotonicClock.wallNow()))),
                    ("source", .object(source)), ("metrics", .object(metrics)), ("files", JSONValue(files)),
                ])
                try Files.writeAtomically(info.prettySerialized() + "\n", to: dest + "/version.json")
            } catch {
                // Ctrl-C, a file that cannot be copied or a description that cannot be written: no
                // version half made.
                Files.remove(dest)
                throw error
            }
            return v
        }
        return try JSONParser.parse(Files.readText(root + "/\(name)/\(version)/version.json"))
    }

    /// The latest version of every model.
    public static func all() -> [JSONValue] {
        Files.list(root).filter { Files.isDirectory(root + "/" + $0) }.compactMap { name -> JSONValue? in
            guard let v = Files.list(root + "/" + name).compactMap(Int.init).max() else { return nil }
            return try? JSONParser.parse(Files.readText(root + "/\(name)/\(v)/version.json"))
        }
    }

    /// `NAME` (the latest version) or `NAME:VERSION`: the name, version, every version, and its record.
    public static func show(_ ref: String) throws -> (name: String, version: Int, versions: [Int], info: JSONValue) {
        let parts = ref.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = parts.first, !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
            throw UsageError("models show needs NAME or NAME:VERSION, got \"\(ref)\"")
        }
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
        return (name, version, versions, info)
    }
}
