import Foundation
import TrainyardCore
import TrainyardPlatform

/// The launcher's live view of a job, from `metrics.jsonl`: on a terminal one line rewritten in
/// place (global step, loss, examples/s); otherwise a plain line every few seconds.
final class ProgressDisplay {
    private let path: String
    private let maxSteps: Int
    private let enabled: Bool
    private let terminal = Posix.isTerminal(2)
    private var offset = 0
    private var partial = ""
    private var latest: [String: (time: Double, step: Int, loss: Double, rate: Double)] = [:]
    private var lastEval: (step: Int, accuracy: Double)?
    private var lastDraw = 0.0
    private var lineShown = false
    private let start = MonotonicClock.now()

    /// `offset`: where this run's records begin in `metrics.jsonl` (earlier runs' are not shown).
    init(jobDirectory: String, maxSteps: Int, enabled: Bool, offset: Int = 0) {
        path = jobDirectory + "/metrics.jsonl"
        self.maxSteps = maxSteps
        self.enabled = enabled
        self.offset = offset
    }

    func announce(_ text: String) {
        guard enabled else { return }
        Posix.write(text + "\n", to: 2)
    }

    /// A line about an event (a task ended, a restart), printed above the progress line.
    func note(_ text: String) {
        guard enabled else { return }
        clearLine()
        Posix.write(String(format: "[%7.2fs] ", MonotonicClock.now() - start) + text + "\n", to: 2)
    }

    func update() {
        readNewRecords()
        guard enabled else { return }
        let now = MonotonicClock.now()
        let interval = terminal ? 0.2 : 5.0
        guard now - lastDraw >= interval else { return }
        lastDraw = now
        let text = statusText(now: MonotonicClock.wallNow())
        if terminal {
            Posix.write("\r\u{1B}[2K" + text, to: 2)
            lineShown = true
        } else {
            Posix.write(text + "\n", to: 2)
        }
    }

    func finish() {
        readNewRecords()
        clearLine()
    }

    private func clearLine() {
        if terminal && lineShown {
            Posix.write("\r\u{1B}[2K", to: 2)
            lineShown = false
        }
    }

    private func statusText(now: Double) -> String {
        let step = latest.values.map(\.step).max() ?? 0
        let newest = latest.values.max { $0.time < $1.time }
        // Tasks that logged in the last few seconds are the ones training now.
        let rate = latest.values.filter { now - $0.time < 5 }.map(\.rate).reduce(0, +)
        var parts = [String(format: "%6.1fs", MonotonicClock.now() - start), "step \(step)/\(maxSteps)"]
        if let newest { parts.append(String(format: "loss %.4f", newest.loss)) }
        parts.append("\(Int(rate)) examples/s")
        if let lastEval { parts.append(String(format: "eval accuracy %.3f @%d", lastEval.accuracy, lastEval.step)) }
        return parts.joined(separator: " · ")
    }

    private func readNewRecords() {
        let (bytes, next) = Files.readFrom(path, offset: offset)
        guard !bytes.isEmpty else { return }
        offset = next
        let text = partial + String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        partial = String(lines.removeLast())
        for line in lines {
            guard let record = try? JSONParser.parse(String(line)), let task = record["task"]?.stringValue else { continue }
            let step = record["step"]?.intValue ?? 0
            switch record["kind"]?.stringValue {
            case "train":
                latest[task] = (record["time"]?.doubleValue ?? 0, step, record["loss"]?.doubleValue ?? .nan, record["examples_per_sec"]?.doubleValue ?? 0)
            case "eval":
                if let a = record["accuracy"]?.doubleValue { lastEval = (step, a) }
            default:
                break
            }
        }
    }
}
