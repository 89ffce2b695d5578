import Synchronization
import TrainyardCore
import TrainyardPlatform

/// Polls the cluster's global step from the launcher's side (status to ps-0, else to the chief),
/// on its own thread, so that a stopped or partitioned task never stalls the launcher's loop.
final class ClusterProbe: Sendable {
    private let samples = Mutex<[(time: Double, step: Int64)]>([])
    private let stopped = Atomic<Bool>(false)
    private let start: Double

    init(start: Double) { self.start = start }

    func run(cluster: ClusterSpec, token: String, interval: Double = 0.02) {
        let hello = Hello(token: token, task: TaskID(.evaluator, 0))
        let targets: [(TaskID, HostPort)] = cluster.addresses(of: .ps).prefix(1).map { (.ps(0), $0) }
            + (cluster.chiefTask.flatMap { t in cluster.address(of: t).map { (t, $0) } }.map { [$0] } ?? [])
        let clients = targets.map { PeerClient(server: $0.0, address: $0.1, hello: hello) }
        startThread(name: "cluster-probe") { [self] in
            while !stopped.load(ordering: .relaxed) {
                for client in clients {
                    if let reply = try? client.call(.status, timeout: 0.25), case .statusReply(let s) = reply {
                        if s.globalStep > 0 || s.initialized {
                            let t = MonotonicClock.now() - start
                            samples.withLock { $0.append((t, s.globalStep)) }
                        }
                        break
                    }
                }
                MonotonicClock.sleep(seconds: interval)
            }
            for c in clients { c.disconnect() }
        }
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    var latestStep: Int64 { samples.withLock { $0.last?.step ?? 0 } }
    var all: [(time: Double, step: Int64)] { samples.withLock { $0 } }
}
