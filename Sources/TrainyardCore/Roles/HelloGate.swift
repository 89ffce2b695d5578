/// The door of every Trainyard server (a parameter server, a training task's control server):
/// a connection's first message must be a hello carrying the job's token and naming a task of
/// the job's cluster; until one has, nothing else is answered. A hello binds its connection to
/// that one task. Pure: the server keeps one `Peer` per connection and asks the gate about each
/// message before handling it.
public struct HelloGate: Sendable, Equatable {
    /// What a server knows about one connection.
    public struct Peer: Sendable, Equatable {
        /// Set once the connection proved it holds the key of the task its hello named.
        public var task: TaskID?
        /// The task the hello named, waiting for its `proof`.
        public var claimed: TaskID?
        /// This connection's challenge: random, one per connection.
        public var nonce: [UInt8]

        public init(task: TaskID? = nil, nonce: [UInt8]? = nil) {
            self.task = task
            self.nonce = nonce ?? HelloGate.randomNonce()
        }
    }

    /// The gate's answer to one message.
    public enum Verdict: Sendable, Equatable {
        /// A hello naming a task of the cluster: answer with `challenge(nonce)`.
        case challenged(nonce: [UInt8])
        /// A proof made with the task's key: `peer` now knows the task; answer with the server's
        /// `helloReply`.
        case welcomed(TaskID)
        /// A request on a connection that said hello before: handle it.
        case admitted(TaskID)
        /// Answer with this error, then close the connection.
        case refused(WireError)
    }

    /// The identity the launcher's progress probe says hello as (`ClusterProbe`): admitted even
    /// though no cluster lists it, and only ever asks `status` (a parameter server takes pushes
    /// from training tasks only).
    public static let launcherProbe = TaskID(.evaluator, 0)

    /// The per-job secret every hello must carry.
    public let token: String
    /// The tasks a hello may name (TF_CONFIG's cluster, plus `launcherProbe`); nil = any task.
    public let members: Set<TaskID>?

    public init(token: String, members: Set<TaskID>? = nil) {
        self.token = token
        self.members = members.map { $0.union([HelloGate.launcherProbe]) }
    }

    /// A gate that admits the tasks of `cluster` only.
    public init(token: String, cluster: ClusterSpec) {
        self.init(token: token, members: Set(cluster.tasks))
    }

    /// Checks `message`, the next one on `peer`'s connection: a hello naming a task of the
    /// cluster is challenged; a proof made with that task's key (re)sets `peer.task`.
    public func admit(_ message: Message, from peer: inout Peer) -> Verdict {
        switch message {
        case .hello(let hello):
            if let members, !members.contains(hello.task) {
                return .refused(WireError(.unknownTask, "\(hello.task) is not a task of this job's cluster"))
            }
            // A connection is one task's: a second hello may not rebind it to another.
            if let bound = peer.task, bound != hello.task {
                return .refused(WireError(.unknownTask, "this connection belongs to \(bound), not \(hello.task)"))
            }
            peer.claimed = hello.task
            return .challenged(nonce: peer.nonce)
        case .proof(let mac):
            guard let claimed = peer.claimed else {
                return .refused(WireError(.helloRequired, "a proof must answer the challenge to a hello"))
            }
            guard HelloGate.constantTimeEqual(mac, HelloGate.proof(token: token, task: claimed, nonce: peer.nonce)) else {
                return .refused(WireError(.badToken, "the hello's job token is not this job's"))
            }
            peer.task = claimed
            return .welcomed(claimed)
        default:
            guard let task = peer.task else {
                return .refused(WireError(.helloRequired, "the first message on a connection must be a hello"))
            }
            return .admitted(task)
        }
    }

    /// Task `task`'s key: HMAC-SHA-256 of its name (`worker-1`) under the job token. A key proves
    /// one task, and the token itself never crosses the wire.
    public static func key(token: String, task: TaskID) -> [UInt8] {
        SHA256.hmac(key: Array(token.utf8), message: Array(task.description.utf8))
    }

    /// The answer to a challenge: HMAC-SHA-256 of the nonce and the task's name under its key.
    public static func proof(token: String, task: TaskID, nonce: [UInt8]) -> [UInt8] {
        SHA256.hmac(key: key(token: token, task: task), message: nonce + Array(task.description.utf8))
    }

    /// 32 random bytes.
    public static func randomNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Compares two tokens in time that depends on their lengths only, not on where they differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool { constantTimeEqual(Array(a.utf8), Array(b.utf8)) }

    static func constantTimeEqual(_ x: [UInt8], _ y: [UInt8]) -> Bool {
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}
