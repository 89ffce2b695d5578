import TrainyardCore
import TrainyardPlatform

/// What a training task needs from one parameter shard, whether it lives in a ps process
/// (`PeerClient`) or in the task itself (`LocalShard`, for a chief training alone: BASIC).
public protocol ShardClient: AnyObject {
    var server: TaskID { get }
    var incarnation: UInt32 { get set }
    var isConnected: Bool { get }
    @discardableResult func connect(until deadline: Deadline) throws(RPCError) -> Status
    func send(_ message: Message, until deadline: Deadline) throws(RPCError) -> UInt32
    func receive(_ id: UInt32, until deadline: Deadline) throws(RPCError) -> Message
    func call(_ message: Message, timeout: Double) throws(RPCError) -> Message
    func reset()
    func disconnect()
}

extension PeerClient: ShardClient {}

/// The variables held in the training process itself: the `ParameterServer` logic answering
/// directly, with no socket. Used when the cluster has no parameter servers (the BASIC tier).
public final class LocalShard: ShardClient {
    public let server = TaskID.ps(0)
    public var incarnation: UInt32 = 0
    public var isConnected: Bool { true }
    private var state: ParameterServer
    private var peer = ParameterServer.Peer()
    private var answers: [UInt32: Message] = [:]
    private var nextID: UInt32 = 1

    public init(owner: TaskID, token: String, optimizer: OptimizerConfig) {
        state = ParameterServer(task: .ps(0), token: token, optimizer: optimizer)
        state.handshake(Hello(token: token, task: owner), from: &peer)
    }

    public func connect(until deadline: Deadline) throws(RPCError) -> Status { state.status }

    public func send(_ message: Message, until deadline: Deadline) throws(RPCError) -> UInt32 {
        let id = nextID
        nextID &+= 1
        for case .reply(let frame) in state.handle(Frame(requestID: id, incarnation: incarnation, message: message), from: &peer) {
            answers[id] = frame.message
        }
        return id
    }

    public func receive(_ id: UInt32, until deadline: Deadline) throws(RPCError) -> Message {
        guard let answer = answers.removeValue(forKey: id) else { throw .transport("no answer to local request \(id)") }
        if case .error(let e) = answer { throw .server(e) }
        return answer
    }

    public func call(_ message: Message, timeout: Double) throws(RPCError) -> Message {
        try receive(try send(message, until: .after(seconds: timeout)), until: .after(seconds: timeout))
    }

    public func reset() {}
    public func disconnect() {}
}
