import Foundation
import Synchronization
import TrainyardPlatform

/// Work on several threads at the same moment, for the measurements that compare every core
/// computing at once with one core alone (`Calibration.concurrentComputeSlowdown`,
/// `ClusterBench.allCoresRate`). `DispatchQueue.concurrentPerform` does not promise that its
/// iterations overlap, and threads that time their own windows after their own setup overlap only
/// in part; here every thread sets up, then all start together and stop at one shared deadline.
enum Together {
    /// One thread's run: the steps it made, and the wall and CPU seconds they took.
    struct Run: Sendable {
        var steps: Int
        var wallSeconds: Double
        var cpuSeconds: Double
    }

    private final class Shared: Sendable {
        let deadline = Mutex<Double>(0)
        let runs = Mutex<[Run]>([])
    }

    /// Starts `threads` threads; each builds its step with `make(k)` and runs it once (neither
    /// timed), then all are released together and step until `seconds` after the release (each at
    /// least once). Returns their runs when all have stopped.
    static func run(threads: Int, seconds: Double, make: @escaping @Sendable (Int) -> () -> Void) -> [Run] {
        let count = max(1, threads)
        let shared = Shared()
        let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        for k in 0..<count {
            let thread = Thread {
                let step = make(k)
                step()
                ready.signal()
                go.wait()
                let end = shared.deadline.withLock { $0 }
                let wall0 = MonotonicClock.now(), cpu0 = Posix.threadCPUSeconds()
                var steps = 0
                repeat {
                    step()
                    steps += 1
                } while MonotonicClock.now() < end
                let run = Run(steps: steps, wallSeconds: MonotonicClock.now() - wall0, cpuSeconds: Posix.threadCPUSeconds() - cpu0)
                shared.runs.withLock { $0.append(run) }
                done.signal()
            }
            thread.name = "together-\(k)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<count { ready.wait() }
        shared.deadline.withLock { $0 = MonotonicClock.now() + seconds }
        for _ in 0..<count { go.signal() }
        for _ in 0..<count { done.wait() }
        return shared.runs.withLock { $0 }
    }
}
