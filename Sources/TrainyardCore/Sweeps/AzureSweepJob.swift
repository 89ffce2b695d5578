/// Azure ML's sweep job file (`az ml job create --file`, `type: sweep`), as its reference
/// documents it: the fields it has, and what each means on this machine (Docs/sweeps.md).
///
/// A spec is Azure-shaped when it says so (`type: sweep` or `$schema`) or its trial uses a field
/// only Azure's trial has (`code`, `environment_variables`, `distribution`, `resources`, or an
/// `environment` that is a string). In an Azure-shaped spec a field Azure lacks is an error that
/// names the nearest field Azure has; a field that means nothing here is accepted with a note.
public enum AzureSweepJob {
    /// The sweep job's top-level fields.
    public static let topLevelKeys: Set<String> = [
        "$schema", "type", "name", "display_name", "experiment_name", "description", "tags", "sampling_algorithm",
        "search_space", "objective", "early_termination", "limits", "compute", "trial", "inputs", "outputs", "identity"]
    /// The trial's fields (a command job's, as a sweep's trial).
    public static let trialKeys: Set<String> = ["command", "code", "environment", "environment_variables", "distribution", "resources"]
    public static let samplingKeys: Set<String> = ["type", "seed", "rule"]
    public static let objectiveKeys: Set<String> = ["primary_metric", "goal"]
    public static let limitsKeys: Set<String> = ["max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"]
    public static let distributionKeys: Set<String> = ["type", "worker_count", "parameter_server_count"]
    public static let resourcesKeys: Set<String> = ["instance_count", "instance_type", "shm_size", "properties", "docker_args", "locations"]
    /// Each early-termination policy's fields (Azure's YAML loader refuses `exclude_finished_jobs`).
    public static let policyKeys: [String: Set<String>] = [
        "bandit": ["type", "slack_factor", "slack_amount", "evaluation_interval", "delay_evaluation"],
        "median_stopping": ["type", "evaluation_interval", "delay_evaluation"],
        "truncation_selection": ["type", "truncation_percentage", "evaluation_interval", "delay_evaluation"],
    ]
    /// Azure's default `limits.max_total_trials` and `limits.timeout` (seconds).
    public static let defaultMaxTotalTrials = 1000
    public static let defaultTimeout = 5_184_000.0

    /// What an Azure-shaped spec records without acting on it.
    public struct Metadata: Sendable, Equatable {
        public var displayName: String?
        public var experimentName: String?
        public var description: String?
        public var tags: [String: String] = [:]
        /// The compute target asked for; trials run on this machine.
        public var compute: String?
        /// `trial.environment`: a string (`azureml:name:version`) or an object, as JSON text.
        public var environment: String?
        public init() {}

        public var json: JSONValue {
            func opt(_ s: String?) -> JSONValue { s.map { JSONValue($0) } ?? .null }
            return .object([
                ("display_name", opt(displayName)), ("experiment_name", opt(experimentName)), ("description", opt(description)),
                ("tags", .object(tags.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ("compute", opt(compute)), ("runs_on", "local"), ("environment", opt(environment)),
            ])
        }
    }

    /// Whether `root` is an Azure ML sweep job rather than Trainyard's own sweep spec.
    public static func isAzureShaped(_ root: JSONField) throws(FieldError) -> Bool {
        if try root.optional("$schema") != nil { return true }
        if let t = try root.optional("type"), t.value == .string("sweep") { return true }
        guard let trial = try root.optional("trial"), case .object = trial.value else { return false }
        for key in ["code", "environment_variables", "distribution", "resources"] where try trial.optional(key) != nil { return true }
        if let e = try trial.optional("environment"), case .string = e.value { return true }
        return false
    }

    /// Throws for the first key of `field` that Azure's sweep job does not have there, naming the
    /// nearest one it does.
    public static func rejectUnknownKeys(_ field: JSONField, _ allowed: Set<String>) throws(FieldError) {
        for key in try field.keys() where !allowed.contains(key) {
            // Nearest by edits; of equals, the one sharing the longest start with the key.
            func shared(_ a: String) -> Int { zip(a, key).prefix { $0 == $1 }.count }
            let near = allowed.min { (editDistance($0, key), -shared($0), $0) < (editDistance($1, key), -shared($1), $1) }
            let hint = near.map { editDistance($0, key) <= max(3, max($0.count, key.count) / 2) ? "did you mean \($0)? " : "" } ?? ""
            throw FieldError(source: field.source, path: field.childPath(key),
                             "is not a field of Azure ML's sweep job (\(hint)expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    /// The folder holding the spec file `source` ("." for a bare file name), for `trial.code`.
    public static func folder(of source: String) -> String {
        guard let slash = source.lastIndex(of: "/") else { return "." }
        return slash == source.startIndex ? "/" : String(source[..<slash])
    }

    /// `path` relative to `folder` (unless absolute), with `.` and empty components removed, so
    /// its last component is the code folder's own name.
    public static func resolve(_ path: String, against folder: String) -> String {
        let full = path.hasPrefix("/") ? path : folder + "/" + path
        var parts: [Substring] = []
        for p in full.split(separator: "/", omittingEmptySubsequences: true) {
            if p == "." { continue }
            if p == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(p)
        }
        let joined = parts.joined(separator: "/")
        return full.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// The literal values of the top-level `inputs`: a scalar, or an object's `value` or `path`.
    public static func inputs(_ field: JSONField?, notes: inout [String]) throws(FieldError) -> [(String, String)] {
        guard let field else { return [] }
        var out: [(String, String)] = []
        for (name, f) in try field.entries() {
            switch f.value {
            case .string(let s): out.append((name, s))
            case .number(let d): out.append((name, JSONValue.format(d)))
            case .bool(let b): out.append((name, b ? "true" : "false"))
            case .object:
                if let v = try f.optional("value") {
                    out.append((name, SweepSpec.argumentText(v.value)))
                } else if let p = try f.optional("path") {
                    let path = try p.string()
                    if path.hasPrefix("azureml:") || path.contains("://") {
                        notes.append("inputs.\(name): \(path) is not on this machine; ${{inputs.\(name)}} is replaced by it as written.")
                    }
                    out.append((name, path))
                } else {
                    throw f.fail("needs a literal value (a string, number or boolean), or an object with value or path")
                }
            default:
                throw f.fail("needs a literal value (a string, number or boolean), got \(f.value.kindName)")
            }
        }
        return out
    }

    /// `text` with each `${{inputs.NAME}}` replaced by the input's value (shell-quoted when it
    /// needs it: a command runs through `/bin/sh -c`). Throws for an input `inputs` lacks.
    public static func substituteInputs(_ text: String, _ inputs: [(String, String)], path: String, source: String) throws(FieldError) -> String {
        var out = ""
        var rest = Substring(text)
        let prefix = "${{inputs."
        while let open = rest.range(of: prefix) {
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw FieldError(source: source, path: path, "has an unclosed ${{ (expected ${{inputs.NAME}})")
            }
            let name = String(rest[open.upperBound..<close.lowerBound])
            guard let value = inputs.first(where: { $0.0 == name })?.1 else {
                let known = inputs.map(\.0)
                let near = known.min { editDistance($0, name) < editDistance($1, name) }
                let hint = near.map { editDistance($0, name) <= 3 ? " (did you mean \($0)?)" : "" } ?? ""
                throw FieldError(source: source, path: path, "${{inputs.\(name)}} names no entry of the top-level inputs\(hint)"
                                 + (known.isEmpty ? "" : " (inputs: \(known.joined(separator: ", ")))"))
            }
            out += rest[..<open.lowerBound] + TrialParameterCheck.shellQuoted(value)
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// Parses an Azure trial into a command job: `code` (relative to `folder`) becomes the tasks'
    /// working directory, `environment_variables` the tasks' environment, `distribution` the
    /// cluster (chief + worker_count − 1 workers + parameter_server_count ps, with TF_CONFIG).
    static func trial(_ t: JSONField, inputs: [(String, String)], folder: String, metadata: inout Metadata, notes: inout [String]) throws(FieldError) -> JobSpec {
        try rejectUnknownKeys(t, trialKeys)
        var spec = JobSpec()
        spec.passesJobDir = false
        let commandField = try t.required("command")
        spec.command = try substituteInputs(try commandField.string(), inputs, path: commandField.path, source: t.source)
        if let c = try t.optional("code") {
            var path = try c.string()
            if path.hasPrefix("file:") { path = String(path.dropFirst("file:".count)) }
            guard !path.hasPrefix("azureml:"), !path.contains("://") else {
                throw c.fail("must be a local folder here (relative to the spec file's folder), got \(path)")
            }
            spec.packagePath = resolve(path, against: folder)
            spec.packageIsWorkingDirectory = true
        }
        if let e = try t.optional("environment") {
            switch e.value {
            case .string(let s): metadata.environment = s
            case .object: metadata.environment = e.value.serialized()
            default: throw e.fail("expected a string (azureml:NAME:VERSION) or an environment object, got \(e.value.kindName)")
            }
            notes.append("trial.environment \(metadata.environment!.prefix(80)) is recorded: the command runs with the programs installed on this machine.")
        }
        if let e = try t.optional("environment_variables") {
            for (k, v) in try e.entries() {
                switch v.value {
                case .string, .number, .bool: spec.environment[k] = SweepSpec.argumentText(v.value)
                default: throw v.fail("expected a string, got \(v.value.kindName)")
                }
            }
        }
        var instances = 1
        if let r = try t.optional("resources") {
            try rejectUnknownKeys(r, resourcesKeys)
            instances = try r.optional("instance_count")?.int(in: 1...64) ?? 1
            let others = try r.keys().filter { $0 != "instance_count" }
            if !others.isEmpty { notes.append("trial.resources \(others.joined(separator: ", ")) recorded: trials run as processes on this machine.") }
        }
        if let d = try t.optional("distribution") {
            try rejectUnknownKeys(d, distributionKeys)
            let typeField = try d.required("type")
            let type = try typeField.string().lowercased()
            guard type == "tensorflow" else {
                throw typeField.fail("\(type) distribution is not available locally: use tensorflow (worker_count, parameter_server_count), which runs a parameter-server cluster with TF_CONFIG")
            }
            let workers = try d.optional("worker_count")?.int(in: 1...64) ?? instances
            let ps = try d.optional("parameter_server_count")?.int(in: 0...32) ?? 0
            // Azure's worker 0 is the chief: Trainyard calls it `chief` in TF_CONFIG.
            spec.workers = workers - 1
            spec.parameterServers = ps
        } else if instances > 1 {
            notes.append("trial.resources.instance_count \(instances) without a distribution: each trial runs its command once, as one process.")
        }
        return spec
    }
}
