/// The door of every Trainyard server (a parameter server, a training task's control server):
/// a connection's first message must be a hello carrying the job's token; until one has, nothing
/// else is answered. Pure: the server keeps one `Peer` per connection and asks the gate about
/// each message before handling it.
public struct HelloGate: Sendable, Equatable {
    /// What a server knows about one connection.
    public struct Peer: Sendable, Equatable {
        /// Set once the connection's hello carried the right token.
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

    /// The per-job secret every hello must carry.
    public let token: String

    public init(token: String) { self.token = token }

    /// Checks `message`, the next one on `peer`'s connection; a good hello (re)sets `peer.task`.
    public func admit(_ message: Message, from peer: inout Peer) -> Verdict {
        if case .hello(let hello) = message {
            guard hello.token == token else { return .refused(WireError(.badToken, "the hello's job token is not this job's")) }
            peer.task = hello.task
            return .welcomed(hello.task)
        }
        guard let task = peer.task else {
            return .refused(WireError(.helloRequired, "the first message on a connection must be a hello"))
        }
        return .admitted(task)
    }
}
