import Synchronization
import TrainyardCore

/// User-space network emulation for this process's links (the machine's kernel has no netem).
///
/// Holds a bandwidth cap (bytes per second, token bucket shared by every outgoing link of the
/// process, as a NIC is) and per-link faults: added delay, a cap of its own, a partition (sends
/// and receives fail), each possibly limited to some peers. The launcher sets the process-wide
/// cap through `TRAINYARD_NET_BANDWIDTH`; faults arrive through a control file the task polls.
///
/// Not a global: a role process makes one (`RoleContext.shaper`) and hands it to every connection,
/// client and server it opens; a connection given none is not shaped. Tests make their own.
public final class NetworkShaper: Sendable {
    public init(_ conditions: Conditions = Conditions()) {
        state = Mutex(State(conditions: conditions))
    }

    /// The conditions in force; replaced as a whole.
    public struct Conditions: Sendable, Equatable {
        /// Bytes per second for all outgoing traffic of this task; nil = unlimited.
        public var bandwidth: Double?
        /// Rules that apply to links to particular peers (or to every peer when `peers` is nil).
        public var rules: [LinkRule] = []
        public init(bandwidth: Double? = nil, rules: [LinkRule] = []) {
            self.bandwidth = bandwidth
            self.rules = rules
        }
    }

    public struct LinkRule: Sendable, Equatable {
        /// The peers the rule applies to; nil = every peer.
        public var peers: Set<TaskID>?
        /// Extra one-way delay per message, in seconds.
        public var delay: Double = 0
        /// A bandwidth cap on these links, bytes per second.
        public var bandwidth: Double?
        /// Traffic on these links is dropped: sends and receives fail as if the peer vanished.
        public var partitioned = false
        public init(peers: Set<TaskID>? = nil, delay: Double = 0, bandwidth: Double? = nil, partitioned: Bool = false) {
            self.peers = peers
            self.delay = delay
            self.bandwidth = bandwidth
            self.partitioned = partitioned
        }
        func applies(to peer: TaskID?) -> Bool {
            guard let peers else { return true }
            guard let peer else { return false }
            return peers.contains(peer)
        }
    }

    private struct State {
        var conditions = Conditions()
        /// When the shared token bucket is next free (monotonic seconds).
        var nextFree: Double = 0
    }

    private let state: Mutex<State>

    public var conditions: Conditions { state.withLock { $0.conditions } }

    public func update(_ conditions: Conditions) {
        state.withLock { $0.conditions = conditions }
    }

    /// Delays the caller as the conditions demand before `bytes` go to `peer`; throws when the link
    /// is partitioned or the deadline would pass.
    func beforeSend(bytes: Int, to peer: TaskID?, deadline: Deadline) throws(SocketError) {
        let now = MonotonicClock.now()
        let wait: Double = try state.withLock { (s) throws(SocketError) -> Double in
            let rules = s.conditions.rules.filter { $0.applies(to: peer) }
            if rules.contains(where: \.partitioned) { throw SocketError.closed("network partition to \(peer?.description ?? "peer")") }
            var wait = rules.map(\.delay).max() ?? 0
            let caps = ([s.conditions.bandwidth] + rules.map(\.bandwidth)).compactMap { $0 }
            if let cap = caps.min(), cap > 0 {
                let start = max(now, s.nextFree)
                s.nextFree = start + Double(bytes) / cap
                wait = max(wait, s.nextFree - now)
            }
            return wait
        }
        if wait > 0 {
            if now + wait > deadline.at { 
                MonotonicClock.sleep(seconds: max(0, deadline.at - now))
                throw .timedOut("network shaping delayed a \(bytes)-byte message past its deadline")
            }
            MonotonicClock.sleep(seconds: wait)
        }
    }

    func afterReceive(bytes: Int, from peer: TaskID?, deadline: Deadline) throws(SocketError) {
        let partitioned = state.withLock { s in s.conditions.rules.contains { $0.partitioned && $0.applies(to: peer) } }
        if partitioned { throw .closed("network partition from \(peer?.description ?? "peer")") }
    }
}
