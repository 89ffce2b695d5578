import TrainyardCore

/// A connection that carries Trainyard frames: one `Socket`, framed by `FrameCodec`.
///
/// Every send and receive has a deadline. Outgoing bytes pass through the `NetworkShaper` the
/// connection was given (bandwidth emulation and injected network faults), if any.
public final class FrameConnection: @unchecked Sendable {
    public let socket: Socket
    /// The task at the other end, when known (used by the shaper to apply per-link faults).
    public var peer: TaskID?
    public let payloadLimit: Int
    /// The emulated network this connection's traffic passes through; nil = unshaped.
    public let shaper: NetworkShaper?

    public init(socket: Socket, peer: TaskID? = nil, payloadLimit: Int = FrameCodec.defaultPayloadLimit, shaper: NetworkShaper? = nil) {
        self.socket = socket
        self.peer = peer
        self.payloadLimit = payloadLimit
        self.shaper = shaper
    }

    public func send(_ frame: Frame, until deadline: Deadline) throws(SocketError) {
        let bytes = FrameCodec.encode(frame)
        try shaper?.beforeSend(bytes: bytes.count, to: peer, deadline: deadline)
        try socket.write(bytes, until: deadline)
    }

    /// Reads one frame. Throws `SocketError` for transport failures and `FrameError` for bytes that
    /// are not a valid frame (the caller should close the connection).
    public func receive(until deadline: Deadline) throws -> Frame {
        var header = [UInt8](repeating: 0, count: FrameCodec.headerSize)
        try header.withUnsafeMutableBytes { raw in try socket.read(into: raw, until: deadline) }
        let h = try FrameCodec.decodeHeader(header, limit: payloadLimit)
        var payload = [UInt8](repeating: 0, count: h.payloadLength)
        if h.payloadLength > 0 {
            try payload.withUnsafeMutableBytes { raw in try socket.read(into: raw, until: deadline) }
        }
        try shaper?.afterReceive(bytes: FrameCodec.headerSize + h.payloadLength, from: peer, deadline: deadline)
        return try FrameCodec.decodePayload(h, payload)
    }

    public func close() { socket.close() }
}
