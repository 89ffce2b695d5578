/// What a job runs: the definition `jobs submit training` takes from its flags and `--config`
/// file, and what `jobs create-template` saves.
public struct JobSpec: Sendable, Equatable {
    public var scaleTier: String?
    public var custom = CustomClusterFlags()
    /// `--job-dir`: a gs:// URI or a local path.
    public var jobDir: String?
    public var stagingBucket: String?
    public var packagePath: String?
    /// Run `python3 -m MODULE` in each task.
    public var moduleName: String?
    /// Run this shell command in each task.
    public var command: String?
    /// Arguments after `--`: the user program's, or Trainyard's trainer options for built-in jobs.
    public var userArgs: [String] = []
    /// TF_CONFIG names the chief `chief` (default) or `master` (`--use-chief-in-tf-config=false`).
    public var useChiefInTFConfig = true
    public var restartPolicy = RestartPolicy.onFailure
    public var backoffLimit = 3
    /// Extra environment variables for every task.
    public var environment: [String: String] = [:]
    public var region: String?
    /// Trainyard's own cluster counts, for a job without a tier (`--workers`, `--ps`).
    public var workers: Int?
    public var parameterServers: Int?
    /// The hyperparameter-tuning trial this job is, for TF_CONFIG's `task.trial`.
    public var trial: String?

    public init() {}

    /// Whether the job runs Trainyard's own roles (no module, no command).
    public var builtIn: Bool { moduleName == nil && command == nil }

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
        RestartPolicy.option(\.restartPolicy, help: "as for train"),
        RestartPolicy.backoffLimitOption(\.backoffLimit),
    ], defaults: JobSpec())

    public static var help: [(String, String)] {
        options.helpLines + [
            ("--config FILE", "a JSON job resource shaped like AI Platform's TrainingInput; flags win over it"),
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
            ("module_name", opt(moduleName)), ("command", opt(command)), ("args", JSONValue(userArgs)),
            ("use_chief_in_tf_config", .bool(useChiefInTFConfig)), ("restart_policy", .string(restartPolicy.rawValue)),
            ("backoff_limit", JSONValue(backoffLimit)),
            ("environment", .object(environment.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })), ("region", opt(region)),
            ("workers", workers.map { JSONValue($0) } ?? .null), ("ps", parameterServers.map { JSONValue($0) } ?? .null), ("trial", opt(trial)),
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
        parameterServers = try f.optional("ps")?.int(in: 1...1000)
        trial = try f.optional("trial")?.string()
    }

    /// A job resource file shaped like AI Platform's: either `{"trainingInput": {...}}` (the REST
    /// Job) or the TrainingInput object itself, camelCase as the API spells it.
    public init(config text: String, source: String) throws(FieldError) {
        let root = try JSONField.parse(text, source: source)
        let t = try root.optional("trainingInput") ?? root
        try t.rejectUnknownKeys(["scaleTier", "masterType", "workerCount", "workerType", "parameterServerCount", "parameterServerType",
                                 "args", "jobDir", "pythonModule", "packageUris", "region", "runtimeVersion", "pythonVersion",
                                 "useChiefInTfConfig", "masterConfig", "workerConfig", "parameterServerConfig", "scheduling",
                                 "trainingInput", "jobId", "labels"])
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
        useChiefInTFConfig = try t.optional("useChiefInTfConfig")?.bool() ?? true
        if !custom.isEmpty && scaleTier == nil { scaleTier = "CUSTOM" }
    }
}
