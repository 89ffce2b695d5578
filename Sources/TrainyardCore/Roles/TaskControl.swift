/// The small server every training task (chief and workers) runs on its own TF_CONFIG address:
/// it answers `status` and obeys the chief's `shutdown`. Pure: the shell supplies the status.
public struct TaskControl: Sendable {
    /// What the server knows about one connection (whether it said hello, and as whom).
    public typealias Peer = HelloGate.Peer

    public enum Directive: Sendable, Equatable {
        case reply(Frame)
        case close
        /// The chief said the job is over.
        case shutdown(reason: String)
    }

    /// Checks every connection's hello and the job's token (the same gate as a parameter server's).
    public let gate: HelloGate
    public var token: String { gate.token }
    /// `members`: the tasks a hello may name (the cluster's); nil = any.
    public init(token: String, members: Set<TaskID>? = nil) { gate = HelloGate(token: token, members: members) }

    /// The largest payload the control server reads after a hello: its requests are small.
    public static let payloadLimit = 64 << 10

    public func handle(_ frame: Frame, from peer: inout Peer, status: Status) -> [Directive] {
        func reply(_ m: Message) -> Directive { .reply(Frame(requestID: frame.requestID, incarnation: status.incarnation, message: m)) }
        let caller: TaskID
        switch gate.admit(frame.message, from: &peer) {
        case .challenged(let nonce): return [reply(.challenge(nonce: nonce))]
        case .welcomed: return [reply(.helloReply(status))]
        case .refused(let error): return [reply(.error(error)), .close]
        case .admitted(let task): caller = task
        }
        switch frame.message {
        case .status:
            return [reply(.statusReply(status))]
        case .shutdown(let reason):
            guard caller.type.isChief else {
                return [reply(.error(WireError(.badRequest, "only the chief shuts the job down")))]
            }
            return [reply(.ack(globalStep: status.globalStep)), .shutdown(reason: reason)]
        default:
            return [reply(.error(WireError(.badRequest, "\(frame.message.name) is not a request a \(status.task.type) task answers")))]
        }
    }
}
