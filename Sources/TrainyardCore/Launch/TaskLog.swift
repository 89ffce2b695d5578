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
        // A user program's lines carry the shim's time stamp in front.
        guard let stamped = text.split(whereSeparator: { $0.isNewline }).last(where: { !LogStamp.split($0).text.trimmingSpaces().isEmpty }),
              case let last = LogStamp.split(stamped).text, last.hasPrefix(errorPrefix) else { return nil }
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

/// The time stamp in front of each line of a user program's log (`trainyard _shim` writes it as
/// the line arrives), so that `jobs stream-logs` can merge every task's lines in time order:
/// `[2026-05-31T16:47:00.123Z] ` — UTC, milliseconds, then one space and the program's line.
public enum LogStamp {
    /// `[…Z] ` for Unix time `t`.
    public static func prefix(_ t: Double) -> String { "[" + iso(t) + "] " }

    /// ISO 8601 in UTC with milliseconds.
    public static func iso(_ t: Double) -> String {
        let millis = Int((t * 1000).rounded(.down))
        var days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let ms = millis - days * 86_400_000
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let frac = ms % 1000
        let fracText = frac < 10 ? "00\(frac)" : frac < 100 ? "0\(frac)" : "\(frac)"
        return "\(y)-\(two(m))-\(two(d))T\(two(ms / 3_600_000)):\(two(ms / 60_000 % 60)):\(two(ms / 1000 % 60)).\(fracText)Z"
    }

    /// The time and the rest of a stamped line; nil time when the line carries no stamp.
    public static func split(_ line: Substring) -> (time: Double?, text: Substring) {
        let u = Array(line.utf8.prefix(27))
        guard u.count >= 27, u[0] == UInt8(ascii: "["), u[24] == UInt8(ascii: "Z"), u[25] == UInt8(ascii: "]"), u[26] == UInt8(ascii: " ") else { return (nil, line) }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r { let c = u[i]; guard c >= 48 && c <= 57 else { return nil }; v = v * 10 + Int(c - 48) }
            return v
        }
        guard let y = num(1..<5), let mo = num(6..<8), let d = num(9..<11), let h = num(12..<14), let mi = num(15..<17),
              let s = num(18..<20), let ms = num(21..<24) else { return (nil, line) }
        // Days since 1970-01-01 from the civil date.
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let t = Double(days * 86400 + h * 3600 + mi * 60 + s) + Double(ms) / 1000
        return (t, line.dropFirst(27))
    }

    /// The line a launcher writes into a task's log before it starts the task again.
    public static func restartLine(attempt: Int, after description: String) -> String {
        "--- restarted (attempt \(attempt)) after \(description) ---"
    }
}

/// One read of several tasks' logs, merged in time order for `jobs stream-logs`: each line as
/// `TIME TASK: text`. A line with a `LogStamp` keeps its time; one without (Trainyard's own roles
/// write none) takes the time of the line before it in its task's log, else the time it was read.
/// Lines of equal time keep the order of their task's log, tasks by name.
public struct LogMerge: Sendable {
    private var entries: [(time: Double, order: Int, line: String)] = []

    public init() {}

    public mutating func add(task: String, lines: [Substring], readAt: Double, lastTime: inout Double?) {
        for line in lines {
            let (stamp, text) = LogStamp.split(line)
            let time = stamp ?? lastTime ?? readAt
            lastTime = time
            entries.append((time, entries.count, LogStamp.iso(time) + " " + task + ": " + text))
        }
    }

    public func ordered() -> [String] {
        entries.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map(\.line)
    }
}
