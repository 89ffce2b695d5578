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
            log("running \(record.cluster) as \(settings.topology)")
            let launcher = try Launcher(settings: settings, plan: plan, program: program, options: options)
            let marker = RunningMarker(name: name, expected: settings.topology.taskCount)
            launcher.monitor = marker
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
