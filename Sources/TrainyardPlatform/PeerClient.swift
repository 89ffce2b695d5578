import TrainyardCore

/// Why a request to a peer failed.
public enum RPCError: Error, Equatable, CustomStringConvertible {
    /// The peer answered with an error.
    case server(WireError)
    /// The request did not get through or no answer came in time (the connection is dropped and
    /// the next request reconnects).
    case transport(String)

    public var code: WireError.Code? {
        if case .server(let e) = self { return e.code }
        return nil
    }

    public var description: String {
        switch self {
        case .server(let e): return e.description
        case .transport(let why): return why
        }
    }
}

/// The client side of one connection to a peer task: connects on demand, says hello with the job
/// token, and makes requests with deadlines. After any transport failure it drops the connection,
/// so the next request reconnects — a restarted peer is picked up without ceremony.
///
/// Used by one thread at a time.
public final class PeerClient: @unchecked Sendable {
    public let server: TaskID
    public let address: HostPort
    public let hello: Hello
    /// Stamped on every request; the trainer sets it when it learns the cluster's incarnation.
    public var incarnation: UInt32 = 0
    /// The server's status from the last hello on this connection.
    public private(set) var lastStatus: Status?
    /// Why the last request failed at the transport (nil after a request that got through): tells
    /// a name that does not resolve from a refused connection or a peer that does not answer.
    public private(set) var lastTransportFailure: SocketError?

    /// The emulated network this client's connections pass through; nil = unshaped.
    public let shaper: NetworkShaper?

    private var connection: FrameConnection?
    private var nextRequestID: UInt32 = 1

    /// The abstract name of the server's Unix-domain socket when it runs on this host under the same
    /// launcher (`LocalSockets`): tried first, TCP at `address` when nothing answers there.
    public let localName: String?
    /// Whether the current connection is the local (Unix-domain) one.
    public var isLocal: Bool { connection?.socket.isLocal ?? false }

    public init(server: TaskID, address: HostPort, hello: Hello, shaper: NetworkShaper? = nil, localName: String? = nil) {
        self.shaper = shaper
        self.localName = localName
        self.server = server
        self.address = address
        self.hello = hello
    }

    public var isConnected: Bool { connection != nil }

    /// Drops the connection (the next request reconnects).
    public func disconnect() {
        connection?.close()
        connection = nil
        lastStatus = nil
    }

    /// Drops the connection abruptly (TCP reset), as an injected network fault.
    public func reset() {
        connection?.socket.reset()
        connection = nil
        lastStatus = nil
    }

    /// Connects (if needed) and says hello; returns the server's status.
    @discardableResult
    public func connect(until deadline: Deadline) throws(RPCError) -> Status {
        if let connection, let lastStatus { _ = connection; return lastStatus }
        do {
            let socket: Socket
            if let localName, let local = try? Socket.connectLocal(name: localName, deadline: deadline) {
                socket = local
            } else {
                socket = try Socket.connect(to: address, deadline: deadline)
            }
            let conn = FrameConnection(socket: socket, peer: server, shaper: shaper)
            connection = conn
        } catch {
            lastTransportFailure = error
            throw .transport("cannot connect to \(server) at \(address): \(error)")
        }
        // The token stays here: the server challenges, the client proves its task's key.
        let challenge = try exchange(.hello(hello), until: deadline)
        guard case .challenge(let nonce) = challenge else {
            disconnect()
            throw .transport("\(server) answered hello with \(challenge.name)")
        }
        let reply = try exchange(.proof(mac: HelloGate.proof(token: hello.token, task: hello.task, nonce: nonce)), until: deadline)
        guard case .helloReply(let status) = reply else {
            disconnect()
            throw .transport("\(server) answered hello with \(reply.name)")
        }
        lastStatus = status
        lastTransportFailure = nil
        return status
    }

    /// Sends a request without waiting for the answer; returns its request id. Connects first.
    public func send(_ message: Message, until deadline: Deadline) throws(RPCError) -> UInt32 {
        try connect(until: deadline)
        return try sendOnConnection(message, until: deadline)
    }

    /// Sends a push whose gradients are `ranges` of `flat` back to back (a shard's pieces of the
    /// whole-model gradient array), written from there without gathering them first; the same
    /// bytes as `send(.push(…))` of the gathered array. Returns its request id. Connects first.
    public func sendPush(baseStep: Int64, returnValues: Bool, from flat: UnsafeBufferPointer<Float>, ranges: [Range<Int>],
                         until deadline: Deadline) throws(RPCError) -> UInt32 {
        try connect(until: deadline)
        guard let connection else { throw .transport("not connected to \(server)") }
        let id = nextRequestID
        nextRequestID &+= 1
        let millis = deadline.at == .infinity ? 0 : UInt32(clamping: max(1, Int(deadline.remaining * 1000)))
        let count = ranges.reduce(0) { $0 + $1.count }
        let head = TimeCounters.process.timeWithoutWaiting(.encode) {
            FrameCodec.pushHead(requestID: id, incarnation: incarnation, deadlineMillis: millis, baseStep: baseStep, returnValues: returnValues, count: count)
        }
        let raw = UnsafeRawBufferPointer(flat)
        let pieces = ranges.map { UnsafeRawBufferPointer(rebasing: raw[($0.lowerBound * 4)..<($0.upperBound * 4)]) }
        do {
            try connection.send(head: head, pieces: pieces, until: deadline)
        } catch {
            lastTransportFailure = error
            disconnect()
            throw .transport("\(server) at \(address): \(error)")
        }
        return id
    }

    /// Waits for the answer to request `id`. A server error is thrown as `.server`.
    public func receive(_ id: UInt32, until deadline: Deadline) throws(RPCError) -> Message {
        try receive(id, placingValues: nil, until: deadline).message
    }

    /// Waits for the answer to request `id`; a pull or push reply whose values fit `ranges` of
    /// the whole-model array at `base` exactly has them put there (`placed`), and its message
    /// carries none. Answers to other requests never touch the array.
    public func receive(_ id: UInt32, placingValuesAt base: UnsafeMutablePointer<Float>, ranges: [Range<Int>], until deadline: Deadline) throws(RPCError) -> (message: Message, placed: Bool) {
        try receive(id, placingValues: FrameConnection.ValuesDestination(base: base, ranges: ranges, requestID: id), until: deadline)
    }

    private func receive(_ id: UInt32, placingValues destination: FrameConnection.ValuesDestination?, until deadline: Deadline) throws(RPCError) -> (message: Message, placed: Bool) {
        guard let connection else { throw .transport("not connected to \(server)") }
        while true {
            let frame: Frame
            do {
                frame = try connection.receive(until: deadline, placingValues: destination)
            } catch {
                lastTransportFailure = error as? SocketError ?? .closed("\(error)")
                disconnect()
                throw .transport("\(server) at \(address): \(error)")
            }
            guard frame.requestID == id else { continue }  // an answer to a request we gave up on
            if case .error(let e) = frame.message {
                if e.code == .badToken || e.code == .helloRequired || e.code == .unknownTask { disconnect() }
                throw .server(e)
            }
            return (frame.message, connection.valuesPlaced)
        }
    }

    /// Sends a request and waits for its answer.
    public func call(_ message: Message, timeout: Double) throws(RPCError) -> Message {
        let deadline = Deadline.after(seconds: timeout)
        let id = try send(message, until: deadline)
        return try receive(id, until: deadline)
    }

    private func sendOnConnection(_ message: Message, until deadline: Deadline) throws(RPCError) -> UInt32 {
        guard let connection else { throw .transport("not connected to \(server)") }
        let id = nextRequestID
        nextRequestID &+= 1
        let millis = deadline.at == .infinity ? 0 : UInt32(clamping: max(1, Int(deadline.remaining * 1000)))
        do {
            try connection.send(Frame(requestID: id, incarnation: incarnation, deadlineMillis: millis, message: message), until: deadline)
        } catch {
            lastTransportFailure = error
            disconnect()
            throw .transport("\(server) at \(address): \(error)")
        }
        return id
    }

    private func exchange(_ message: Message, until deadline: Deadline) throws(RPCError) -> Message {
        let id = try sendOnConnection(message, until: deadline)
        return try receive(id, until: deadline)
    }
}
