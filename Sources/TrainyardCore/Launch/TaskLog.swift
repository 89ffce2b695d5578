/// The contract between a role that fails and the launcher that reads its log: the role's last
/// line is `error: <reason>`, one line, so the launcher can quote the reason in the job's outcome
/// instead of leaving it in `logs/<task>.log` only.
public enum TaskLog {
    static let errorPrefix = "error: "

    /// The line a role prints last when it fails: `error: ` and `reason` with line breaks folded
    /// into `; ` (a reason must stay one line), ending in a newline.
    public static func errorLine(_ reason: String) -> String {
        let parts = reason.split(omittingEmptySubsequences: true, whereSeparator: { $0.isNewline })
        let folded = parts.map { $0.trimmingSpaces() }.filter { !$0.isEmpty }.joined(separator: "; ")
        return errorPrefix + folded + "\n"
    }

    /// The reason in a task's log, when its last non-empty line is an `error: ` line; nil when the
    /// task did not report one (it was killed, or crashed).
    public static func errorReason(inLog text: String) -> String? {
        guard let last = text.split(whereSeparator: { $0.isNewline }).last(where: { !$0.trimmingSpaces().isEmpty }),
              last.hasPrefix(errorPrefix) else { return nil }
        return String(last.dropFirst(errorPrefix.count).trimmingSpaces())
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
