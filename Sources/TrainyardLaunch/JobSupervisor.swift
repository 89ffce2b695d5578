import Foundation
import TrainyardCore
import TrainyardPlatform

/// `trainyard _supervise JOB`: the detached process that runs one submitted job and keeps its
/// record's state true.
public enum JobSupervisor {
    /// Marks the job's record RUNNING once every task has started.
    final class RunningMarker: LaunchMonitor {
        let name: String
        var started = Set<TaskID>()
        let expected: Int
        init(name: String, expected: Int) {
            self.name = name
            self.expected = expected
        }
        func handle(_ event: LaunchEvent, _ view: LaunchView) -> [LaunchAction] {
            guard case .taskStarted(let task, _, _) = event else { return [] }
            started.insert(task)
            if started.count == expected {
                _ = try? JobStore.update(name) { r in if r.state == .preparing { try r.transition(to: .running, at: MonotonicClock.wallNow()) } }
            }
            return []
        }
    }

    /// Installs the job's `--packages` offline into its own folder (`jobs/JOB/python-packages`):
    /// `python -m pip install --no-index --no-deps --target DIR FILES…`. Returns the folder, for
    /// PYTHONPATH.
    ///
    /// - Throws: `RuntimeFailure` with pip's exit and the log to read when the install fails.
    static func installPackages(_ record: JobRecord, python: String, log: (String) -> Void) throws -> String {
        let target = JobStore.folder(record.name) + "/python-packages"
        Files.remove(target)
        try Files.createDirectory(target)
        let files = try record.stagedPackages.map { try Home.localPath($0) }
        let arguments = ["-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check", "--no-input", "--target", target] + files
        log("installing --packages: \(python) \(arguments.joined(separator: " "))")
        let output = JobStore.folder(record.name) + "/pip-install.log"
        let executable = python.contains("/") ? python : (Shim.findInPath(python) ?? python)
        var environment = ProcessInfo.processInfo.environment
        environment["PIP_NO_INDEX"] = "1"
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: executable, arguments: arguments, environment: environment, outputPath: output))
        guard let end = ProcessSpawner.wait(pid, timeout: 300) else {
            ProcessSpawner.signalGroup(pid, Signals.kill)
            _ = ProcessSpawner.wait(pid, timeout: 5)
            throw RuntimeFailure("installing --packages took over 300 s (see \(output))", exitCode: .systemError)
        }
        guard end.succeeded else {
            let tail = String(decoding: ((try? Files.read(output)) ?? []).suffix(600), as: UTF8.self)
            throw RuntimeFailure("installing --packages failed (pip: \(end)): \(tail.split(separator: "\n").last ?? "") (see \(output))", exitCode: .invalidInput)
        }
        return target
    }

    public static func run(_ argv: [String]) throws -> ExitCode {
        guard let name = argv.first else { throw UsageError("_supervise needs a job name") }
        let log = { (s: String) in Posix.write("[\(ISOTime.format(MonotonicClock.wallNow()))] \(s)\n", to: 1) }
        let pid = Posix.getpid()
        let ticks = ProcessTable.startTicks(of: pid)
        var record = try JobStore.update(name) { r in
            r.supervisorPID = pid
            r.supervisorStartTicks = ticks
            if r.state == .queued { try r.transition(to: .preparing, at: MonotonicClock.wallNow()) }
        }
        guard record.state == .preparing else {
            log("the job is \(record.state.rawValue): nothing to run")
            return .success
        }
        // From here on the record names this process: readers judge it alive by its heartbeat's
        // process and, once it is gone, end the job at its last beat (JobStore.load).
        JobStore.startHeartbeat(name)
        // The unpacked task folders are scratch space: a cancelled or failed job leaves none behind,
        // nor a job folder in a bucket that it never wrote to.
        defer {
            if (try? JobStore.load(name))?.state != .succeeded { JobService.removeScratch(of: record) }
        }
        do {
            let spec = record.spec
            let catalog = try Catalog.load()
            let plan = try JobService.clusterPlan(spec, catalog: catalog)
            // The checks `jobs submit` made, again: the catalog or the machine may have changed since.
            var settings = try JobService.preflight(spec, plan: plan, availableMemoryBytes: MachineLimits.availableMemoryBytes(),
                                                    descriptorLimit: try MachineLimits.descriptorLimit())
            settings.jobDirectory = record.jobDirectory
            var options = Launcher.Options()
            options.showProgress = false
            options.logDirectory = JobStore.logFolder(name)
            var program = TaskProgram.builtIn
            options.controlDirectory = JobStore.folder(name)
            options.trial = spec.trial
            if !spec.builtIn {
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
                        // Azure ML's `code`: the package's folder is where the command runs.
                        folders[task] = spec.packageIsWorkingDirectory ? folder + "/" + Packager.packageName(ofArchive: local) : folder
                    } else {
                        folders[task] = folder
                    }
                }
                let python = record.interpreter ?? "python3"
                let argv = spec.moduleName.map { [python, "-m", $0] } ?? ["/bin/sh", "-c", spec.command! + " \"$@\"", "sh"]
                var environment = spec.environment
                // What submit said about how the job runs here, at the top of the chief's log.
                try Files.createDirectory(options.logDirectory!)
                for task in settings.topology.tasks.prefix(1) {
                    for note in record.notes { try Files.appendLine(LogStamp.prefix(MonotonicClock.wallNow()) + "trainyard: " + note, to: options.logDirectory! + "/\(task).log") }
                }
                for note in record.notes { log(note) }
                if !record.stagedPackages.isEmpty {
                    let target = try installPackages(record, python: python, log: log)
                    let inherited = environment["PYTHONPATH"] ?? ProcessInfo.processInfo.environment["PYTHONPATH"]
                    environment["PYTHONPATH"] = target + (inherited.map { ":" + $0 } ?? "")
                }
                // A trainer reports metrics by appending JSON lines here (or printing `trainyard-metric` lines).
                environment["TRAINYARD_METRICS_FILE"] = JobStore.metricsFile(name)
                var external = ExternalProgram(argv: argv, jobDir: record.jobDirectory, userArgs: spec.userArgs, workingDirectories: folders,
                                               environment: environment, job: spec.trainingInput(jobDirectory: record.jobDirectory))
                external.passesJobDir = spec.passesJobDir
                program = .external(external)
            }
            log("running \(record.cluster) as \(settings.topology)")
            let launcher = try Launcher(settings: settings, plan: plan, program: program, options: options)
            let marker = RunningMarker(name: name, expected: settings.topology.taskCount)
            launcher.monitor = marker
            let summary = try launcher.run()
            log("job ended: \(summary.outcome.status.rawValue): \(summary.outcome.reason)")
            // What the program reported, kept with the job's summary.
            if let metrics = JobStore.reportedMetrics(name) {
                let path = JobStore.folder(name) + "/summary.json"
                if var fields = (try? JSONParser.parse(Files.readText(path)))?.objectValue {
                    fields.removeAll { $0.0 == "reported_metrics" }
                    fields.append(("reported_metrics", metrics.json))
                    try? Files.writeAtomically(JSONValue.object(fields).prettySerialized() + "\n", to: path)
                }
            }
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
