/// How a job ended.
public struct JobOutcome: Sendable, Equatable {
    public enum Status: String, Sendable {
        case succeeded = "SUCCEEDED"
        case failed = "FAILED"
        case cancelled = "CANCELLED"
    }
    public var status: Status
    public var reason: String
    public var exitCode: ExitCode

    public init(_ status: Status, _ reason: String, exitCode: ExitCode? = nil) {
        self.status = status
        self.reason = reason
        self.exitCode = exitCode ?? (status == .succeeded ? .success : .failure)
    }

    /// The signal that stopped the launcher (SIGINT 2 or SIGTERM 15): the job was cancelled by
    /// Ctrl-C or a `kill`, not by anything of its own. nil otherwise.
    public var interruptingSignal: Int32? {
        exitCode == .interrupted ? 2 : exitCode == ExitCode(143) ? 15 : nil
    }
}

/// The launcher's decisions about its children, without processes: which task to restart, when
/// to stop everyone, and how the job ended. The job's outcome follows the chief, as in TFJob and
/// `gcloud ai-platform local train`: when the chief exits 0 the job succeeded and the tasks still
/// running are given `drainSeconds` to exit on their own, then stopped. A task exiting with
/// `ExitCode.invalidInput` (3) fails the job at once under any restart policy, and the job's
/// outcome carries exit code 3; one exiting `ExitCode.jobFailed` (6: its results could not be saved,
/// or training diverged) fails it at once too, with exit code 1.
public struct SupervisorMachine: Sendable {
    public struct TaskState: Sendable, Equatable {
        public var task: TaskID
        public var policy: RestartPolicy
        public var running = false
        /// Restarts so far (all of them) and those counted against the backoff limit.
        public var restarts = 0
        public var countedRestarts = 0
        public var lastExit: String?
        public var lastCode: Int32?
        public var completed = false
    }

    public enum State: Sendable, Equatable {
        case running
        /// Stopping every task; the outcome is decided.
        case stopping(JobOutcome)
        case finished(JobOutcome)
    }

    public enum Event: Sendable, Equatable {
        /// A task's process started (or started again).
        case started(TaskID)
        /// A task's process ended with shell-style status `code`, described for people.
        case exited(TaskID, code: Int32, description: String)
        /// The launcher got SIGINT or SIGTERM.
        case interrupted(signal: Int32)
        /// The user (or a timeout) cancelled the job.
        case cancel(reason: String)
    }

    public enum Directive: Sendable, Equatable {
        /// Start `task` again after `delay` seconds.
        case restart(TaskID, delay: Double)
        /// Give running tasks `grace` seconds to exit on their own, then SIGTERM, then SIGKILL.
        case stopAll(grace: Double)
        /// Every task is down: the job is over.
        case finish(JobOutcome)
    }

    public private(set) var state = State.running
    public private(set) var tasks: [TaskID: TaskState]
    public let chief: TaskID?
    public let backoffLimit: Int
    public let drainSeconds: Double

    public init(tasks: [TaskID], chief: TaskID?, policy: (TaskID) -> RestartPolicy, backoffLimit: Int = 3, drainSeconds: Double = 10) {
        self.tasks = Dictionary(uniqueKeysWithValues: tasks.map { ($0, TaskState(task: $0, policy: policy($0))) })
        self.chief = chief
        self.backoffLimit = backoffLimit
        self.drainSeconds = drainSeconds
    }

    public var outcome: JobOutcome? {
        if case .finished(let o) = state { return o }
        return nil
    }

    public var anyRunning: Bool { tasks.values.contains(where: \.running) }

    public mutating func handle(_ event: Event) -> [Directive] {
        switch event {
        case .started(let task):
            tasks[task]?.running = true
            return []

        case .exited(let task, let code, let description):
            guard var t = tasks[task] else { return [] }
            t.running = false
            t.lastExit = description
            t.lastCode = code
            tasks[task] = t
            if case .stopping(let outcome) = state {
                return anyRunning ? [] : finish(outcome)
            }
            guard case .running = state else { return [] }

            if task == chief && code == 0 {
                tasks[task]?.completed = true
                return stop(JobOutcome(.succeeded, "\(task) finished"), grace: drainSeconds)
            }
            switch t.policy.decide(code: code, counted: t.countedRestarts, backoffLimit: backoffLimit) {
            case .completed:
                tasks[task]?.completed = true
                // The job follows the chief; a job without a chief is done when every task is.
                if chief == nil && tasks.values.allSatisfy(\.completed) {
                    return stop(JobOutcome(.succeeded, "every task finished"), grace: 0)
                }
                return []
            case .restart(let counts):
                tasks[task]?.restarts += 1
                if counts { tasks[task]?.countedRestarts += 1 }
                let delay = min(5.0, 0.1 * Double(1 << min(t.restarts, 6)))
                return [.restart(task, delay: delay)]
            case .fail(let why):
                // A task that found its input invalid makes the job's outcome invalid input too.
                let exitCode: ExitCode = code == ExitCode.invalidInput.rawValue ? .invalidInput : .failure
                return stop(JobOutcome(.failed, "\(task) failed (\(description)); \(why)", exitCode: exitCode), grace: 0)
            }

        case .interrupted(let signal):
            guard case .running = state else { return [] }
            let name = signal == 2 ? "SIGINT" : signal == 15 ? "SIGTERM" : "signal \(signal)"
            return stop(JobOutcome(.cancelled, "the launcher received \(name)", exitCode: signal == 2 ? .interrupted : ExitCode(128 + signal)), grace: 0)

        case .cancel(let reason):
            guard case .running = state else { return [] }
            return stop(JobOutcome(.cancelled, reason, exitCode: .failure), grace: 0)
        }
    }

    private mutating func stop(_ outcome: JobOutcome, grace: Double) -> [Directive] {
        state = .stopping(outcome)
        return anyRunning ? [.stopAll(grace: grace)] : finish(outcome)
    }

    private mutating func finish(_ outcome: JobOutcome) -> [Directive] {
        state = .finished(outcome)
        return [.finish(outcome)]
    }
}
