/// The small server every training task (chief and workers) runs on its own TF_CONFIG address:
/// it answers `status` and obeys the chief's `shutdown`. Pure: the shell supplies the status.
public struct TaskControl: Sendable {
    public struct Peer: Sendable, Equatable {
        public var task: TaskID?
        public init() {}
    }

    public enum Directive: Sendable, Equatable {
        case reply(Frame)
        case close
        /// The chief said the job is over.
        case shutdown(reason: String)
    }

    public let token: String
    public init(token: String) { self.token = token }

    public func handle(_ frame: Frame, from peer: inout Peer, status: Status) -> [Directive] {
        func reply(_ m: Message) -> Directive { .reply(Frame(requestID: frame.requestID, incarnation: status.incarnation, message: m)) }
        switch frame.message {
        case .hello(let h):
            guard h.token == token else {
                return [reply(.error(WireError(.badToken, "the hello's job token is not this job's"))), .close]
            }
            peer.task = h.task
            return [reply(.helloReply(status))]
        case _ where peer.task == nil:
            return [reply(.error(WireError(.helloRequired, "the first message on a connection must be a hello"))), .close]
        case .status:
            return [reply(.statusReply(status))]
        case .shutdown(let reason):
            guard peer.task?.type.isChief == true else {
                return [reply(.error(WireError(.badRequest, "only the chief shuts the job down")))]
            }
            return [reply(.ack(globalStep: status.globalStep)), .shutdown(reason: reason)]
        default:
            return [reply(.error(WireError(.badRequest, "\(frame.message.name) is not a request a \(status.task.type) task answers")))]
        }
    }
}
