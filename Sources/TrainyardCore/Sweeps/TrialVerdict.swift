/// The sweep runner's answer to one evaluation of a built-in trial: train on, or stop here.
///
/// The runner and the trial's chief share a folder, `<trial job dir>/verdicts/`: after writing an
/// evaluation record at global step S, the chief waits for the file `step-S` (written atomically
/// by the runner once it has applied the early-termination policy to that evaluation) before it
/// trains further. The file holds `continue`, or `stop` and the reason on the next line.
public enum TrialVerdict: Sendable, Equatable {
    case proceed
    case stop(reason: String)

    /// The folder of verdicts inside a trial's job directory; its presence turns the gate on.
    public static func folder(jobDirectory: String) -> String { jobDirectory + "/verdicts" }

    /// The verdict file for the evaluation at global step `step`.
    public static func fileName(step: Int) -> String { "step-\(step)" }

    /// Seconds a chief waits for a verdict before it trains on without one (the runner is gone).
    public static let waitLimit = 60.0

    /// The verdict on a trial's latest report (`history` ends with it, at global step `step`):
    /// `stop` when the policy says so, except at the final evaluation (`step` ≥ `maxSteps`), which
    /// ends the trial anyway and so saves nothing.
    public static func decide(_ policy: EarlyTerminationPolicy?, history: [Double], peers: [EarlyTerminationPolicy.Peer], goal: Goal,
                              step: Int?, maxSteps: Int?) -> TrialVerdict {
        if let maxSteps, let step, step >= maxSteps { return .proceed }
        guard let policy, let why = policy.decide(history: history, peers: peers, goal: goal) else { return .proceed }
        return .stop(reason: why)
    }

    /// The file's text.
    public var encoded: String {
        switch self {
        case .proceed: return "continue\n"
        case .stop(let reason): return "stop\n\(reason)\n"
        }
    }

    /// A verdict file's text; nil when it is neither (not yet, or damaged).
    public init?(parsing text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        switch lines.first {
        case "continue": self = .proceed
        case "stop": self = .stop(reason: lines.count > 1 ? String(lines[1].trimmedSpaces) : "")
        default: return nil
        }
    }
}
