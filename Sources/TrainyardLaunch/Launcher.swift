import Foundation
import TrainyardCore
import TrainyardPlatform


/// What each task runs.
public enum TaskProgram: Sendable {
    /// Trainyard's own roles (`trainyard-chief`, `trainyard-worker`, `trainyard-ps`).
    case builtIn
    /// A user's program, the same in every task, as a cloud service runs it: TF_CONFIG with `job`
    /// and `"environment": "cloud"`, `--job-dir` then the user's arguments, in the task's own working
    /// folder. It is started through `trainyard _shim`, which takes it down if the launcher dies.
    case external(ExternalProgram)
}

public struct ExternalProgram: Sendable {
    public var argv: [String]
    /// The job folder as the program sees it (passed as `--job-dir`).
    public var jobDir: String
    public var userArgs: [String]
    public var workingDirectories: [TaskID: String]
    public var environment: [String: String]
    /// TF_CONFIG's `job` (the TrainingInput).
    public var job: JSONValue
    /// Whether `--job-dir DIR` goes before the user's arguments (AI Platform's convention).
    public var passesJobDir = true
    public init(argv: [String], jobDir: String, userArgs: [String], workingDirectories: [TaskID: String], environment: [String: String], job: JSONValue) {
        self.argv = argv
        self.jobDir = jobDir
        self.userArgs = userArgs
        self.workingDirectories = workingDirectories
        self.environment = environment
        self.job = job
    }
}

/// Runs one job in the foreground: binds every task's port, spawns the role processes with their
/// TF_CONFIG, supervises them (`SupervisorMachine` decides), shows progress, and writes the
/// summary. Whatever happens, no child outlives `run()`: every exit path stops and reaps them.
public final class Launcher {
    public struct Options: Sendable {
        public var showProgress = true
        public var drainSeconds = 10.0
        /// Seconds between SIGTERM and SIGKILL when stopping tasks.
        public var killGrace = 5.0
        /// Where each task's log goes; nil = `<job-dir>/logs`.
        public var logDirectory: String?
        /// Where the launcher's own files go (`summary.json`, `faults/`); nil = the job folder.
        /// A user program's job folder is its own: jobs keep these beside their record instead.
        public var controlDirectory: String?
        /// Fault files written before any task starts (a scenario's step holds).
        public var initialFaults: [TaskID: TaskFaults] = [:]
        /// The hyperparameter-tuning trial, for TF_CONFIG's `task.trial`.
        public var trial: String?
        public init() {}
    }

    public let settings: LaunchSettings
    /// The scale tier's cluster, when the job runs one: sets each task's emulated bandwidth.
    public let plan: ClusterPlan?
    /// Each task's egress cap in bytes per second (bandwidth emulation), if any.
    public let bandwidths: [TaskID: Double]
    public let jobDirectory: String
    public let options: Options
    public let program: TaskProgram
    public let token: String
    private var listeners: [TaskID: Socket] = [:]
    /// Each task's Unix-domain twin of its listener (the same-host fast path), and their names' prefix.
    private var localListeners: [TaskID: Socket] = [:]
    private var localSocketPrefix: String?
    public private(set) var cluster = ClusterSpec()
    private var pids: [TaskID: Int32] = [:]
    private var machine: SupervisorMachine
    private var pendingRestarts: [(task: TaskID, at: Double)] = []
    private var stopping: (since: Double, grace: Double, termSent: Bool)?
    private let progress: ProgressDisplay
    /// Where this run's records begin in `metrics.jsonl`: a job folder trained in before keeps its
    /// earlier records, which this run's summary and progress must not count.
    private let metricsOffset: Int
    public let started = MonotonicClock.now()
    /// CPU and memory of the running tasks, into `resources.jsonl` beside `summary.json` (the job
    /// folder, or a submitted job's record folder: a user program's job dir is its own).
    private lazy var resources = ResourceSampler(jobDirectory: controlDirectory, started: started)
    /// Watches the job and asks for signals, fault files or a cancel (`LaunchMonitor`).
    public var monitor: (any LaunchMonitor)?
    private var pendingCancel: String?
    /// The largest resident set each task's processes reached, in bytes (from wait4's rusage).
    public private(set) var peakRSS: [TaskID: Int] = [:]

    /// Starts, reaps and signals the tasks' processes.
    private let processes: any ProcessControl

    public init(settings: LaunchSettings, plan: ClusterPlan? = nil, program: TaskProgram = .builtIn, options: Options = Options(),
                processes: any ProcessControl = SystemProcesses()) throws {
        self.processes = processes
        self.settings = settings
        self.plan = plan
        self.program = program
        self.options = options
        var bandwidths: [TaskID: Double] = [:]
        if let plan, settings.emulateBandwidth {
            let scale = settings.bandwidthScale ?? Catalog.defaultBandwidthScale(plan)
            for task in settings.topology.tasks {
                if let m = plan.machineType(of: task), m.networkGbps > 0 { bandwidths[task] = m.bytesPerSecond * scale }
            }
        }
        self.bandwidths = bandwidths
        jobDirectory = Files.absolute(settings.jobDirectory ?? Launcher.newJobDirectoryName())
        token = Launcher.makeToken()
        let topology = settings.topology
        machine = SupervisorMachine(tasks: topology.tasks, chief: topology.tasks.first { $0.type.isChief },
                                    policy: { settings.policy(for: $0) }, backoffLimit: settings.backoffLimit,
                                    drainSeconds: options.drainSeconds)
        metricsOffset = MetricsLog(jobDirectory: jobDirectory).size
        progress = ProgressDisplay(jobDirectory: jobDirectory, maxSteps: settings.training.maxSteps, enabled: options.showProgress, offset: metricsOffset)
    }

    deinit { killEverything() }

    public static func newJobDirectoryName() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        return "trainyard-jobs/\(f.string(from: Date()))-\(String(UInt16.random(in: 0...UInt16.max), radix: 16))"
    }

    static func rate(_ bytesPerSecond: Double) -> String {
        bytesPerSecond >= 1e6 ? String(format: "%.1f MB/s", bytesPerSecond / 1e6) : String(format: "%.0f KB/s", bytesPerSecond / 1e3)
    }

    public static func makeToken() -> String {
        (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
    }

    /// The executable of `type`'s role; fails for a type Trainyard has no role for.
    public func executable(for type: TaskType) throws -> String {
        guard let path = Executables.role(type) else {
            throw RuntimeFailure("Trainyard has no \(type) role: its trainer runs chief, worker and ps tasks", exitCode: .invalidInput)
        }
        return path
    }

    /// Runs the job to its end and returns the summary (also written to `summary.json`).
    public func run() throws -> JobSummary {
        defer { killEverything() }
        if case .builtIn = program {
            // What can be known before any process starts: the model and data against this
            // machine's memory, the topology against the descriptor limit, every count's bound.
            try ResourceCheck.check(settings, availableMemoryBytes: MachineLimits.availableMemoryBytes(),
                                    descriptorLimit: (try? MachineLimits.descriptorLimit()) ?? Int.max)
        }
        try prepare()
        for task in settings.topology.tasks {
            // Ctrl-C while a large cluster starts: start no more; the loop below stops those started.
            if Signals.pending != nil { break }
            try spawn(task)
        }
        var what = "\(settings.topology)"
        if let plan { what = "\(plan.tierName): \(plan) → \(settings.topology)" }
        if let b = bandwidths.values.min(), let t = bandwidths.values.max() {
            what += String(format: ", links %@", b == t ? Launcher.rate(b) : "\(Launcher.rate(b))…\(Launcher.rate(t))")
        }
        progress.announce("job \(jobDirectory): \(what), \(settings.training.maxSteps) steps")

        var outcome: JobOutcome?
        while outcome == nil {
            if let signal = Signals.take() {
                outcome = apply(machine.handle(.interrupted(signal: signal)))
            }
            if let reason = pendingCancel {
                pendingCancel = nil
                outcome = apply(machine.handle(.cancel(reason: reason)))
            }
            // Only this launcher's own children, by pid: the process may have others.
            for (task, pid) in pids.sorted(by: { $0.key < $1.key }) where outcome == nil {
                guard let (termination, maxRSS) = processes.reap(pid) else { continue }
                pids[task] = nil
                peakRSS[task] = max(peakRSS[task] ?? 0, maxRSS)
                if termination.code != 0 || machine.state != .running {
                    progress.note("\(task) ended: \(termination)")
                }
                tell(.taskExited(task, termination, now: MonotonicClock.now()))
                var description = termination.description
                if let reason = reportedError(of: task) { description += ": " + reason }
                outcome = apply(machine.handle(.exited(task, code: termination.code, description: description)))
            }
            if outcome != nil { break }
            let now = MonotonicClock.now()
            for due in pendingRestarts.filter({ $0.at <= now }) {
                pendingRestarts.removeAll { $0.task == due.task }
                guard machine.state == .running else { continue }
                progress.note("restarting \(due.task)")
                do { try spawn(due.task, restart: true) } catch {
                    outcome = apply(machine.handle(.exited(due.task, code: 127, description: "could not be restarted: \(error)")))
                }
            }
            enforceStop(now: now)
            resources.sample(pids, now: now)
            if machine.state == .running { tell(.tick(now: now)) }
            progress.update()
            MonotonicClock.sleep(seconds: 0.05)
        }
        progress.finish()
        for socket in listeners.values { socket.close() }
        listeners = [:]
        for socket in localListeners.values { socket.close() }
        localListeners = [:]

        let summary = JobSummary(
            outcome: outcome!, topology: settings.topology, records: MetricsLog(jobDirectory: jobDirectory).records(from: metricsOffset),
            batchSize: settings.training.batchSize,
            // A synchronous step applies the gradients of K batches (every training task's by default).
            batchesPerStep: settings.training.batch(perStepWith: settings.topology.chiefs + settings.topology.workers) / max(1, settings.training.batchSize),
            wallSeconds: MonotonicClock.now() - started,
            tasks: settings.topology.tasks.map { t in
                let s = machine.tasks[t]
                return JobSummary.TaskResult(task: t, exitCode: s?.lastCode, exit: s?.lastExit, restarts: s?.restarts ?? 0, peakRSSBytes: peakRSS[t])
            })
        try Files.writeAtomically(summary.json.prettySerialized() + "\n", to: controlDirectory + "/summary.json")
        return summary
    }

    /// Carries out the supervisor's directives; returns the outcome once the job is over.
    private func apply(_ directives: [SupervisorMachine.Directive]) -> JobOutcome? {
        for directive in directives {
            switch directive {
            case .restart(let task, let delay):
                pendingRestarts.append((task, MonotonicClock.now() + delay))
            case .stopAll(let grace):
                pendingRestarts = []
                if stopping == nil { stopping = (MonotonicClock.now(), grace, false) }
                enforceStop(now: MonotonicClock.now())
            case .finish(let outcome):
                return outcome
            }
        }
        return nil
    }

    /// While stopping: after the grace period SIGTERM every running task, after `killGrace` more SIGKILL.
    private func enforceStop(now: Double) {
        guard var s = stopping else { return }
        if !s.termSent && now - s.since >= s.grace {
            for pid in pids.values { processes.signalGroup(pid, Signals.terminate) }
            s.termSent = true
            s.since = now
            stopping = s
        } else if s.termSent && now - s.since >= options.killGrace {
            for pid in pids.values { processes.signalGroup(pid, Signals.kill) }
        }
    }

    private var logDirectory: String { options.logDirectory ?? jobDirectory + "/logs" }

    private func prepare() throws {
        if case .builtIn = program {
            for type in Set(settings.topology.tasks.map(\.type)) {
                let path = try executable(for: type)
                guard processes.executableExists(path) else {
                    throw RuntimeFailure("cannot find \(path): the role executables must sit next to trainyard (build them with `swift build`), or set TRAINYARD_BIN_DIR", exitCode: .systemError)
                }
            }
            try Files.createDirectory(jobDirectory + "/checkpoints")
        }
        try Files.createDirectory(logDirectory)
        try Files.createDirectory(controlDirectory + "/faults")
        for (task, faults) in options.initialFaults {
            try Files.writeAtomically(faults.json.serialized() + "\n", to: faultFilePath(task), durable: false)
        }

        var addresses: [TaskID: HostPort] = [:]
        for (i, task) in settings.topology.tasks.enumerated() {
            let port = settings.startPort.map { $0 + i } ?? 0
            do {
                let socket = try Socket.listen(on: HostPort(host: "127.0.0.1", port: port))
                listeners[task] = socket
                addresses[task] = HostPort(host: "localhost", port: socket.localAddress.port)
            } catch {
                throw RuntimeFailure("cannot listen for \(task) on port \(port): \(error)", exitCode: .systemError)
            }
        }
        cluster = settings.topology.clusterSpec(addresses: addresses)
        if case .builtIn = program, settings.localSockets {
            // The same-host fast path: every task also listens on a Unix-domain socket in the
            // abstract namespace (no file to leave behind), named from this launcher's pid and a
            // random suffix; peers connect there first. TF_CONFIG keeps the TCP addresses.
            var generator = SystemRandomNumberGenerator()
            let prefix = "trainyard-\(Posix.getpid())-" + String(generator.next() as UInt64, radix: 16)
            do {
                for task in settings.topology.tasks {
                    localListeners[task] = try Socket.listenLocal(name: RoleEnvironment.localSocketName(prefix: prefix, task: task))
                }
                localSocketPrefix = prefix
            } catch {
                // Not fatal: the tasks talk over TCP as they would on separate hosts.
                for socket in localListeners.values { socket.close() }
                localListeners = [:]
            }
        }
        if case .external = program {
            // A user's program binds its own port: hand over the number, not the socket.
            for socket in listeners.values { socket.close() }
            listeners = [:]
        }
    }

    public func tfConfig(for task: TaskID) -> TFConfig {
        switch program {
        case .builtIn:
            return TFConfig(cluster: cluster, task: .init(type: task.type, index: task.index, trial: options.trial))
        case .external(let p):
            return TFConfig(cluster: cluster, task: .init(type: task.type, index: task.index, trial: options.trial), environment: "cloud", job: p.job)
        }
    }

    /// Where `task`'s fault file lives (the launcher writes it; the task follows it).
    public func faultFilePath(_ task: TaskID) -> String { controlDirectory + "/faults/\(task).json" }

    private var controlDirectory: String { options.controlDirectory ?? jobDirectory }

    /// Tells the monitor about `event` and carries out the actions it returns.
    private func tell(_ event: LaunchEvent) {
        guard let monitor else { return }
        let view = LaunchView(jobDirectory: jobDirectory, cluster: cluster, token: token, started: started, running: Set(pids.keys))
        for action in monitor.handle(event, view) {
            switch action {
            case .signal(let task, let signal):
                if let pid = pids[task] { processes.signalGroup(pid, signal) }
            case .setFaults(let task, let faults):
                // A task keeps following the faults it last read if the file cannot be written.
                try? Files.writeAtomically(faults.json.serialized() + "\n", to: faultFilePath(task), durable: false)
            case .cancel(let reason):
                pendingCancel = reason
            }
        }
    }

    /// How many times each task was restarted so far.
    public var restartCounts: [TaskID: Int] { machine.tasks.mapValues(\.restarts) }

    /// Seconds since the launcher started.
    public var elapsed: Double { MonotonicClock.now() - started }

    private func spawn(_ task: TaskID, restart: Bool = false) throws {
        if restart, let t = machine.tasks[task] {
            // Each restart is marked in the task's log, where the next run's lines follow.
            let line = LogStamp.prefix(MonotonicClock.wallNow()) + LogStamp.restartLine(attempt: t.restarts + 1, after: t.lastCode.map { $0 > 128 ? "\(signalName($0 - 128)) (exit \($0))" : "exit \($0)" } ?? "an exit")
            try? Files.appendLine(line, to: logDirectory + "/\(task).log")
        }
        if case .external(let p) = program {
            var environment = ProcessInfo.processInfo.environment
            for (k, v) in p.environment { environment[k] = v }
            environment[RoleEnvironment.tfConfig] = tfConfig(for: task).serialized()
            environment["CLUSTER_SPEC"] = tfConfig(for: task).serialized()
            environment[RoleEnvironment.parentPID] = String(Posix.getpid())
            environment[RoleEnvironment.token] = nil
            let request = SpawnRequest(
                executable: Executables.current,
                arguments: ["_shim", "--"] + p.argv + (p.passesJobDir ? ["--job-dir", p.jobDir] : []) + p.userArgs,
                environment: environment, workingDirectory: p.workingDirectories[task],
                outputPath: logDirectory + "/\(task).log")
            let pid = try processes.spawn(request)
            pids[task] = pid
            _ = machine.handle(.started(task))
            tell(.taskStarted(task, restart: restart, now: MonotonicClock.now()))
            return
        }
        guard let listener = listeners[task] else { throw RuntimeFailure("no socket for \(task)", exitCode: .systemError) }
        var environment = ProcessInfo.processInfo.environment
        environment[RoleEnvironment.tfConfig] = tfConfig(for: task).serialized()
        environment[RoleEnvironment.token] = token
        environment[RoleEnvironment.listenFD] = "3"
        var inherited = [listener.fd]
        if let prefix = localSocketPrefix, let local = localListeners[task] {
            environment[RoleEnvironment.localListenFD] = "4"
            environment[RoleEnvironment.localSockets] = prefix
            environment[RoleEnvironment.sharedMemory] = settings.sharedMemory ? nil : "0"
            inherited.append(local.fd)
        } else {
            environment[RoleEnvironment.localListenFD] = nil
            environment[RoleEnvironment.localSockets] = nil
        }
        environment[RoleEnvironment.parentPID] = String(Posix.getpid())
        environment[RoleEnvironment.faultFile] = faultFilePath(task)
        if let bandwidth = bandwidths[task] { environment[RoleEnvironment.bandwidth] = String(bandwidth) } else { environment[RoleEnvironment.bandwidth] = nil }
        let request = SpawnRequest(
            executable: try executable(for: task.type),
            arguments: ["--job-dir", jobDirectory] + settings.training.roleArguments,
            environment: environment,
            outputPath: logDirectory + "/\(task).log",
            inherited: inherited)
        let pid = try processes.spawn(request)
        pids[task] = pid
        _ = machine.handle(.started(task))
        tell(.taskStarted(task, restart: restart, now: MonotonicClock.now()))
    }

    /// SIGKILLs and reaps every child still running (the last line of defence).
    private func killEverything() {
        for pid in pids.values { processes.signalGroup(pid, Signals.kill) }
        let deadline = Deadline.after(seconds: 5)
        while !pids.isEmpty && !deadline.hasPassed {
            for (task, pid) in pids where processes.reap(pid) != nil { pids[task] = nil }
            if !pids.isEmpty { MonotonicClock.sleep(seconds: 0.01) }
        }
        pids = [:]
    }

    /// The one-line reason a task gave as its last log line (`error: …`), if it did.
    private func reportedError(of task: TaskID) -> String? {
        let (bytes, _) = Files.readFrom(logDirectory + "/\(task).log", offset: 0)
        guard !bytes.isEmpty else { return nil }
        // The end of the log is enough: the reason is its last line.
        let tail = bytes.suffix(4096)
        return TaskLog.errorReason(inLog: String(decoding: tail, as: UTF8.self))
    }
}
