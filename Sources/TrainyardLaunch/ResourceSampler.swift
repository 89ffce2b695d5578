import TrainyardCore
import TrainyardPlatform

/// Samples the CPU and memory of every running task into `<job-dir>/resources.jsonl` from the
/// launcher's loop: every 0.1 s in a job's first 10 s (small jobs take well under a second), then
/// every 0.5 s, then every 2 s after 5 minutes. Each line: `time` (Unix seconds), `elapsed`
/// (seconds since the launcher started), `task`, `pid`, `cpu_percent` (of one core, over the last
/// interval; absent on a task's first sample), `cpu_seconds` (the process's CPU so far), `rss_bytes`,
/// `written_bytes` (bytes passed to write-like system calls so far — sockets, pipes and files:
/// `wchar` of `/proc/PID/io`; absent where the kernel hides it).
public struct ResourceSampler {
    public let path: String
    private let started: Double
    private var last: [TaskID: (pid: Int32, at: Double, cpu: Double)] = [:]
    private var nextAt: Double

    public init(jobDirectory: String, started: Double) {
        path = jobDirectory + "/resources.jsonl"
        self.started = started
        nextAt = started
    }

    /// Seconds between samples `elapsed` seconds into the job.
    public static func interval(after elapsed: Double) -> Double { elapsed < 10 ? 0.1 : elapsed < 300 ? 0.5 : 2 }

    /// Takes a sample of `pids` if one is due at `now` (monotonic seconds).
    public mutating func sample(_ pids: [TaskID: Int32], now: Double) {
        guard now >= nextAt else { return }
        nextAt = now + ResourceSampler.interval(after: now - started)
        let wall = MonotonicClock.wallNow()
        var lines: [String] = []
        for (task, pid) in pids.sorted(by: { $0.key < $1.key }) {
            guard let usage = ProcessTable.usage(of: pid) else { continue }
            var fields: [(String, JSONValue)] = [("time", JSONValue((wall * 1000).rounded() / 1000)), ("elapsed", JSONValue(((now - started) * 1000).rounded() / 1000)),
                                                 ("task", .string(task.description)), ("pid", JSONValue(Int(pid)))]
            if let previous = last[task], previous.pid == pid, now > previous.at {
                fields.append(("cpu_percent", JSONValue(((usage.cpuSeconds - previous.cpu) / (now - previous.at) * 1000).rounded() / 10)))
            }
            fields.append(("cpu_seconds", JSONValue((usage.cpuSeconds * 1000).rounded() / 1000)))
            fields.append(("rss_bytes", JSONValue(usage.residentBytes)))
            if let written = ProcessTable.writtenBytes(of: pid) { fields.append(("written_bytes", JSONValue(written))) }
            last[task] = (pid, now, usage.cpuSeconds)
            lines.append(JSONValue.object(fields).serialized())
        }
        guard !lines.isEmpty else { return }
        try? Files.appendLine(lines.joined(separator: "\n"), to: path)
    }
}
