/// A sweep: trials of one job over a search space, shaped like Azure ML's sweep job
/// (Docs/sweeps.md). Parsed and validated on load; errors name the field.
public struct SweepSpec: Sendable {
    public enum Trial: Sendable {
        /// Trainyard's trainer: the `trainyard train` options the trial object sets (snake_case keys,
        /// decoded and checked through `TrainSettings.options`) as `--flag value` arguments, and the
        /// cluster's worker and ps counts.
        case builtIn(arguments: [String], workers: Int, ps: Int)
        /// A job definition with `command` or `module_name`, a tier, a package.
        case job(JobSpec)
    }

    public var name: String
    public var trial: Trial
    public var searchSpace: [(String, Distribution)]
    public var sampling: SamplingAlgorithm
    public var seed: UInt64
    public var primaryMetric: String
    public var goal: Goal
    public var maxTotalTrials: Int
    public var maxConcurrentTrials: Int
    /// Seconds for the whole sweep and for each trial.
    public var timeout: Double?
    public var trialTimeout: Double?
    public var earlyTermination: EarlyTerminationPolicy?
    /// Whether the file is an Azure ML sweep job (`AzureSweepJob.isAzureShaped`): then sampled
    /// values reach a command only where `${{search_space.NAME}}` places them.
    public var azure: Bool
    /// What an Azure-shaped spec records without acting on it (compute, environment, tags…).
    public var metadata = AzureSweepJob.Metadata()
    /// One line per field accepted that means nothing on this machine, or done another way.
    public var notes: [String] = []

    /// Parses a sweep spec (JSON or YAML). `source` is the file's path: errors name it, and an
    /// Azure trial's `code` is relative to its folder.
    public init(parsing text: String, source: String) throws(FieldError) {
        let root = try JSONField.parse(text, source: source)
        let baseArguments: [String]?
        var trainers = 1
        azure = try AzureSweepJob.isAzureShaped(root)
        if azure {
            try AzureSweepJob.rejectUnknownKeys(root, AzureSweepJob.topLevelKeys)
        } else {
            try root.rejectUnknownKeys(["name", "description", "trial", "search_space", "sampling_algorithm", "seed", "objective", "limits", "early_termination", "type",
                                        "display_name", "experiment_name", "tags", "compute"])
        }
        if let t = try root.optional("type"), try t.string() != "sweep" { throw t.fail("must be sweep, got \"\(try t.string())\"") }
        metadata.displayName = try root.optional("display_name")?.string()
        metadata.experimentName = try root.optional("experiment_name")?.string()
        metadata.description = try root.optional("description")?.string()
        if let tags = try root.optional("tags") { for (k, v) in try tags.entries() { metadata.tags[k] = SweepSpec.argumentText(v.value) } }
        metadata.compute = try root.optional("compute")?.string()
        if let c = metadata.compute { notes.append("compute \(c) is recorded: trials run on this machine (local).") }
        if let e = metadata.experimentName { notes.append("experiment_name \(e) is recorded: the sweep is kept in $TRAINYARD_HOME/sweeps.") }
        if try root.optional("identity") != nil { notes.append("identity is accepted and unused: trials run as this user.") }
        if let o = try root.optional("outputs") { notes.append("outputs (\(try o.keys().joined(separator: ", "))) are accepted and unused: each trial writes to its job folder.") }

        // name: Azure generates one when it is absent.
        if let nameField = try root.optional("name") {
            name = try nameField.string()
            guard !name.isEmpty, name.count <= 100, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }), name.first!.isLetter else {
                throw nameField.fail("must start with a letter and hold only letters, digits, - and _")
            }
        } else if azure {
            let fromDisplay = String((metadata.displayName ?? "").map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" }.prefix(100))
            name = fromDisplay.first?.isLetter == true ? fromDisplay : "sweep"
        } else {
            name = try root.required("name").string()
        }

        // trial
        let t = try root.required("trial")
        let hasCommand = try t.optional("command") != nil
        let hasModule = try t.optional("module_name") != nil
        if azure {
            let inputs = try AzureSweepJob.inputs(try root.optional("inputs"), notes: &notes)
            trial = .job(try AzureSweepJob.trial(t, inputs: inputs, folder: AzureSweepJob.folder(of: source), metadata: &metadata, notes: &notes))
        } else if hasCommand || hasModule {
            var spec = JobSpec()
            try t.rejectUnknownKeys(["command", "module_name", "scale_tier", "master_machine_type", "worker_count", "worker_machine_type",
                                     "parameter_server_count", "parameter_server_machine_type", "package_path", "job_dir", "args", "environment",
                                     "restart_policy", "use_chief_in_tf_config"])
            spec.command = try t.optional("command")?.string()
            spec.moduleName = try t.optional("module_name")?.string()
            spec.scaleTier = try t.optional("scale_tier")?.string()
            spec.custom.masterMachineType = try t.optional("master_machine_type")?.string()
            spec.custom.workerCount = try t.optional("worker_count")?.int(in: 1...1000)
            spec.custom.workerMachineType = try t.optional("worker_machine_type")?.string()
            spec.custom.parameterServerCount = try t.optional("parameter_server_count")?.int(in: 1...1000)
            spec.custom.parameterServerMachineType = try t.optional("parameter_server_machine_type")?.string()
            if !spec.custom.isEmpty && spec.scaleTier == nil { spec.scaleTier = "CUSTOM" }
            spec.packagePath = try t.optional("package_path")?.string()
            spec.jobDir = try t.optional("job_dir")?.string()
            spec.userArgs = try (t.optional("args")?.array() ?? []).map { (x) throws(FieldError) in try x.string() }
            if let e = try t.optional("environment") { for (k, v) in try e.entries() { spec.environment[k] = try v.string() } }
            if let p = try t.optional("restart_policy") {
                let n = try p.string()
                do { spec.restartPolicy = try RestartPolicy(parsing: n) } catch { throw p.fail(error.message) }
            }
            spec.useChiefInTFConfig = try t.optional("use_chief_in_tf_config")?.bool() ?? true
            trial = .job(spec)
        } else {
            // Trainyard's trainer: its options' snake_case names, read through its option table
            // (not validated together: the search space may still add, say, `sync`).
            let workers = try t.optional("workers")?.int(in: 0...64) ?? 1
            let ps = try t.optional("ps")?.int(in: 1...32) ?? 1
            var settings = TrainSettings()
            let given = try TrainSettings.options.decode(t, into: &settings, skipping: ["workers", "ps"])
            let argv = TrainSettings.options.arguments(for: settings, only: given)
            trial = .builtIn(arguments: argv, workers: workers, ps: ps)
        }

        // search space
        let space = try root.required("search_space")
        searchSpace = []
        for (key, field) in try space.entries() { searchSpace.append((key, try Distribution(parsing: field))) }
        guard !searchSpace.isEmpty else { throw space.fail("needs at least one parameter") }

        // sampling_algorithm: a name, or {type, seed, rule} (Azure's random sampling object).
        let samplingField = try root.optional("sampling_algorithm")
        var samplingName = "random"
        var seed = azure ? nil : try root.optional("seed")?.int(in: 0...Int.max)
        if let s = samplingField {
            if case .object = s.value {
                if azure { try AzureSweepJob.rejectUnknownKeys(s, AzureSweepJob.samplingKeys) }
                samplingName = try s.required("type").string()
                if let inner = try s.optional("seed") { seed = try inner.int(in: 0...Int.max) }
                if let r = try s.optional("rule") {
                    switch try r.string().lowercased() {
                    case "random": break
                    case "sobol":
                        notes.append("sampling_algorithm.rule sobol: Sobol sequences are not available locally; trials are drawn by seeded random sampling (seed \(seed ?? 1)).")
                    default: throw r.fail("must be random or sobol, got \"\(try r.string())\"")
                    }
                    guard samplingName.lowercased() == "random" else { throw r.fail("applies only to random sampling") }
                }
            } else {
                samplingName = try s.string()
            }
        }
        switch samplingName.lowercased() {
        case "random": sampling = .random
        case "grid": sampling = .grid
        case "bayesian":
            throw FieldError(source: source, path: "sampling_algorithm", "bayesian sampling is not available locally: use random or grid")
        default:
            throw FieldError(source: source, path: "sampling_algorithm", "must be random or grid, got \"\(samplingName)\"")
        }
        self.seed = UInt64(seed ?? 1)

        let objective = try root.required("objective")
        if azure { try AzureSweepJob.rejectUnknownKeys(objective, AzureSweepJob.objectiveKeys) }
        primaryMetric = try objective.required("primary_metric").string()
        let goalField = try objective.required("goal")
        guard let g = Goal(rawValue: try goalField.string().lowercased()) else { throw goalField.fail("must be maximize or minimize") }
        goal = g

        let limits = try root.optional("limits")
        if azure, let limits { try AzureSweepJob.rejectUnknownKeys(limits, AzureSweepJob.limitsKeys) }
        maxTotalTrials = try limits?.optional("max_total_trials")?.int(in: 1...1000) ?? (azure ? AzureSweepJob.defaultMaxTotalTrials : 10)
        maxConcurrentTrials = try limits?.optional("max_concurrent_trials")?.int(in: 1...1000) ?? maxTotalTrials
        timeout = try limits?.optional("timeout")?.double()
        trialTimeout = try limits?.optional("trial_timeout")?.double()
        if let t = timeout, t <= 0 { throw FieldError(source: source, path: "limits.timeout", "must be positive") }
        if let t = trialTimeout, t <= 0 { throw FieldError(source: source, path: "limits.trial_timeout", "must be positive") }
        if sampling == .grid {
            do { maxTotalTrials = min(maxTotalTrials, try Sampler.grid(searchSpace).count) } catch { throw error.from(source) }
        }

        // Every value the space can produce must be one the trial accepts, before any trial starts.
        switch trial {
        case .builtIn(let arguments, let workers, _):
            trainers = workers + 1
            guard ["accuracy", "loss"].contains(primaryMetric) else {
                throw FieldError(source: source, path: "objective.primary_metric",
                                 "Trainyard's trainer reports accuracy and loss, not \"\(primaryMetric)\"")
            }
            try TrialParameterCheck.builtIn(searchSpace, table: TrainSettings.options, source: source)
            baseArguments = arguments
        case .job(let job):
            try TrialParameterCheck.job(job, space: searchSpace, source: source)
            baseArguments = nil
        }

        if let e = try root.optional("early_termination") {
            let typeField = try e.required("type")
            if azure {
                let type = try typeField.string().lowercased()
                guard let keys = AzureSweepJob.policyKeys[type] else { throw typeField.fail("must be bandit, median_stopping or truncation_selection") }
                try AzureSweepJob.rejectUnknownKeys(e, keys)
            }
            let interval = try e.optional("evaluation_interval")?.int(in: 0...1_000_000) ?? 1
            let delay = try e.optional("delay_evaluation")?.int(in: 0...1_000_000) ?? 0
            switch try typeField.string().lowercased() {
            case "bandit":
                try e.rejectUnknownKeys(["type", "slack_factor", "slack_amount", "evaluation_interval", "delay_evaluation"])
                let factor = try e.optional("slack_factor")?.double()
                let amount = try e.optional("slack_amount")?.double()
                guard (factor == nil) != (amount == nil) else { throw e.fail("a bandit policy needs slack_factor or slack_amount (one of them)") }
                if let f = factor, f < 0 { throw FieldError(source: source, path: e.childPath("slack_factor"), "must be ≥ 0") }
                if let a = amount, a < 0 { throw FieldError(source: source, path: e.childPath("slack_amount"), "must be ≥ 0") }
                earlyTermination = .bandit(slackFactor: factor, slackAmount: amount, evaluationInterval: interval, delayEvaluation: delay)
            case "median_stopping", "median":
                try e.rejectUnknownKeys(["type", "evaluation_interval", "delay_evaluation", "minimum_trials"])
                earlyTermination = .medianStopping(evaluationInterval: interval, delayEvaluation: delay,
                                                   minimumTrials: try e.optional("minimum_trials")?.int(in: 1...1000) ?? 2)
            case "truncation_selection", "truncation":
                try e.rejectUnknownKeys(["type", "truncation_percentage", "evaluation_interval", "delay_evaluation", "exclude_finished_jobs"])
                earlyTermination = .truncationSelection(percentage: try e.required("truncation_percentage").int(in: 1...99), evaluationInterval: interval,
                                                        delayEvaluation: delay, excludeFinished: try e.optional("exclude_finished_jobs")?.bool() ?? false)
            default:
                throw typeField.fail("must be bandit, median_stopping or truncation_selection")
            }
        }
        if let baseArguments { try TrialParameterCheck.trials(trials(), spec: self, base: baseArguments, trainers: trainers, source: source) }
    }

    /// Each trial's parameters, in order.
    public func trials() -> [[(String, JSONValue)]] {
        switch sampling {
        case .random: return Sampler.random(searchSpace, seed: seed, count: maxTotalTrials)
        case .grid: return Array(((try? Sampler.grid(searchSpace)) ?? []).prefix(maxTotalTrials))
        }
    }

    /// A sampled value as a command-line argument: `--name=value` (names with `_` become `-` for
    /// Trainyard's own trainer, whose options are dashed).
    public func argument(_ name: String, _ value: JSONValue) -> String {
        let text = SweepSpec.argumentText(value)
        if case .builtIn = trial { return "--" + String(name.map { $0 == "_" ? "-" : $0 }) + "=" + text }
        return "--\(name)=\(text)"
    }

    /// A sampled value as the text of an argument: strings as they are, numbers in JSON's form.
    public static func argumentText(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .number(let d): return JSONValue.format(d)
        case .bool(let b): return b ? "true" : "false"
        default: return value.serialized()
        }
    }

    /// A job trial's definition for one trial: each `${{search_space.NAME}}` in the command and
    /// args replaced by the value; when there is no reference at all, the values follow the args
    /// as `--name=value` (Docs/sweeps.md), except in an Azure-shaped spec, which places them only
    /// where it refers to them (as Azure does).
    public func job(_ base: JobSpec, parameters params: [(String, JSONValue)]) -> JobSpec {
        var job = base
        let command = base.command.flatMap { TrialParameterCheck.substitute($0, params, quoted: true) }
        let args = base.userArgs.map { TrialParameterCheck.substitute($0, params, quoted: false) }
        if command == nil && args.allSatisfy({ $0 == nil }) && !azure {
            job.userArgs = base.userArgs + params.map { argument($0.0, $0.1) }
        } else {
            job.command = command ?? base.command
            job.userArgs = zip(base.userArgs, args).map { $1 ?? $0 }
        }
        return job
    }
}
