import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard jobs submit training|list|describe|stream-logs|cancel|create-template|run`: jobs as a
/// cloud service runs them, on this machine. A detached supervisor (`trainyard _supervise`) runs
/// each job; its record on disk outlives the command.
enum JobsCommand {
    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        guard let sub = args.positional(), sub != "--help" else {
            print(TrainyardCommand.helpText("trainyard jobs COMMAND", [
                ("submit training JOB [OPTIONS] -- ARGS", "submit a training job (returns at once; --stream-logs to follow it)"),
                ("list [--json]", "every job, its state and template"),
                ("describe JOB [--json]", "state, times, cluster, ML units and dollars consumed so far"),
                ("stream-logs JOB [--task-name chief-0]", "follow the job's logs until it ends"),
                ("cancel JOB", "stop every task; the job ends CANCELLED"),
                ("create-template NAME [OPTIONS] -- ARGS", "save a job definition to run many times"),
                ("run TEMPLATE [--env K=V]… [--job-name RUN] -- ARGS", "start a run of a template, with overrides"),
                ("templates [--json]", "the saved templates"),
            ]) + "\n\nsubmit and create-template options:\n" + TrainyardCommand.helpText("", JobSpec.help).split(separator: "\n").dropFirst(3).joined(separator: "\n"))
            return .success
        }
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
        guard args.positional() == "training" else { throw UsageError("usage: trainyard jobs submit training JOB [OPTIONS] -- ARGS") }
        guard let name = args.positional() else { throw UsageError("jobs submit training needs a job name") }
        let stream = try args.flag("--stream-logs")
        _ = try args.flag("--async")
        let spec = try spec(&args)
        try args.finish()
        let record = try JobService.submit(name: name, spec: spec, template: nil)
        return try announce(record, stream: stream)
    }

    static func announce(_ record: JobRecord, stream: Bool) throws -> ExitCode {
        if let p = record.package {
            print(p.cacheHit ? "Package \(p.uri) is already staged (same content, sha256 \(p.hash.prefix(12))…): not uploaded again."
                             : "Uploaded package to \(p.uri) (\(p.bytes) bytes, sha256 \(p.hash.prefix(12))…).")
        }
        print("Job [\(record.name)] submitted successfully.")
        if stream { return try follow(record.name, task: nil, interval: 0.2) }
        print("Your job is still active. You may view the status of your job with the command\n\n  $ trainyard jobs describe \(record.name)\n\nor continue streaming the logs with the command\n\n  $ trainyard jobs stream-logs \(record.name)")
        return .success
    }

    // MARK: list, describe

    static func list(_ args: inout Arguments) throws -> ExitCode {
        let json = try args.flag("--json")
        try args.finish()
        let jobs = JobStore.all()
        if json {
            print(JSONValue.array(jobs.map { summaryJSON($0) }).prettySerialized())
            return .success
        }
        var rows = [["JOB_ID", "STATUS", "CREATED", "TEMPLATE", "CLUSTER"]]
        for j in jobs { rows.append([j.name, j.state.rawValue, ISOTime.format(j.createTime), j.template ?? "–", j.cluster]) }
        print(TextTable.render(rows))
        return .success
    }

    static func summaryJSON(_ j: JobRecord) -> JSONValue {
        let now = MonotonicClock.wallNow()
        let units = j.consumedMLUnits(now: now)
        return .object([("name", .string(j.name)), ("state", .string(j.state.rawValue)), ("create_time", .string(ISOTime.format(j.createTime))),
                        ("start_time", j.startTime.map { .string(ISOTime.format($0)) } ?? .null), ("end_time", j.endTime.map { .string(ISOTime.format($0)) } ?? .null),
                        ("template", j.template.map { JSONValue($0) } ?? .null), ("cluster", .string(j.cluster)),
                        ("consumed_ml_units", units.map { JSONValue($0) } ?? .null),
                        ("consumed_dollars", units.map { JSONValue($0 * j.dollarsPerUnit) } ?? .null),
                        ("error_message", j.errorMessage.map { JSONValue($0) } ?? .null)])
    }

    static func describe(_ args: inout Arguments) throws -> ExitCode {
        let json = try args.flag("--json")
        guard let name = args.positional() else { throw UsageError("jobs describe needs a job name") }
        try args.finish()
        let j = try JobStore.load(name)
        let now = MonotonicClock.wallNow()
        if json {
            var fields = summaryJSON(j).objectValue!
            fields.append(("history", j.json["history"]!))
            fields.append(("job_directory", .string(j.jobDirectory)))
            fields.append(("package", j.json["package"] ?? .null))
            fields.append(("spec", j.spec.json))
            fields.append(("logs", .string(JobStore.logFolder(name))))
            print(JSONValue.object(fields).prettySerialized())
            return .success
        }
        var lines = ["jobId: \(j.name)", "state: \(j.state.rawValue)", "createTime: \(ISOTime.format(j.createTime))"]
        if let s = j.startTime { lines.append("startTime: \(ISOTime.format(s))") }
        if let e = j.endTime { lines.append("endTime: \(ISOTime.format(e))") }
        if let e = j.errorMessage { lines.append("errorMessage: \(e)") }
        if let t = j.template { lines.append("template: \(t)") }
        lines.append("trainingInput:")
        lines.append("  cluster: \(j.cluster)")
        lines.append("  jobDir: \(j.spec.jobDir ?? "–") (here: \(j.jobDirectory))")
        if let m = j.spec.moduleName { lines.append("  pythonModule: \(m)") }
        if let c = j.spec.command { lines.append("  command: \(c)") }
        if j.spec.builtIn { lines.append("  program: Trainyard's trainer") }
        if let p = j.package { lines.append("  package: \(p.uri)\(p.cacheHit ? " (reused: already staged)" : "")") }
        lines.append("  args: \(j.spec.userArgs)")
        lines.append("trainingOutput:")
        if let units = j.consumedMLUnits(now: now) {
            lines.append(String(format: "  consumedMLUnits: %.6f (%.4f/h for %.1f s running)", units, j.mlUnitsPerHour ?? 0, j.runningHours(now: now) * 3600))
            lines.append(String(format: "  cost: $%.6f at $%.2f per ML unit (before the 10-minute billing minimum)", units * j.dollarsPerUnit, j.dollarsPerUnit))
        } else {
            lines.append("  consumedMLUnits: unknown (a machine type without a price)")
        }
        lines.append("logs: \(JobStore.logFolder(name)) — trainyard jobs stream-logs \(name)")
        print(lines.joined(separator: "\n"))
        return .success
    }

    // MARK: stream-logs

    static func streamLogs(_ args: inout Arguments) throws -> ExitCode {
        let task = try args.value("--task-name")
        let interval = try args.double("--polling-interval", in: 0.01...600) ?? 0.5
        _ = try args.flag("--allow-multiline-logs")
        guard let name = args.positional() else { throw UsageError("jobs stream-logs needs a job name") }
        try args.finish()
        _ = try JobStore.load(name)
        if let task { _ = try TaskID(parsing: task) }
        return try follow(name, task: task.map { $0.replacingOccurrences(of: ":", with: "-") }, interval: interval)
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
        guard let name = args.positional() else { throw UsageError("jobs create-template needs a name") }
        let spec = try spec(&args)
        try args.finish()
        try JobService.saveTemplate(name, spec: spec)
        print("Template [\(name)] saved. Start a run with\n\n  $ trainyard jobs run \(name) [--env K=V]… [-- ARGS]")
        return .success
    }

    static func runTemplate(_ args: inout Arguments) throws -> ExitCode {
        guard let template = args.positional() else { throw UsageError("jobs run needs a template name") }
        let stream = try args.flag("--stream-logs")
        let runName = try args.value("--job-name")
        var spec = try JobService.loadTemplate(template)
        for pair in try args.values("--env") {
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

