/// The door of every Trainyard server (a parameter server, a training task's control server):
/// a connection's first message must be a hello carrying the job's token and naming a task of
/// the job's cluster; until one has, nothing else is answered. A hello binds its connection to
/// that one task. Pure: the server keeps one `Peer` per connection and asks the gate about each
/// message before handling it.
public struct HelloGate: Sendable, Equatable {
    /// What a server knows about one connection.
    public struct Peer: Sendable, Equatable {
        /// Set once the connection's hello carried the right token and a task of the cluster.
        public var task: TaskID?
        public init(task: TaskID? = nil) { self.task = task }
    }

    /// The gate's answer to one message.
    public enum Verdict: Sendable, Equatable {
        /// A hello with the job's token: `peer` now knows the task; answer with the server's
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

    /// Checks `message`, the next one on `peer`'s connection; a good hello (re)sets `peer.task`.
    public func admit(_ message: Message, from peer: inout Peer) -> Verdict {
        if case .hello(let hello) = message {
            guard HelloGate.constantTimeEqual(hello.token, token) else {
                return .refused(WireError(.badToken, "the hello's job token is not this job's"))
            }
            if let members, !members.contains(hello.task) {
                return .refused(WireError(.unknownTask, "\(hello.task) is not a task of this job's cluster"))
            }
            // A connection is one task's: a second hello may not rebind it to another.
            if let bound = peer.task, bound != hello.task {
                return .refused(WireError(.unknownTask, "this connection belongs to \(bound), not \(hello.task)"))
            }
            peer.task = hello.task
            return .welcomed(hello.task)
        }
        guard let task = peer.task else {
            return .refused(WireError(.helloRequired, "the first message on a connection must be a hello"))
        }
        return .admitted(task)
    }

    /// Compares two tokens in time that depends on their lengths only, not on where they differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}
