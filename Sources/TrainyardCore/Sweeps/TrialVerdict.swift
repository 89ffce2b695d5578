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
