import Synchronization
import TrainyardCore

/// Where a process's time goes, as cumulative nanoseconds per named bucket: the tasks' own
/// profile, which `trainyard bench cluster` reads from each task's `kind: "profile"` record in
/// `metrics.jsonl` (written when the task ends).
///
/// Safe from any thread (the ps serves each connection on its own). Reading the clock costs tens
/// of nanoseconds; a frame or an optimizer step costs tens of microseconds at least.
public final class TimeCounters: Sendable {
    /// The buckets, in the order they are reported.
    public enum Bucket: Int, CaseIterable, Sendable {
        /// Trainer: forward and backward pass (the gradients).
        case compute
        /// Trainer: the batch's examples copied out of the data set (made first, when synthetic and new).
        case data
        /// Trainer: the whole pull of every shard (send, wait, decode, scatter).
        case pull
        /// Trainer: the whole push of every shard and its reply (send, wait for the ps, decode, scatter).
        case push
        /// Ps: waiting for the shard's lock (another connection's request was being handled).
        case lockWait
        /// Ps: a request other than a push handled under the lock (a pull's reply is built there).
        case handle
        /// Ps: a push handled under the lock: its NaN check and the optimizer update.
        case update
        /// Any process: frames turned into bytes.
        case encode
        /// Any process: bytes turned back into frames.
        case decode
        /// Any process: handing frames to the kernel (including waiting for socket buffer room).
        case send
        /// Any process: reading a frame's payload once its header arrived.
        case receive
        /// Any process: waiting for the next frame's header (the peer's think time: idle for a ps).
        case waitHeader

        public var name: String {
            switch self {
            case .compute: return "compute"
            case .data: return "data"
            case .pull: return "pull"
            case .push: return "push"
            case .lockWait: return "lock_wait"
            case .handle: return "handle"
            case .update: return "update"
            case .encode: return "encode"
            case .decode: return "decode"
            case .send: return "send"
            case .receive: return "receive"
            case .waitHeader: return "wait_header"
            }
        }
    }

    /// The process's counters (the wire's and the role's share them).
    public static let process = TimeCounters()

    private let slots = Mutex<[Int]>(Array(repeating: 0, count: Bucket.allCases.count))

    public init() {}

    /// CPU nanoseconds of the threads while in each bucket (what the work cost, whatever the
    /// scheduler did: on a busy machine wall time also counts the time others ran).
    private let cpuSlots = Mutex<[Int]>(Array(repeating: 0, count: Bucket.allCases.count))

    /// Adds `seconds` of wall time (and `cpu` seconds of this thread's CPU) to `bucket`.
    public func add(_ bucket: Bucket, seconds: Double, cpu: Double = 0) {
        let n = Int(max(0, seconds) * 1e9)
        slots.withLock { $0[bucket.rawValue] += n }
        if cpu > 0 { cpuSlots.withLock { $0[bucket.rawValue] += Int(cpu * 1e9) } }
    }

    /// Runs `body` and adds its wall time and this thread's CPU time to `bucket`.
    public func time<T, E: Error>(_ bucket: Bucket, _ body: () throws(E) -> T) throws(E) -> T {
        let start = MonotonicClock.now(), startCPU = Posix.threadCPUSeconds()
        defer { add(bucket, seconds: MonotonicClock.now() - start, cpu: Posix.threadCPUSeconds() - startCPU) }
        return try body()
    }

    /// `time` for work that never waits (no system call that blocks, no lock): encoding, decoding,
    /// a ps's update under its lock. Its CPU is taken to be its wall time, which saves the two
    /// thread-CPU readings (a system call each, 0.4 µs on the project's machines, more than a
    /// small frame's encoding costs); a preemption in the middle would count as CPU.
    public func timeWithoutWaiting<T, E: Error>(_ bucket: Bucket, _ body: () throws(E) -> T) throws(E) -> T {
        let start = MonotonicClock.now()
        defer {
            let wall = MonotonicClock.now() - start
            add(bucket, seconds: wall, cpu: wall)
        }
        return try body()
    }

    /// Wall seconds per bucket so far.
    public func seconds(_ bucket: Bucket) -> Double { Double(slots.withLock { $0[bucket.rawValue] }) * 1e-9 }

    /// Every bucket with time in it, for a profile record: `<bucket>_seconds` (wall) and
    /// `<bucket>_cpu_seconds` (the threads' CPU), rounded to microseconds.
    public var fields: [(String, JSONValue)] {
        let wall = slots.withLock { $0 }, cpu = cpuSlots.withLock { $0 }
        func round(_ n: Int) -> JSONValue { JSONValue((Double(n) * 1e-3).rounded() / 1e6) }
        return Bucket.allCases.flatMap { b -> [(String, JSONValue)] in
            (wall[b.rawValue] == 0 ? [] : [(b.name + "_seconds", round(wall[b.rawValue]))])
                + (cpu[b.rawValue] == 0 ? [] : [(b.name + "_cpu_seconds", round(cpu[b.rawValue]))])
        }
    }
}
