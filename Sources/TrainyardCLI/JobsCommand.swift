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
            base = merge(base, fromFile)
        }
        return try JobSpec.parse(&args, over: base)
    }

    /// `over` wins where it says something.
    static func merge(_ base: JobSpec, _ over: JobSpec) -> JobSpec {
        var s = base
        if over.scaleTier != nil { s.scaleTier = over.scaleTier }
        if !over.custom.isEmpty { s.custom = over.custom }
        if over.jobDir != nil { s.jobDir = over.jobDir }
        if over.moduleName != nil { s.moduleName = over.moduleName; s.command = nil }
        if !over.userArgs.isEmpty { s.userArgs = over.userArgs }
        if over.region != nil { s.region = over.region }
        if !over.useChiefInTFConfig { s.useChiefInTFConfig = false }
        return s
    }

    static func submit(_ args: inout Arguments) throws -> ExitCode {
        guard args.positional() == "training" else { throw UsageError("usage: trainyard jobs submit training JOB [OPTIONS] -- ARGS") }
        guard let name = args.positional() else { throw UsageError("jobs submit training needs a job name") }
        let stream = try args.flag("--stream-logs")
        _ = try args.flag("--async")
        let spec = try spec(&args)
        try args.finish()
        let record = try submitJob(name: name, spec: spec, template: nil)
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

    /// Validates, stages the package, writes the record (QUEUED) and starts the supervisor.
    static func submitJob(name: String, spec: JobSpec, template: String?) throws -> JobRecord {
        try JobStore.validate(name: name)
        try spec.validate()
        guard !JobStore.exists(name) else { throw UsageError("a job named \(name) already exists") }
        let catalog = try Catalog.load()
        let plan = try clusterPlan(spec, catalog: catalog)
        let jobDirectory = try Home.localPath(spec.jobDir!)
        try Files.createDirectory(jobDirectory)
        let cluster = plan.map { "\($0.tierName): \($0)" } ?? "\(topology(spec, plan: nil))"
        var record = JobRecord(name: name, spec: spec, createdAt: MonotonicClock.wallNow(), jobDirectory: jobDirectory,
                               cluster: cluster, mlUnitsPerHour: plan?.mlUnitsPerHour,
                               dollarsPerUnit: plan?.master.priceList.flatMap { catalog.priceLists[$0]?.dollarsPerUnit } ?? 0.49, template: template)
        if let path = spec.packagePath { record.package = try stage(path, name: name, spec: spec) }
        try JobStore.create(record)
        let executable = Executables.current
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINYARD_HOME"] = Home.path
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: executable, arguments: ["_supervise", name], environment: environment,
                                                        outputPath: JobStore.folder(name) + "/supervisor.log", grouping: .newSession))
        return try JobStore.update(name) { $0.supervisorPID = pid }
    }

    /// The cluster's tier plan; nil for a job given by plain counts (`--workers`, `--ps`).
    static func clusterPlan(_ spec: JobSpec, catalog: TierCatalog) throws -> ClusterPlan? {
        if spec.scaleTier == nil && (spec.workers != nil || spec.parameterServers != nil) { return nil }
        var launch = LaunchSettings()
        launch.scaleTier = spec.scaleTier ?? "BASIC"
        launch.custom = spec.custom
        let plan = try Catalog.plan(for: launch, catalog: catalog)!
        if spec.builtIn && plan.processWorkers > 0 && plan.parameterServerCount == 0 {
            throw UsageError("Trainyard's trainer needs parameter servers when there are workers: add --parameter-server-count and --parameter-server-machine-type")
        }
        return plan
    }

    /// Packages `path` and uploads it unless the same content is already staged.
    static func stage(_ path: String, name: String, spec: JobSpec) throws -> JobRecord.PackageInfo {
        let package = try Packager.scan(path)
        let file = package.name + ".tar.gz"
        let target: String = spec.stagingBucket.map { "\($0.hasSuffix("/") ? String($0.dropLast()) : $0)/\(name)/\(package.hash)/\(file)" }
            ?? "\(spec.jobDir!.hasSuffix("/") ? String(spec.jobDir!.dropLast()) : spec.jobDir!)/packages/\(package.hash)/\(file)"
        // The cache: where each content hash was staged before.
        let cachePath = Home.path + "/package-cache.json"
        var cache: [(String, JSONValue)] = (try? JSONParser.parse(Files.readText(cachePath)))?.objectValue ?? []
        if let known = cache.first(where: { $0.0 == package.hash })?.1.stringValue, let local = try? Home.localPath(known), Files.exists(local) {
            return JobRecord.PackageInfo(uri: known, hash: package.hash, cacheHit: true, bytes: Files.size(local) ?? 0)
        }
        let local = try Home.localPath(target)
        try Packager.archive(package, from: path, to: local)
        cache.removeAll { $0.0 == package.hash }
        cache.append((package.hash, .string(target)))
        try Files.createDirectory(Home.path)
        try Files.writeAtomically(JSONValue.object(cache).prettySerialized() + "\n", to: cachePath)
        return JobRecord.PackageInfo(uri: target, hash: package.hash, cacheHit: false, bytes: Files.size(local) ?? 0)
    }

    /// The processes a job runs: the tier's, or the plain counts.
    static func topology(_ spec: JobSpec, plan: ClusterPlan?) -> Topology {
        var t = plan?.topology ?? Topology(workers: spec.workers ?? 0, parameterServers: spec.parameterServers ?? (spec.workers ?? 0 > 0 ? 1 : 0))
        t.useMasterName = !spec.useChiefInTFConfig
        return t
    }

    // MARK: list, describe

    static func iso(_ t: Double?) -> String {
        guard let t else { return "–" }
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    static func list(_ args: inout Arguments) throws -> ExitCode {
        let json = try args.flag("--json")
        try args.finish()
        let jobs = JobStore.all()
        if json {
            print(JSONValue.array(jobs.map { summaryJSON($0) }).prettySerialized())
            return .success
        }
        var rows = [["JOB_ID", "STATUS", "CREATED", "TEMPLATE", "CLUSTER"]]
        for j in jobs { rows.append([j.name, j.state.rawValue, iso(j.createTime), j.template ?? "–", j.cluster]) }
        print(TextTable.render(rows))
        return .success
    }

    static func summaryJSON(_ j: JobRecord) -> JSONValue {
        let now = MonotonicClock.wallNow()
        let units = j.consumedMLUnits(now: now)
        return .object([("name", .string(j.name)), ("state", .string(j.state.rawValue)), ("create_time", .string(iso(j.createTime))),
                        ("start_time", j.startTime.map { .string(iso($0)) } ?? .null), ("end_time", j.endTime.map { .string(iso($0)) } ?? .null),
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
        var lines = ["jobId: \(j.name)", "state: \(j.state.rawValue)", "createTime: \(iso(j.createTime))"]
        if let s = j.startTime { lines.append("startTime: \(iso(s))") }
        if let e = j.endTime { lines.append("endTime: \(iso(e))") }
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

    /// Prints new log lines (prefixed with the task) until the job has ended and the logs are read.
    static func follow(_ name: String, task: String?, interval: Double) throws -> ExitCode {
        var offsets: [String: Int] = [:]
        var partial: [String: String] = [:]
        while true {
            let record = try JobStore.load(name)
            let folder = JobStore.logFolder(name)
            for file in Files.list(folder) where file.hasSuffix(".log") {
                let t = String(file.dropLast(4))
                if let task, t != task { continue }
                let (bytes, next) = Files.readFrom(folder + "/" + file, offset: offsets[t] ?? 0)
                offsets[t] = next
                guard !bytes.isEmpty else { continue }
                var lines = ((partial[t] ?? "") + String(decoding: bytes, as: UTF8.self)).split(separator: "\n", omittingEmptySubsequences: false)
                partial[t] = String(lines.removeLast())
                for line in lines { print("\(t): \(line)") }
            }
            if record.state.isTerminal {
                for (t, rest) in partial where !rest.isEmpty { print("\(t): \(rest)") }
                print("Job [\(name)] \(record.state.rawValue)" + (record.errorMessage.map { ": \($0)" } ?? "."))
                return record.state == .succeeded ? .success : .failure
            }
            if let pid = record.supervisorPID, !Posix.processExists(pid) {
                // The supervisor died without finishing the record: say so rather than wait forever.
                _ = try? JobStore.update(name) { r in
                    if !r.state.isTerminal { try r.transition(to: r.state == .cancelling ? .cancelled : .failed, at: MonotonicClock.wallNow(), error: "the job's supervisor (pid \(pid)) died") }
                }
                continue
            }
            MonotonicClock.sleep(seconds: interval)
        }
    }

    // MARK: cancel

    static func cancel(_ args: inout Arguments) throws -> ExitCode {
        guard let name = args.positional() else { throw UsageError("jobs cancel needs a job name") }
        try args.finish()
        var record = try JobStore.load(name)
        if record.state.isTerminal {
            print("Job [\(name)] already ended: \(record.state.rawValue).")
            return .success
        }
        record = try JobStore.update(name) { r in if r.state != .cancelling { try r.transition(to: .cancelling, at: MonotonicClock.wallNow()) } }
        if let pid = record.supervisorPID, Posix.processExists(pid) {
            Posix.kill(pid, Signals.terminate)
            let deadline = Deadline.after(seconds: 20)
            while !deadline.hasPassed, (try? JobStore.load(name))?.state.isTerminal != true { MonotonicClock.sleep(seconds: 0.1) }
            if (try? JobStore.load(name))?.state.isTerminal != true { Posix.kill(pid, Signals.kill) }
        }
        // Whatever happened to the supervisor, nothing of the job may keep running.
        for marker in [record.jobDirectory, JobStore.folder(name)] {
            for pid in ProcessTable.processes(mentioning: marker) { Posix.kill(pid, Signals.kill) }
        }
        let final = try JobStore.update(name) { r in if !r.state.isTerminal { try r.transition(to: .cancelled, at: MonotonicClock.wallNow()) } }
        print("Cancelled job [\(name)]: \(final.state.rawValue).")
        return .success
    }

    // MARK: templates and runs

    static var templateFolder: String { Home.path + "/templates" }

    static func createTemplate(_ args: inout Arguments) throws -> ExitCode {
        guard let name = args.positional() else { throw UsageError("jobs create-template needs a name") }
        let spec = try spec(&args)
        try args.finish()
        try JobStore.validate(name: name)
        try spec.validate()
        _ = try clusterPlan(spec, catalog: try Catalog.load())
        try Files.createDirectory(templateFolder)
        try Files.writeAtomically(spec.json.prettySerialized() + "\n", to: templateFolder + "/\(name).json")
        print("Template [\(name)] saved. Start a run with\n\n  $ trainyard jobs run \(name) [--env K=V]… [-- ARGS]")
        return .success
    }

    static func loadTemplate(_ name: String) throws -> JobSpec {
        let path = templateFolder + "/\(name).json"
        guard let text = try? Files.readText(path) else { throw UsageError("no template named \(name) (`trainyard jobs templates` lists them)") }
        return try JobSpec(json: try JSONField.parse(text, source: path))
    }

    static func runTemplate(_ args: inout Arguments) throws -> ExitCode {
        guard let template = args.positional() else { throw UsageError("jobs run needs a template name") }
        let stream = try args.flag("--stream-logs")
        let runName = try args.value("--job-name")
        var spec = try loadTemplate(template)
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
        let record = try submitJob(name: name, spec: spec, template: template)
        return try announce(record, stream: stream)
    }

    static func templates(_ args: inout Arguments) throws -> ExitCode {
        let json = try args.flag("--json")
        try args.finish()
        let names = Files.list(templateFolder).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        let runs = JobStore.all()
        if json {
            print(JSONValue.array(try names.map { n in
                .object([("name", .string(n)), ("spec", try loadTemplate(n).json), ("runs", JSONValue(runs.filter { $0.template == n }.map(\.name)))])
            }).prettySerialized())
        } else {
            var rows = [["TEMPLATE", "PROGRAM", "JOB_DIR", "RUNS"]]
            for n in names {
                let s = try loadTemplate(n)
                rows.append([n, s.moduleName.map { "python3 -m \($0)" } ?? s.command ?? "trainyard trainer", s.jobDir ?? "–", String(runs.filter { $0.template == n }.count)])
            }
            print(TextTable.render(rows))
        }
        return .success
    }
}

/// `trainyard _supervise JOB`: the detached process that runs one submitted job and keeps its
/// record's state true.
enum JobSupervisor {
    final class RunningMarker: LauncherObserver {
        let name: String
        var started = Set<TaskID>()
        let expected: Int
        init(name: String, expected: Int) {
            self.name = name
            self.expected = expected
        }
        func tick(_ launcher: Launcher, now: Double) {}
        func taskExited(_ launcher: Launcher, task: TaskID, termination: Termination, now: Double) {}
        func taskStarted(_ launcher: Launcher, task: TaskID, restart: Bool, now: Double) {
            started.insert(task)
            if started.count == expected {
                _ = try? JobStore.update(name) { r in if r.state == .preparing { try r.transition(to: .running, at: MonotonicClock.wallNow()) } }
            }
        }
    }

    static func run(_ argv: [String]) throws -> ExitCode {
        guard let name = argv.first else { throw UsageError("_supervise needs a job name") }
        let log = { (s: String) in Posix.write("[\(JobsCommand.iso(MonotonicClock.wallNow()))] \(s)\n", to: 1) }
        var record = try JobStore.update(name) { r in
            r.supervisorPID = Posix.getpid()
            if r.state == .queued { try r.transition(to: .preparing, at: MonotonicClock.wallNow()) }
        }
        guard record.state == .preparing else {
            log("the job is \(record.state.rawValue): nothing to run")
            return .success
        }
        do {
            let spec = record.spec
            let catalog = try Catalog.load()
            let plan = try JobsCommand.clusterPlan(spec, catalog: catalog)
            var settings = LaunchSettings()
            settings.topology = JobsCommand.topology(spec, plan: plan)
            settings.jobDirectory = record.jobDirectory
            settings.restartPolicy = spec.restartPolicy
            settings.backoffLimit = spec.backoffLimit
            var options = Launcher.Options()
            options.showProgress = false
            options.logDirectory = JobStore.logFolder(name)
            var program = TaskProgram.builtIn
            options.controlDirectory = JobStore.folder(name)
            options.trial = spec.trial
            if spec.builtIn {
                var a = Arguments(spec.userArgs)
                settings.training = try TrainSettings.parse(&a)
                try a.finish()
                try settings.training.validate()
            } else {
                options.drainSeconds = 2
                var folders: [TaskID: String] = [:]
                for task in settings.topology.tasks {
                    let folder = JobStore.folder(name) + "/tasks/\(task)"
                    Files.remove(folder)
                    try Files.createDirectory(folder)
                    if let p = record.package {
                        // Each task downloads and unpacks the package, as the cloud does.
                        let local = try Home.localPath(p.uri)
                        let copy = folder + "/" + (local as NSString).lastPathComponent
                        try Files.writeAtomically(try Files.read(local), to: copy, durable: false)
                        try Packager.extract(copy, into: folder)
                        Files.remove(copy)
                    }
                    folders[task] = folder
                }
                let argv = spec.moduleName.map { ["python3", "-m", $0] } ?? ["/bin/sh", "-c", spec.command! + " \"$@\"", "sh"]
                var environment = spec.environment
                // A trainer reports metrics by appending JSON lines here (or printing `trainyard-metric` lines).
                environment["TRAINYARD_METRICS_FILE"] = JobStore.folder(name) + "/reported-metrics.jsonl"
                program = .external(ExternalProgram(argv: argv, jobDir: record.jobDirectory, userArgs: spec.userArgs, workingDirectories: folders,
                                                    environment: environment, job: spec.trainingInput(jobDirectory: record.jobDirectory)))
            }
            if spec.builtIn && settings.topology.workers > 0 && settings.topology.parameterServers == 0 {
                throw UsageError("Trainyard's trainer needs parameter servers when there are workers (--ps N)")
            }
            log("running \(record.cluster) as \(settings.topology)")
            let launcher = try Launcher(settings: settings, plan: plan, program: program, options: options)
            let marker = RunningMarker(name: name, expected: settings.topology.taskCount)
            launcher.observer = marker
            let summary = try launcher.run()
            log("job ended: \(summary.outcome.status.rawValue): \(summary.outcome.reason)")
            record = try JobStore.update(name) { r in
                guard !r.state.isTerminal else { return }
                let now = MonotonicClock.wallNow()
                if r.state == .cancelling || summary.outcome.status == .cancelled {
                    if r.state != .cancelling { try r.transition(to: .cancelling, at: now) }
                    try r.transition(to: .cancelled, at: now)
                } else {
                    if r.state == .preparing { try r.transition(to: .running, at: now) }
                    if summary.outcome.status == .succeeded { try r.transition(to: .succeeded, at: now) } else { try r.transition(to: .failed, at: now, error: summary.outcome.reason) }
                }
            }
        } catch {
            log("error: \(error)")
            record = try JobStore.update(name) { r in
                guard !r.state.isTerminal else { return }
                let now = MonotonicClock.wallNow()
                if r.state == .cancelling { try r.transition(to: .cancelled, at: now) } else { try r.transition(to: .failed, at: now, error: "\(error)") }
            }
        }
        return record.state == .succeeded ? .success : .failure
    }
}
