import Foundation
import TrainyardCore
import TrainyardPlatform

/// Everything a role process knows at start: its TF_CONFIG, the job's token and settings, its
/// listening socket, and where to write.
public struct RoleContext: @unchecked Sendable {
    public var config: TFConfig
    public var token: String
    public var settings: TrainSettings
    public var jobDirectory: String
    public var listener: Socket
    public var log: RoleLog
    /// This process's emulated network: every connection the role opens or accepts passes through
    /// it (the launcher's bandwidth cap, and the link faults the `FaultWatcher` applies).
    public var shaper: NetworkShaper
    /// Whether `--job-dir` was given (the launcher always gives it); without it `jobDirectory` is the
    /// current directory, where a ps run by hand (or by `calibrate`) writes no metrics.
    public var jobDirectoryGiven = true
    /// What one connection may cost this task's server (`TRAINYARD_HANDSHAKE_TIMEOUT`,
    /// `TRAINYARD_IDLE_TIMEOUT`, `TRAINYARD_MAX_CONNECTIONS`), the cap kept below the descriptor limit.
    public var wireLimits = WireLimits()
    /// Whether the launcher started this task (`TRAINYARD_PARENT_PID`). Without it (a task run by
    /// hand, or as a Kubeflow TFJob pod) a ps does not exit when the chief ends the job: it serves on
    /// until it is stopped, as TFJob expects of ps replicas.
    public var launched = true
    /// The Unix-domain listener the launcher passed beside the TCP one (`TRAINYARD_LOCAL_LISTEN_FD`).
    public var localListener: Socket? = nil
    /// The prefix of the cluster's local socket names (`TRAINYARD_LOCAL_SOCKETS`): nil = TCP only.
    public var localSocketPrefix: String? = nil

    public var task: TaskID { config.task.id }

    /// Where `peer` listens on this host's fast path, when the launcher set one up.
    public func localName(for peer: TaskID) -> String? {
        localSocketPrefix.map { RoleEnvironment.localSocketName(prefix: $0, task: peer) }
    }

    /// The tasks a hello may name: this job's cluster.
    public var members: Set<TaskID> { Set(config.cluster.tasks) }

    /// Reads the command line and environment of a role executable that runs tasks of `accepted` types.
    public static func load(arguments argv: [String], accepting accepted: Set<TaskType>, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RoleContext {
        var args = Arguments(argv)
        let inlineConfig = try args.value("--tf-config")
        let jobDir = try args.value("--job-dir")
        let settings = try TrainSettings.parse(&args)
        try args.finish()
        try settings.validate()

        guard let configText = inlineConfig ?? environment[RoleEnvironment.tfConfig] else {
            throw UsageError("TF_CONFIG is not set: give the cluster spec in the TF_CONFIG environment variable or with --tf-config JSON")
        }
        let config = try TFConfig(parsing: configText, source: inlineConfig != nil ? "--tf-config" : "TF_CONFIG")
        guard accepted.contains(config.task.type) else {
            throw FieldError(source: "TF_CONFIG", path: "task.type",
                             "this executable runs \(accepted.map(\.rawValue).sorted().joined(separator: " or ")) tasks, not \(config.task.type)")
        }
        let token = try RoleEnvironment.token(environment: environment) { path, limit in try Files.read(path, limit: limit) }
        let listenHost = try RoleEnvironment.listenHost(environment: environment)
        guard let own = config.ownAddress else {
            throw FieldError(source: "TF_CONFIG", path: "cluster.\(config.task.type)", "has no address for task \(config.task.id)")
        }

        let listener: Socket
        if let fdText = environment[RoleEnvironment.listenFD], let fd = Int32(fdText) {
            listener = try Socket.adopt(fd: fd)
            guard listener.localAddress.port == own.port else {
                throw RuntimeFailure("the socket passed in \(RoleEnvironment.listenFD) is bound to port \(listener.localAddress.port), but TF_CONFIG gives \(own)", exitCode: .systemError)
            }
        } else {
            let address = HostPort(host: listenHost ?? own.host, port: own.port)
            listener = try listen(on: address, waitingUpTo: settings.startupTimeout, for: config.task.id)
        }

        var localListener: Socket?
        if let fdText = environment[RoleEnvironment.localListenFD], let fd = Int32(fdText) {
            localListener = try Socket.adopt(fd: fd)
            guard localListener?.isLocal == true else {
                throw RuntimeFailure("the socket passed in \(RoleEnvironment.localListenFD) is not a Unix-domain socket", exitCode: .systemError)
            }
        }
        let localPrefix = environment[RoleEnvironment.localSockets].flatMap { $0.isEmpty ? nil : $0 }

        if let parentText = environment[RoleEnvironment.parentPID], let parent = Int32(parentText) {
            ParentWatchdog.start(expectedParent: parent)
        }
        let shaper = NetworkShaper()
        if let bandwidthText = environment[RoleEnvironment.bandwidth], let bandwidth = Double(bandwidthText), bandwidth > 0 {
            shaper.update(NetworkShaper.Conditions(bandwidth: bandwidth))
        }

        let wireLimits = try WireLimits.from(environment: environment)
            .fitting(descriptorLimit: (try? MachineLimits.descriptorLimit()) ?? Int.max)

        let jobDirectory = Files.absolute(jobDir ?? FileManager.default.currentDirectoryPath)
        return RoleContext(config: config, token: token, settings: settings, jobDirectory: jobDirectory,
                           listener: listener, log: RoleLog(task: config.task.id), shaper: shaper, jobDirectoryGiven: jobDir != nil,
                           wireLimits: wireLimits, launched: environment[RoleEnvironment.parentPID] != nil,
                           localListener: localListener, localSocketPrefix: localPrefix)
    }

    /// Listens on `address`, retrying with backoff while its name does not resolve yet (a pod's own
    /// DNS record may appear after the pod starts), until `timeout` seconds have passed.
    static func listen(on address: HostPort, waitingUpTo timeout: Double, for task: TaskID) throws -> Socket {
        let deadline = Deadline.after(seconds: timeout)
        let backoff = Backoff(initial: 0.05, maximum: 1.0)
        var attempt = 0
        while true {
            let failure: SocketError
            do throws(SocketError) {
                return try Socket.listen(on: address)
            } catch {
                failure = error
            }
            var unresolved = false
            if case .resolve = failure { unresolved = true }
            if !unresolved { throw failure }
            if deadline.hasPassed {
                throw RuntimeFailure("\(task) cannot listen on \(address): the name did not resolve for \(JSONValue.format(timeout)) s (\(failure)); check the TF_CONFIG address, or set \(RoleEnvironment.listenHost)=0.0.0.0 to listen on every interface", exitCode: .clusterError)
            }
            MonotonicClock.sleep(seconds: min(backoff.delay(attempt: attempt), max(0.01, deadline.remaining)))
            attempt += 1
        }
    }
}

/// A task's log: timestamped lines on stdout (which the launcher sends to `logs/<task>.log`).
public struct RoleLog: Sendable {
    public let task: TaskID
    private let start = MonotonicClock.now()
    public init(task: TaskID) { self.task = task }

    public func callAsFunction(_ message: String) {
        let elapsed = MonotonicClock.now() - start
        let stamp = String(format: "%8.3f", elapsed)
        Posix.write("[\(stamp)s \(task)] \(message)\n", to: 1)
    }
}

/// Runs a role's main: sets up signals, loads the context, runs, and exits with the right code.
///
/// A failure ends the log with one line, `error: <reason>` (`TaskLog.errorLine`). Invalid data,
/// settings or TF_CONFIG exit with `ExitCode.invalidInput` (3), which the launcher never retries;
/// a command-line mistake counts as invalid input too, since the launcher wrote the command line
/// and a restart would pass the same one.
public enum RoleMain {
    public static func run(accepting: Set<TaskType>, _ body: (RoleContext) throws -> ExitCode) -> Never {
        Signals.install()
        Posix.keepFreedMemory()
        let code: ExitCode
        do {
            let context = try RoleContext.load(arguments: Array(CommandLine.arguments.dropFirst()), accepting: accepting)
            code = try body(context)
        } catch let e as TrainyardError {
            Posix.write(TaskLog.errorLine(e.description), to: 2)
            code = e.exitCode == .usage ? .invalidInput : e.exitCode
        } catch {
            Posix.write(TaskLog.errorLine("\(error)"), to: 2)
            code = .failure
        }
        Posix.exit(code.rawValue)
    }
}
