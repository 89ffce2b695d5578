import Foundation
import Synchronization
import TrainyardCore

/// One task's TensorBoard run: `<job-dir>/tensorboard/<task>/events.out.tfevents.<time>.<host>.<pid>.0`.
///
/// `add` only queues an encoded record; a background thread appends the queue to the file every
/// 0.25 s (a SIGKILLed task loses at most that), and `flush()` (also run at process exit) writes
/// what is left. Each process opens a new file that sorts after the run's older ones, so a
/// restarted task never rewrites its past; the first point of a restarted task carries a
/// `session_log START` so TensorBoard drops superseded ones. Write failures are dropped silently:
/// event files are a view, never a reason to stop training.
public final class TensorBoardWriter: Sendable {
    public let directory: String
    public let path: String
    private struct State {
        var pending: [UInt8] = []
        var startPending: Bool
        var fd: Int32 = -1
    }
    private let state: Mutex<State>

    /// Opens a new event file for `task` under `<jobDirectory>/tensorboard/`, and starts its flusher.
    public init(jobDirectory: String, task: String, now: Double = MonotonicClock.wallNow()) {
        directory = jobDirectory + "/tensorboard/" + task
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let earlier = Files.list(directory).filter { $0.contains("tfevents") }.sorted()
        var stamp = Int(now)
        let host = Posix.hostname().replacingOccurrences(of: "/", with: "_")
        func name(_ t: Int) -> String { "events.out.tfevents.\(String(format: "%010d", t)).\(host).\(Posix.getpid()).0" }
        while let last = earlier.last, name(stamp) <= last { stamp += 1 }
        path = directory + "/" + name(stamp)
        state = Mutex(State(startPending: !earlier.isEmpty))
        let header = TFEvents.Event(wallTime: now, step: 0, payload: .fileVersion(TFEvents.fileVersion))
        state.withLock { $0.pending = TFEvents.record(TFEvents.encode(header)) }
        flush()
        startThread(name: "tensorboard-\(task)") { [weak self] in
            while let writer = self {
                writer.flush()
                MonotonicClock.sleep(seconds: 0.25)
            }
        }
    }

    /// Queues the scalars of one step (nothing when `scalars` is empty).
    public func add(step: Int64, scalars: [TFEvents.Scalar], wallTime: Double = MonotonicClock.wallNow()) {
        guard !scalars.isEmpty else { return }
        state.withLock { s in
            if s.startPending {
                s.startPending = false
                s.pending += TFEvents.record(TFEvents.encode(.init(wallTime: wallTime, step: step, payload: .sessionStart)))
            }
            s.pending += TFEvents.record(TFEvents.encode(.init(wallTime: wallTime, step: step, payload: .scalars(scalars))))
        }
    }

    /// Queues a `session_log START` at `step`: the points of this run at or after it are superseded
    /// (the chief restoring the cluster from a checkpoint).
    public func restart(at step: Int64, wallTime: Double = MonotonicClock.wallNow()) {
        state.withLock { s in
            s.startPending = false
            s.pending += TFEvents.record(TFEvents.encode(.init(wallTime: wallTime, step: step, payload: .sessionStart)))
        }
    }

    /// Appends everything queued to the file.
    public func flush() {
        state.withLock { s in
            guard !s.pending.isEmpty else { return }
            if s.fd < 0 { s.fd = (try? Posix.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o644)) ?? -1 }
            guard s.fd >= 0 else { return }
            let bytes = s.pending
            s.pending = []
            _ = try? bytes.withUnsafeBytes { raw in try Posix.write(s.fd, raw.baseAddress!, count: raw.count, path) }
        }
    }

    // MARK: The process's writers

    private static let writers = Mutex<[String: TensorBoardWriter]>([:])

    /// The writer of `task` in this process (opened on first use; every one is flushed at exit).
    public static func shared(jobDirectory: String, task: String) -> TensorBoardWriter {
        writers.withLock { all in
            let key = jobDirectory + "\u{0}" + task
            if let w = all[key] { return w }
            if all.isEmpty { atexit { TensorBoardWriter.flushAll() } }
            let w = TensorBoardWriter(jobDirectory: jobDirectory, task: task)
            all[key] = w
            return w
        }
    }

    /// Flushes every writer of this process.
    public static func flushAll() {
        for w in writers.withLock({ Array($0.values) }) { w.flush() }
    }

    /// Sends one `metrics.jsonl` record to its task's run: its scalars (TensorBoardTags), or a
    /// session start when the chief restored the cluster at a step above 0.
    public static func forward(record: JSONValue, jobDirectory: String) {
        guard let task = record["task"]?.stringValue, let step = record["step"]?.doubleValue else { return }
        if record["kind"]?.stringValue == "restore" {
            if step > 0 { shared(jobDirectory: jobDirectory, task: task).restart(at: Int64(step)) }
            return
        }
        let scalars = TensorBoardTags.scalars(of: record)
        guard !scalars.isEmpty else { return }
        shared(jobDirectory: jobDirectory, task: task).add(step: Int64(step), scalars: scalars,
                                                            wallTime: record["time"]?.doubleValue ?? MonotonicClock.wallNow())
    }
}
