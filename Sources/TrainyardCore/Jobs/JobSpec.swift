/// What a job runs: the definition `jobs submit training` takes from its flags and `--config`
/// file, and what `jobs create-template` saves.
public struct JobSpec: Sendable, Equatable {
    public var scaleTier: String?
    public var custom = CustomClusterFlags()
    /// `--job-dir`: a gs:// URI or a local path.
    public var jobDir: String?
    public var stagingBucket: String?
    public var packagePath: String?
    /// Azure ML's `code`: the package's own folder is each task's working directory (not a
    /// subfolder of it, as `--package-path` unpacks).
    public var packageIsWorkingDirectory = false
    /// Whether the program is given `--job-dir DIR` (AI Platform's convention; Azure ML's command
    /// runs exactly as written).
    public var passesJobDir = true
    /// Run `python3 -m MODULE` in each task.
    public var moduleName: String?
    /// Run this shell command in each task.
    public var command: String?
    /// Arguments after `--`: the user program's, or Trainyard's trainer options for built-in jobs.
    public var userArgs: [String] = []
    /// TF_CONFIG names the chief `chief` (default) or `master` (`--use-chief-in-tf-config=false`).
    public var useChiefInTFConfig = true
    /// The restart policy given explicitly; nil = the default rule (`effectiveRestartPolicy`).
    public var restartPolicy: RestartPolicy?
    public var backoffLimit = 3
    /// Extra environment variables for every task.
    public var environment: [String: String] = [:]
    public var region: String?
    /// Trainyard's own cluster counts, for a job without a tier (`--workers`, `--ps`).
    public var workers: Int?
    public var parameterServers: Int?
    /// The hyperparameter-tuning trial this job is, for TF_CONFIG's `task.trial`.
    public var trial: String?
    /// `--runtime-version` (recorded; the program runs with what is installed here).
    public var runtimeVersion: String?
    /// `--python-version`: `3.11` runs `python3.11` when it is on PATH.
    public var pythonVersion: String?
    /// `--python PATH`: an interpreter, or a virtual environment's folder, for `--module-name`.
    public var python: String?
    /// `--labels K=V,…`: the Job resource's labels.
    public var labels: [String: String] = [:]
    /// `--packages A,B`: extra staged packages (sdists or wheels) installed offline for the job.
    public var packages: [String] = []
    /// Container images (recorded: images do not run on this machine).
    public var masterImageURI: String?
    public var workerImageURI: String?
    public var parameterServerImageURI: String?
    /// Which service's shape a template (and its runs) takes: state names and fields.
    public var service = CloudService.aiPlatform

    public init() {}

    /// Whether the job runs Trainyard's own roles (no module, no command).
    public var builtIn: Bool { moduleName == nil && command == nil }

    /// The restart policy in force: the explicit one, else `ExitCode` for a user's program (exit
    /// codes 1–127 are permanent, 128 and above — signals, preemption — are retried, as TFJob's
    /// ExitCode policy) and `OnFailure` for Trainyard's trainer.
    public var effectiveRestartPolicy: RestartPolicy { restartPolicy ?? (builtIn ? .onFailure : .exitCode) }

    /// The image flags that were given, as (flag, URI).
    public var imageURIs: [(String, String)] {
        [("--master-image-uri", masterImageURI), ("--worker-image-uri", workerImageURI), ("--parameter-server-image-uri", parameterServerImageURI)]
            .compactMap { f, v in v.map { (f, $0) } }
    }

    /// The job flags, declared once (`--config` and `--env` are read apart: the file by the command,
    /// `--env` because it repeats).
    public static let options = OptionTable<JobSpec>([
        CustomClusterFlags.scaleTierOption(\.scaleTier),
    ] + CustomClusterFlags.options.options.map { $0.scoped(\.custom) } + [
        .string("job-dir", \.jobDir, placeholder: "gs://…|DIR", help: "where outputs go; passed to the program as --job-dir (required)"),
        .string("staging-bucket", \.stagingBucket, placeholder: "gs://…", help: "where the package is uploaded", default: "JOB_DIR/packages"),
        .string("package-path", \.packagePath, placeholder: "DIR",
                help: "a folder to package (tar.gz, honouring .gcloudignore, else .gitignore) and unpack in each task"),
        .string("module-name", \.moduleNameReplacingCommand, placeholder: "M", help: "run `python3 -m M` in each task"),
        .string("command", \.commandReplacingModule, placeholder: "'CMD'", help: "run this shell command in each task"),
        .string("region", \.region, placeholder: "REGION", help: "the region TF_CONFIG's job names").hidden(),
        .int("workers", \.workers, in: 0...1000, help: "Trainyard's cluster without a tier: workers besides the chief").hidden(),
        .int("ps", \.parameterServers, in: 1...1000, help: "Trainyard's cluster without a tier: parameter servers").hidden(),
        OptionSpec("use-chief-in-tf-config", \.useChiefInTFConfig, placeholder: "true|false",
                   help: "false: call the chief `master` in TF_CONFIG (AI Platform's TF 1 naming)", allowed: "true or false",
                   parse: { (t: String) throws(UsageError) in try OptionParse.bool(t) }, format: { String($0) }),
        .string("runtime-version", \.runtimeVersion, placeholder: "VERSION", help: "AI Platform's runtime version (recorded; the program runs with what is installed here)"),
        .string("python-version", \.pythonVersion, placeholder: "X.Y", help: "run pythonX.Y from PATH (else says which interpreter runs instead)"),
        .string("python", \.python, placeholder: "PATH", help: "the interpreter or virtualenv folder for --module-name (else $TRAINYARD_PYTHON, else --python-version, else python3)"),
        OptionSpec("labels", \.labels, placeholder: "K=V,…", help: "labels of the job resource", default: "",
                   parse: { (t: String) throws(UsageError) in try JobSpec.parseLabels(t) },
                   format: { $0.isEmpty ? nil : $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }),
        OptionSpec("packages", \.packages, placeholder: "FILE,…", help: "sdists or wheels to stage and install offline (pip --no-index) for the job", default: "",
                   parse: { (t: String) throws(UsageError) in t.split(separator: ",").map(String.init) },
                   format: { $0.isEmpty ? nil : $0.joined(separator: ",") }),
        .string("master-image-uri", \.masterImageURI, placeholder: "URI", help: "the master's container image (recorded: images do not run here)"),
        .string("worker-image-uri", \.workerImageURI, placeholder: "URI", help: "the workers' container image (recorded: images do not run here)"),
        .string("parameter-server-image-uri", \.parameterServerImageURI, placeholder: "URI", help: "the ps' container image (recorded: images do not run here)"),
        OptionSpec("restart-policy", \.restartPolicy, placeholder: "POLICY",
                   help: "Never, OnFailure, Always or ExitCode", default: "ExitCode for a program, OnFailure for Trainyard's trainer",
                   allowed: "Never, OnFailure, Always or ExitCode (any case)",
                   parse: { (t: String) throws(UsageError) in try RestartPolicy(parsing: t) }, format: { $0?.rawValue }),
        RestartPolicy.backoffLimitOption(\.backoffLimit),
    ], defaults: JobSpec())

    /// `K=V,K2=V2` (AI Platform's label rule: keys start with a lower-case letter; lower-case
    /// letters, digits, `_` and `-`).
    public static func parseLabels(_ text: String) throws(UsageError) -> [String: String] {
        var labels: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, let first = kv[0].first, first.isLowercase,
                  kv[0].allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw UsageError("takes KEY=VALUE,… with keys of lower-case letters, digits, _ and -, got \"\(pair)\"")
            }
            labels[String(kv[0])] = String(kv[1])
        }
        return labels
    }

    public static var help: [(String, String)] {
        options.helpLines + [
            ("--config FILE", "a JSON or YAML job resource shaped like AI Platform's TrainingInput; flags win over it"),
            ("--env K=V", "an environment variable for every task (repeatable)"),
            ("-- USER_ARGS", "arguments for the program (for Trainyard's trainer: its train options)"),
        ]
    }

    /// `--module-name` replaces a command (from a config file or template), and the other way round.
    private var moduleNameReplacingCommand: String? {
        get { moduleName }
        set { moduleName = newValue; if newValue != nil { command = nil } }
    }

    private var commandReplacingModule: String? {
        get { command }
        set { command = newValue; if newValue != nil { moduleName = nil } }
    }

    /// Reads the job flags from `args` over `base` (a config file or a template): flags win.
    public static func parse(_ args: inout Arguments, over base: JobSpec = JobSpec()) throws(UsageError) -> JobSpec {
        var s = base
        try options.parse(&args, into: &s)
        for pair in try args.values("--env") {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw UsageError("--env takes KEY=VALUE, got \"\(pair)\"") }
            s.environment[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        if !args.passthrough.isEmpty { s.userArgs = args.passthrough }
        if !s.custom.isEmpty && s.scaleTier == nil { s.scaleTier = "CUSTOM" }
        return s
    }

    /// Checks what must hold before a job starts (what the flags alone cannot say).
    public func validate() throws(UsageError) {
        guard let jobDir, !jobDir.isEmpty else { throw UsageError("--job-dir is required (a gs:// URI or a local folder)") }
        if StorageURI.isStorageURI(jobDir) { do { _ = try StorageURI(parsing: jobDir) } catch { throw UsageError("--job-dir: \(error.message)") } }
        if let b = stagingBucket {
            do {
                let uri = try StorageURI(parsing: b)
                guard uri.path.isEmpty else { throw UsageError("--staging-bucket must be a bucket (gs://NAME), not an object path: \(b)") }
            } catch let e as FieldError { throw UsageError("--staging-bucket: \(e.message)") } catch let e as UsageError { throw e } catch { throw UsageError("--staging-bucket: \(error)") }
        }
        if let tier = scaleTier, tier.uppercased() != "CUSTOM", !custom.isEmpty {
            throw UsageError("the CUSTOM flags need --scale-tier CUSTOM, not \(tier)")
        }
        if (workers != nil || parameterServers != nil) && scaleTier != nil {
            throw UsageError("--workers and --ps cannot be combined with --scale-tier")
        }
        if packagePath != nil && builtIn {
            throw UsageError("--package-path needs --module-name or --command: the package holds the program to run")
        }
        if let image = imageURIs.first, runtimeVersion != nil {
            throw UsageError("\(image.0) and --runtime-version cannot be combined (as in gcloud: an image brings its own runtime)")
        }
        if let v = pythonVersion, !v.split(separator: ".").allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
            throw UsageError("--python-version takes a version such as 3.11, got \"\(v)\"")
        }
    }

    /// AI Platform's TrainingInput fields this spec sets, for TF_CONFIG's `job`.
    public func trainingInput(jobDirectory: String) -> JSONValue {
        var f: [(String, JSONValue)] = [("scale_tier", .string(scaleTier ?? "BASIC"))]
        if let m = custom.masterMachineType { f.append(("master_type", .string(m))) }
        if let n = custom.workerCount { f.append(("worker_count", JSONValue(n))) }
        if let t = custom.workerMachineType { f.append(("worker_type", .string(t))) }
        if let n = custom.parameterServerCount { f.append(("parameter_server_count", JSONValue(n))) }
        if let t = custom.parameterServerMachineType { f.append(("parameter_server_type", .string(t))) }
        if let m = moduleName { f.append(("python_module", .string(m))) }
        f.append(("args", JSONValue(userArgs)))
        f.append(("job_dir", .string(jobDirectory)))
        if let r = region { f.append(("region", .string(r))) }
        if let v = runtimeVersion { f.append(("runtime_version", .string(v))) }
        if let v = pythonVersion { f.append(("python_version", .string(v))) }
        return .object(f)
    }

    // MARK: JSON (job records and templates)

    public var json: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map { JSONValue($0) } ?? .null }
        return .object([
            ("scale_tier", opt(scaleTier)), ("master_type", opt(custom.masterMachineType)),
            ("worker_count", custom.workerCount.map { JSONValue($0) } ?? .null), ("worker_type", opt(custom.workerMachineType)),
            ("parameter_server_count", custom.parameterServerCount.map { JSONValue($0) } ?? .null), ("parameter_server_type", opt(custom.parameterServerMachineType)),
            ("job_dir", opt(jobDir)), ("staging_bucket", opt(stagingBucket)), ("package_path", opt(packagePath)),
            ("package_is_working_directory", .bool(packageIsWorkingDirectory)), ("passes_job_dir", .bool(passesJobDir)),
            ("module_name", opt(moduleName)), ("command", opt(command)), ("args", JSONValue(userArgs)),
            ("use_chief_in_tf_config", .bool(useChiefInTFConfig)), ("restart_policy", opt(restartPolicy?.rawValue)),
            ("backoff_limit", JSONValue(backoffLimit)),
            ("environment", .object(environment.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })), ("region", opt(region)),
            ("workers", workers.map { JSONValue($0) } ?? .null), ("ps", parameterServers.map { JSONValue($0) } ?? .null), ("trial", opt(trial)),
            ("runtime_version", opt(runtimeVersion)), ("python_version", opt(pythonVersion)), ("python", opt(python)),
            ("labels", .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })), ("packages", JSONValue(packages)),
            ("master_image_uri", opt(masterImageURI)), ("worker_image_uri", opt(workerImageURI)),
            ("parameter_server_image_uri", opt(parameterServerImageURI)), ("service", .string(service.rawValue)),
        ])
    }

    public init(json f: JSONField) throws(FieldError) {
        scaleTier = try f.optional("scale_tier")?.string()
        custom.masterMachineType = try f.optional("master_type")?.string()
        custom.workerCount = try f.optional("worker_count")?.int()
        custom.workerMachineType = try f.optional("worker_type")?.string()
        custom.parameterServerCount = try f.optional("parameter_server_count")?.int()
        custom.parameterServerMachineType = try f.optional("parameter_server_type")?.string()
        jobDir = try f.optional("job_dir")?.string()
        stagingBucket = try f.optional("staging_bucket")?.string()
        packagePath = try f.optional("package_path")?.string()
        packageIsWorkingDirectory = try f.optional("package_is_working_directory")?.bool() ?? false
        passesJobDir = try f.optional("passes_job_dir")?.bool() ?? true
        moduleName = try f.optional("module_name")?.string()
        command = try f.optional("command")?.string()
        userArgs = try (f.optional("args")?.array() ?? []).map { (x) throws(FieldError) in try x.string() }
        useChiefInTFConfig = try f.optional("use_chief_in_tf_config")?.bool() ?? true
        if let p = try f.optional("restart_policy") {
            let name = try p.string()
            do { restartPolicy = try RestartPolicy(parsing: name) } catch { throw p.fail(error.message) }
        }
        backoffLimit = try f.optional("backoff_limit")?.int(in: 0...1000) ?? 3
        if let e = try f.optional("environment") {
            for (k, v) in try e.entries() { environment[k] = try v.string() }
        }
        region = try f.optional("region")?.string()
        workers = try f.optional("workers")?.int(in: 0...1000)
        parameterServers = try f.optional("ps")?.int(in: 0...1000)
        trial = try f.optional("trial")?.string()
        runtimeVersion = try f.optional("runtime_version")?.string()
        pythonVersion = try f.optional("python_version")?.string()
        python = try f.optional("python")?.string()
        if let l = try f.optional("labels") { for (k, v) in try l.entries() { labels[k] = try v.string() } }
        packages = try (f.optional("packages")?.array() ?? []).map { (x) throws(FieldError) in try x.string() }
        masterImageURI = try f.optional("master_image_uri")?.string()
        workerImageURI = try f.optional("worker_image_uri")?.string()
        parameterServerImageURI = try f.optional("parameter_server_image_uri")?.string()
        if let s = try f.optional("service") {
            guard let v = CloudService(rawValue: try s.string()) else { throw s.fail("expected ai-platform or oci") }
            service = v
        }
    }

    /// The keys of AI Platform's REST `Job` resource that a config file may hold.
    public static let jobKeys: Set<String> = ["jobId", "labels", "trainingInput", "etag"]
    /// TrainingInput's keys (REST v1, `projects.jobs`).
    public static let trainingInputKeys: Set<String> = [
        "scaleTier", "masterType", "masterConfig", "workerType", "workerConfig", "parameterServerType", "parameterServerConfig",
        "evaluatorType", "evaluatorConfig", "evaluatorCount", "workerCount", "parameterServerCount", "packageUris", "pythonModule",
        "args", "hyperparameters", "region", "jobDir", "runtimeVersion", "pythonVersion", "encryptionConfig", "scheduling",
        "network", "serviceAccount", "useChiefInTfConfig", "enableWebAccess"]
    /// ReplicaConfig's keys (`masterConfig`, `workerConfig`, …).
    public static let replicaConfigKeys: Set<String> = ["acceleratorConfig", "imageUri", "tpuTfVersion", "containerCommand", "containerArgs", "diskConfig"]
    /// OCI Data Science's CreateJobDetails keys, and its DefaultJobConfigurationDetails'.
    public static let ociJobKeys: Set<String> = ["displayName", "description", "compartmentId", "projectId", "jobConfigurationDetails",
                                                 "jobInfrastructureConfigurationDetails", "jobLogConfigurationDetails", "freeformTags", "definedTags"]
    public static let ociConfigurationKeys: Set<String> = ["jobType", "commandLineArguments", "environmentVariables", "maximumRuntimeInMinutes"]

    /// A version written as text (`"2.0"`) or, unquoted in YAML, as a number (`2.0`, `3.7`).
    static func version(_ v: JSONField) throws(FieldError) -> String {
        guard case .number(let d) = v.value else { return try v.string() }
        return d == d.rounded() ? "\(Int(d)).0" : JSONValue.format(d)
    }

    /// Refuses a key outside `allowed`, naming the nearest valid one.
    static func rejectUnknown(_ f: JSONField, _ allowed: Set<String>, in what: String) throws(FieldError) {
        for key in try f.keys() where !allowed.contains(key) {
            let near = allowed.min { editDistance($0.lowercased(), key.lowercased()) < editDistance($1.lowercased(), key.lowercased()) }
            let hint = near.map { " (did you mean \($0)?)" } ?? ""
            throw FieldError(source: f.source, path: f.childPath(key), "is not a field of \(what)\(hint)")
        }
    }

    /// A job resource file (JSON or YAML). AI Platform's shape: `{"trainingInput": {...}, "labels":
    /// {...}}` (the REST Job) or the TrainingInput itself, camelCase as the API spells it. OCI Data
    /// Science's shape: a CreateJobDetails with `jobConfigurationDetails` (`commandLineArguments`,
    /// `environmentVariables`), which makes the spec OCI-shaped (`service == .oci`).
    public init(config text: String, source: String) throws(FieldError) {
        let root = try JSONField.parse(text, source: source)
        if try root.optional("jobConfigurationDetails") != nil {
            try JobSpec.rejectUnknown(root, JobSpec.ociJobKeys, in: "OCI's CreateJobDetails")
            service = .oci
            let c = try root.required("jobConfigurationDetails")
            try JobSpec.rejectUnknown(c, JobSpec.ociConfigurationKeys, in: "OCI's DefaultJobConfigurationDetails")
            if let a = try c.optional("commandLineArguments") { userArgs = try a.string().split(separator: " ").map(String.init) }
            if let e = try c.optional("environmentVariables") { for (k, v) in try e.entries() { environment[k] = try v.string() } }
            if let tags = try root.optional("freeformTags") { for (k, v) in try tags.entries() { labels[k] = try v.string() } }
            return
        }
        let t: JSONField
        if let input = try root.optional("trainingInput") {
            try JobSpec.rejectUnknown(root, JobSpec.jobKeys, in: "the Job resource")
            if let l = try root.optional("labels") { for (k, v) in try l.entries() { labels[k] = try v.string() } }
            t = input
        } else {
            t = root
        }
        try JobSpec.rejectUnknown(t, JobSpec.trainingInputKeys, in: "TrainingInput")
        for key in ["masterConfig", "workerConfig", "parameterServerConfig", "evaluatorConfig"] {
            if let c = try t.optional(key) { try JobSpec.rejectUnknown(c, JobSpec.replicaConfigKeys, in: "ReplicaConfig") }
        }
        if let tier = try t.optional("scaleTier") { scaleTier = try tier.string() }
        custom.masterMachineType = try t.optional("masterType")?.string()
        if let n = try t.optional("workerCount") {
            // The REST API sends int64 as a string.
            if case .string(let s) = n.value { guard let i = Int(s) else { throw n.fail("expected a count") }; custom.workerCount = i } else { custom.workerCount = try n.int() }
        }
        custom.workerMachineType = try t.optional("workerType")?.string()
        if let n = try t.optional("parameterServerCount") {
            if case .string(let s) = n.value { guard let i = Int(s) else { throw n.fail("expected a count") }; custom.parameterServerCount = i } else { custom.parameterServerCount = try n.int() }
        }
        custom.parameterServerMachineType = try t.optional("parameterServerType")?.string()
        userArgs = try (t.optional("args")?.array() ?? []).map { (x) throws(FieldError) in try x.string() }
        jobDir = try t.optional("jobDir")?.string()
        moduleName = try t.optional("pythonModule")?.string()
        region = try t.optional("region")?.string()
        runtimeVersion = try t.optional("runtimeVersion").map { (v) throws(FieldError) in try JobSpec.version(v) }
        pythonVersion = try t.optional("pythonVersion").map { (v) throws(FieldError) in try JobSpec.version(v) }
        packages = try (t.optional("packageUris")?.array() ?? []).map { (x) throws(FieldError) in try x.string() }
        masterImageURI = try t.optional("masterConfig")?.optional("imageUri")?.string()
        workerImageURI = try t.optional("workerConfig")?.optional("imageUri")?.string()
        parameterServerImageURI = try t.optional("parameterServerConfig")?.optional("imageUri")?.string()
        useChiefInTFConfig = try t.optional("useChiefInTfConfig")?.bool() ?? true
        if !custom.isEmpty && scaleTier == nil { scaleTier = "CUSTOM" }
    }
}

/// Which cloud service's shape a job takes: its state names and resource fields.
public enum CloudService: String, Sendable, CaseIterable {
    /// Google AI Platform Training (`gcloud ai-platform jobs …`).
    case aiPlatform = "ai-platform"
    /// OCI Data Science jobs and job runs.
    case oci

    /// The state a job in `state` shows under this service (OCI's job-run lifecycle states).
    public func stateName(_ state: JobState, supervisorDied: Bool = false) -> String {
        guard self == .oci else { return state.rawValue }
        switch state {
        case .queued, .preparing: return "ACCEPTED"
        case .running: return "IN_PROGRESS"
        case .succeeded: return "SUCCEEDED"
        case .failed: return supervisorDied ? "NEEDS_ATTENTION" : "FAILED"
        case .cancelling: return "CANCELING"
        case .cancelled: return "CANCELED"
        }
    }
}
