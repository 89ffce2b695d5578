/// When a failed task is started again, as in Kubeflow's TFJob `restartPolicy`.
public enum RestartPolicy: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Never restart: a failed task fails the job.
    case never = "Never"
    /// Restart a task that exits non-zero or is killed, up to the backoff limit.
    case onFailure = "OnFailure"
    /// Restart a task whenever it exits while the job runs, up to the backoff limit.
    case always = "Always"
    /// Exit codes 1–127 are permanent (the job fails); 128–255 (signals, preemption) are retried
    /// and, as in TFJob, do not count against the backoff limit.
    case exitCode = "ExitCode"

    public var description: String { rawValue }

    /// `--restart-policy POLICY`, for settings that hold a policy at `field`.
    public static func option<Root>(_ field: WritableKeyPath<Root, RestartPolicy> & Sendable, help: String) -> OptionSpec<Root> {
        OptionSpec("restart-policy", field, placeholder: "POLICY", help: help, allowed: "Never, OnFailure, Always or ExitCode (any case)",
                   parse: { (t: String) throws(UsageError) in
                       guard let p = try? RestartPolicy(parsing: t) else { throw UsageError("must be Never, OnFailure, Always or ExitCode, got \"\(t)\"") }
                       return p
                   }, format: { $0.rawValue })
    }

    /// `--backoff-limit N`: restarts allowed per task.
    public static func backoffLimitOption<Root>(_ field: WritableKeyPath<Root, Int> & Sendable) -> OptionSpec<Root> {
        .int("backoff-limit", field, in: 0...1000, placeholder: "N", help: "restarts allowed per task before the job fails")
    }

    public init(parsing text: String) throws(UsageError) {
        guard let p = RestartPolicy.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            throw UsageError("restart policy must be Never, OnFailure, Always or ExitCode, got \"\(text)\"")
        }
        self = p
    }

    /// Whether exit `code` is permanent under every policy: `ExitCode.invalidInput` (3) says the
    /// task's data, settings or TF_CONFIG are invalid, and a restart would read the same input;
    /// `ExitCode.jobFailed` (6) says the job cannot succeed (its results could not be saved, or
    /// training diverged), and a restart would only repeat it.
    public static func isPermanent(_ code: Int32) -> Bool {
        code == ExitCode.invalidInput.rawValue || code == ExitCode.jobFailed.rawValue
    }

    /// What to do about a task that ended with shell-style status `code` (128 + signal when killed),
    /// having been restarted `counted` times against `backoffLimit`. Exit codes 3 (invalid input)
    /// and 6 (the job cannot succeed) fail the job under every policy, Always included.
    public func decide(code: Int32, counted: Int, backoffLimit: Int) -> RestartDecision {
        if code == ExitCode.invalidInput.rawValue {
            return .fail("exit code 3 means invalid input, which no restart can fix (restart policy \(rawValue) does not apply)")
        }
        if code == ExitCode.jobFailed.rawValue {
            return .fail("exit code 6 means the job cannot succeed, which no restart can fix (restart policy \(rawValue) does not apply)")
        }
        switch self {
        case .never:
            return code == 0 ? .completed : .fail("restart policy Never")
        case .onFailure:
            if code == 0 { return .completed }
            return counted < backoffLimit ? .restart(counts: true) : .fail("backoff limit of \(backoffLimit) restarts reached")
        case .always:
            return counted < backoffLimit ? .restart(counts: true) : (code == 0 ? .completed : .fail("backoff limit of \(backoffLimit) restarts reached"))
        case .exitCode:
            if code == 0 { return .completed }
            if (1...127).contains(code) { return .fail("exit code \(code) is permanent under restart policy ExitCode (1–127)") }
            return .restart(counts: false)
        }
    }
}

public enum RestartDecision: Sendable, Equatable {
    /// The task is done (exited 0) and stays down.
    case completed
    /// Start it again; `counts` says whether this restart counts against the backoff limit.
    case restart(counts: Bool)
    /// The job fails, for this reason.
    case fail(String)
}
