import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard jobs submit training|list|describe|stream-logs|cancel|create-template|run`: jobs as a
/// cloud service runs them, on this machine. A detached supervisor (`trainyard _supervise`) runs
/// each job; its record on disk outlives the command.
enum JobsCommand {
    static let submitOptions: [(String, String)] = [
        ("--workers N --ps M", "instead of a tier: plain counts of workers and parameter servers"),
        ("--region R", "recorded with the job (everything runs here)"),
        ("--async", "return at once (the default; accepted for gcloud compatibility)"),
        ("--stream-logs", "follow the job's logs until it ends; exit 0 only when it SUCCEEDED"),
    ] + JobSpec.help

    static let help = HelpPage(
        usage: "trainyard jobs COMMAND",
        summary: "Jobs as a cloud service runs them, on this machine: a detached supervisor runs each job; its record outlives the command.",
        subcommands: [
            .init(words: ["submit", "training"], usage: "trainyard jobs submit training JOB [OPTIONS] -- ARGS",
                  summary: "Submits a training job and returns at once (--stream-logs to follow it).", options: submitOptions),
            .init(words: ["list"], usage: "trainyard jobs list [--filter EXPR] [--sort-by [~]FIELD] [--limit N] [--json]",
                  summary: "Every job, its state and template.",
                  options: [("--filter EXPR", "terms FIELD=VALUE (or FIELD:VALUE, FIELD!=VALUE, NOT …) joined by AND; fields: state, jobId, template, labels.KEY"),
                            ("--sort-by [~]FIELD", "createTime, jobId or state; ~ for descending"), ("--limit N", "at most N jobs"), ("--json", "JSON output")]),
            .init(words: ["describe"], usage: "trainyard jobs describe JOB [--format yaml|json]",
                  summary: "The job as AI Platform's Job resource (jobId, state, times, trainingInput, trainingOutput.consumedMLUnits, labels, errorMessage), and Trainyard's own fields under `trainyard`.",
                  options: [("--format yaml|json", "output format (default yaml, as gcloud prints)"), ("--json", "the same as --format json")]),
            .init(words: ["stream-logs"], usage: "trainyard jobs stream-logs JOB [--task-name TASK] [--polling-interval S]",
                  summary: "Follows every task's log, merged in time order (TIME TASK: line), until the job ends; exit 0 only when it SUCCEEDED.",
                  options: [("--task-name TASK", "only this task's log: chief-0, worker-1, ps-0, or gcloud's master-replica-0, worker-replica-1, ps-replica-0"),
                            ("--polling-interval S", "seconds between reads (default 0.5)"),
                            ("--allow-multiline-logs", "accepted for gcloud compatibility")]),
            .init(words: ["cancel"], usage: "trainyard jobs cancel JOB", summary: "Stops every task; the job ends CANCELLED."),
            .init(words: ["create-template"], usage: "trainyard jobs create-template NAME [OPTIONS] -- ARGS",
                  summary: "Saves a job definition to run many times.",
                  options: [("--service ai-platform|oci", "the shape of its runs: oci shows OCI's job-run states (ACCEPTED, IN_PROGRESS, …); a --config file with OCI's jobConfigurationDetails implies oci")] + JobSpec.help),
            .init(words: ["run"], usage: "trainyard jobs run TEMPLATE [--env K=V]… [--job-name RUN] [--stream-logs] -- ARGS",
                  summary: "Starts a run of a template, with overrides.",
                  options: [("--env K=V", "an environment variable for every task (repeatable)"), ("--job-name RUN", "the run's job name (default TEMPLATE_run_N)"),
                            ("--stream-logs", "follow the run's logs until it ends")]),
            .init(words: ["templates"], usage: "trainyard jobs templates [--json]", summary: "The saved templates.", options: [("--json", "JSON output")]),
        ])

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        guard let sub = args.positional() else { throw UsageError("jobs needs a command: submit, list, describe, stream-logs, cancel, create-template, run or templates (`trainyard jobs --help`)") }
        switch sub {
        case "submit": return try submit(&args)
        case "list": return try list(&args)
        case "describe": return try describe(&args)
        case "stream-logs": return try streamLogs(&args)
        case "cancel": return try cancel(&args)
        case "create-template": return try createTemplate(&args)
        case "run": return try runTemplate(&args)
        case "templates": return try templates(&args)
        default: throw UsageError("unknown jobs command \"\(sub)\" (expected submit, list, describe, stream-logs, cancel, create-template, run or templates)")
        }
    }

    // MARK: submit

    static func spec(_ args: inout Arguments, over base: JobSpec = JobSpec()) throws -> JobSpec {
        var base = base
        if let config = try args.value("--config") {
            let text: String
            do { text = try Files.readText(config) } catch { throw FieldError(source: config, path: "", "cannot read the config file: \(error)") }
            let fromFile = try JobSpec(config: text, source: config)
            base = JobService.merge(base, fromFile)
        }
        return try JobSpec.parse(&args, over: base)
    }

    static func submit(_ args: inout Arguments) throws -> ExitCode {
        // Options first, so that a value (`--job-dir DIR JOB`) is never taken for the job's name.
        let stream = try args.flag("--stream-logs")
        _ = try args.flag("--async")
        let spec = try spec(&args)
        guard args.positional() == "training" else { throw UsageError("usage: trainyard jobs submit training JOB [OPTIONS] -- ARGS") }
        guard let name = args.positional() else { throw UsageError("jobs submit training needs a job name") }
        try args.finish()
        let record = try JobService.submit(name: name, spec: spec, template: nil)
        return try announce(record, stream: stream)
    }

    static func announce(_ record: JobRecord, stream: Bool) throws -> ExitCode {
        if let p = record.package {
            print(p.cacheHit ? "Package \(p.uri) is already staged (same content, sha256 \(p.hash.prefix(12))…): not uploaded again."
                             : "Uploaded package to \(p.uri) (\(p.bytes) bytes, sha256 \(p.hash.prefix(12))…).")
        }
        if let python = record.interpreter { print("Python: \(python)") }
        for note in record.notes { print("Note: \(note)") }
        print("Job [\(record.name)] submitted successfully.")
        if stream { return try follow(record.name, task: nil, interval: 0.2) }
        print("Your job is still active. You may view the status of your job with the command\n\n  $ trainyard jobs describe \(record.name)\n\nor continue streaming the logs with the command\n\n  $ trainyard jobs stream-logs \(record.name)")
        return .success
    }

    // MARK: list, describe

    /// The state a job shows: OCI's names for runs of an OCI-shaped template.
    static func stateName(_ j: JobRecord) -> String {
        j.spec.service.stateName(j.state, supervisorDied: j.errorMessage?.contains("the job's supervisor (pid") == true)
    }

    static func list(_ args: inout Arguments) throws -> ExitCode {
        let json = try args.flag("--json")
        let query = try JobQuery(filter: try args.value("--filter"), sortBy: try args.value("--sort-by"), limit: try args.int("--limit", in: 1...1_000_000))
        try args.finish()
        let jobs = query.apply(JobStore.all(), stateName: stateName)
        if json {
            print(JSONValue.array(jobs.map { summaryJSON($0) }).prettySerialized())
            return .success
        }
        var rows = [["JOB_ID", "STATUS", "CREATED", "TEMPLATE", "CLUSTER"]]
        for j in jobs { rows.append([j.name, stateName(j), ISOTime.format(j.createTime), j.template ?? "–", j.cluster]) }
        print(TextTable.render(rows))
        return .success
    }

    static func summaryJSON(_ j: JobRecord) -> JSONValue {
        let now = MonotonicClock.wallNow()
        let units = j.consumedMLUnits(now: now)
        return .object([("name", .string(j.name)), ("state", .string(stateName(j))), ("create_time", .string(ISOTime.format(j.createTime))),
                        ("start_time", j.startTime.map { .string(ISOTime.format($0)) } ?? .null), ("end_time", j.endTime.map { .string(ISOTime.format($0)) } ?? .null),
                        ("template", j.template.map { JSONValue($0) } ?? .null), ("cluster", .string(j.cluster)),
                        ("consumed_ml_units", units.map { JSONValue($0) } ?? .null),
                        ("consumed_dollars", units.map { JSONValue($0 * j.dollarsPerUnit) } ?? .null),
                        ("error_message", j.errorMessage.map { JSONValue($0) } ?? .null)])
    }

    static func describe(_ args: inout Arguments) throws -> ExitCode {
        var format = try args.flag("--json") ? "json" : "yaml"
        if let f = try args.value("--format") {
            guard f == "json" || f == "yaml" else { throw UsageError("--format must be yaml or json, got \"\(f)\"") }
            format = f
        }
        guard let name = args.positional() else { throw UsageError("jobs describe needs a job name") }
        try args.finish()
        let j = try JobStore.load(name)
        let resource = JobResource.make(j, now: MonotonicClock.wallNow(), metrics: JobStore.reportedMetrics(name), logFolder: JobStore.logFolder(name),
                                        supervisorDied: j.errorMessage?.contains("the job's supervisor (pid") == true)
        print(format == "json" ? resource.prettySerialized() : YAMLWriter.write(resource), terminator: format == "json" ? "\n" : "")
        // The job's picture: on standard error, so the resource on standard output stays parseable.
        if let report = try? Report.write(for: JobStore.folder(name)) { Posix.write("report: \(report)\n", to: 2) }
        return .success
    }

    // MARK: stream-logs

    static func streamLogs(_ args: inout Arguments) throws -> ExitCode {
        let task = try args.value("--task-name")
        let interval = try args.double("--polling-interval", in: 0.01...600) ?? 0.5
        _ = try args.flag("--allow-multiline-logs")
        guard let name = args.positional() else { throw UsageError("jobs stream-logs needs a job name") }
        try args.finish()
        let record = try JobStore.load(name)
        return try follow(name, task: try task.map { try logName(ofTask: $0, record: record) }, interval: interval)
    }

    /// The log a `--task-name` names: Trainyard's `chief-0`, `worker-1`, `ps-0` (or `worker:1`), or
    /// gcloud's replica names `master-replica-0`, `worker-replica-1`, `ps-replica-0`.
    static func logName(ofTask text: String, record: JobRecord) throws -> String {
        let parts = text.split(separator: "-")
        if parts.count == 3, parts[1] == "replica", let i = Int(parts[2]) {
            switch parts[0] {
            case "master": return "\(record.spec.useChiefInTFConfig ? "chief" : "master")-\(i)"
            case "worker": return "worker-\(i)"
            case "ps": return "ps-\(i)"
            default: break
            }
        }
        do { return "\(try TaskID(parsing: text))" } catch {
            throw UsageError("--task-name: \(error) (or gcloud's master-replica-0, worker-replica-N, ps-replica-N)")
        }
    }

    /// Prints the job's log lines until it ends; exit 0 only when it SUCCEEDED.
    static func follow(_ name: String, task: String?, interval: Double) throws -> ExitCode {
        let record = try JobService.follow(name, task: task, interval: interval) { print($0) }
        print("Job [\(name)] \(record.state.rawValue)" + (record.errorMessage.map { ": \($0)" } ?? "."))
        return record.state == .succeeded ? .success : .failure
    }

    // MARK: cancel

    static func cancel(_ args: inout Arguments) throws -> ExitCode {
        guard let name = args.positional() else { throw UsageError("jobs cancel needs a job name") }
        try args.finish()
        if let ended = Optional(try JobStore.load(name)), ended.state.isTerminal {
            print("Job [\(name)] already ended: \(ended.state.rawValue).")
            return .success
        }
        let final = try JobService.cancel(name)
        print("Cancelled job [\(name)]: \(final.state.rawValue).")
        return .success
    }

    // MARK: templates and runs

    static func createTemplate(_ args: inout Arguments) throws -> ExitCode {
        let service = try args.value("--service").map { (t: String) throws(UsageError) -> CloudService in
            guard let s = CloudService(rawValue: t.lowercased()) else { throw UsageError("--service must be ai-platform or oci, got \"\(t)\"") }
            return s
        }
        var spec = try spec(&args)
        guard let name = args.positional() else { throw UsageError("jobs create-template needs a name") }
        if let service { spec.service = service }
        try args.finish()
        try JobService.saveTemplate(name, spec: spec)
        if spec.service == .oci { print("Its runs show OCI's job-run lifecycle states: ACCEPTED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELING, CANCELED, NEEDS_ATTENTION.") }
        print("Template [\(name)] saved. Start a run with\n\n  $ trainyard jobs run \(name) [--env K=V]… [-- ARGS]")
        return .success
    }

    static func runTemplate(_ args: inout Arguments) throws -> ExitCode {
        let stream = try args.flag("--stream-logs")
        let runName = try args.value("--job-name")
        let environment = try args.values("--env")
        guard let template = args.positional() else { throw UsageError("jobs run needs a template name") }
        var spec = try JobService.loadTemplate(template)
        for pair in environment {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw UsageError("--env takes KEY=VALUE, got \"\(pair)\"") }
            spec.environment[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        if !args.passthrough.isEmpty { spec.userArgs = args.passthrough }
        try args.finish()
        var name = runName ?? ""
        if runName == nil {
            var n = 1
            repeat { name = "\(template)_run_\(n)"; n += 1 } while JobStore.exists(name)
        }
        // Runs of one template side by side: each writes under its own job folder.
        let dir = spec.jobDir!.hasSuffix("/") ? String(spec.jobDir!.dropLast()) : spec.jobDir!
        spec.jobDir = dir + "/" + name
        let record = try JobService.submit(name: name, spec: spec, template: template)
        return try announce(record, stream: stream)
    }

    static func templates(_ args: inout Arguments) throws -> ExitCode {
        let json = try args.flag("--json")
        try args.finish()
        let names = JobService.templateNames()
        let runs = JobStore.all()
        if json {
            print(JSONValue.array(try names.map { n in
                .object([("name", .string(n)), ("spec", try JobService.loadTemplate(n).json), ("runs", JSONValue(runs.filter { $0.template == n }.map(\.name)))])
            }).prettySerialized())
        } else {
            var rows = [["TEMPLATE", "PROGRAM", "JOB_DIR", "RUNS"]]
            for n in names {
                let s = try JobService.loadTemplate(n)
                rows.append([n, s.moduleName.map { "python3 -m \($0)" } ?? s.command ?? "trainyard trainer", s.jobDir ?? "–", String(runs.filter { $0.template == n }.count)])
            }
            print(TextTable.render(rows))
        }
        return .success
    }
}

