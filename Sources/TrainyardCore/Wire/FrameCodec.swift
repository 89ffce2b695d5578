/// One message on the wire with its header fields.
public struct Frame: Sendable, Equatable {
    /// Matches a reply to its request; the reply carries the request's id.
    public var requestID: UInt32
    /// The sender's cluster incarnation (0 before the chief has initialized the cluster).
    public var incarnation: UInt32
    /// How long the sender will wait for the answer, in milliseconds; 0 = no deadline.
    public var deadlineMillis: UInt32
    public var message: Message

    public init(requestID: UInt32 = 0, incarnation: UInt32 = 0, deadlineMillis: UInt32 = 0, message: Message) {
        self.requestID = requestID
        self.incarnation = incarnation
        self.deadlineMillis = deadlineMillis
        self.message = message
    }
}

/// Why bytes are not a valid frame.
public enum FrameError: Error, Equatable, CustomStringConvertible {
    case badMagic(UInt32)
    case unsupportedVersion(UInt8)
    case oversized(length: Int, limit: Int)
    case unknownTag(UInt8)
    case malformed(tag: UInt8, reason: String)
    case truncated(needed: Int, available: Int)

    public var description: String {
        switch self {
        case .badMagic(let m): return "not a Trainyard frame (magic 0x\(String(m, radix: 16)))"
        case .unsupportedVersion(let v): return "unsupported protocol version \(v) (this build speaks \(FrameCodec.version))"
        case .oversized(let length, let limit): return "frame payload of \(length) bytes exceeds the limit of \(limit)"
        case .unknownTag(let t): return "unknown message tag \(t)"
        case .malformed(let tag, let reason): return "malformed message (tag \(tag)): \(reason)"
        case .truncated(let needed, let available): return "truncated frame: needed \(needed) bytes, have \(available)"
        }
    }
}

/// The frame format: a 24-byte little-endian header, then the payload.
///
/// ```
/// offset size field
///  0     4    magic "TYRD" (0x54 0x59 0x52 0x44)
///  4     1    protocol version (3)
///  5     1    message tag
///  6     2    flags (0)
///  8     4    request id
/// 12     4    cluster incarnation
/// 16     4    deadline in milliseconds (0 = none)
/// 20     4    payload length in bytes
/// ```
public enum FrameCodec {
    public static let magic: UInt32 = 0x4452_5954  // "TYRD" read as little-endian
    public static let version: UInt8 = 3
    public static let headerSize = 24
    /// The default largest payload accepted: 512 MiB, far above any model Trainyard trains.
    public static let defaultPayloadLimit = 512 << 20

    /// The header fields, once the first `headerSize` bytes are in.
    public struct Header: Equatable, Sendable {
        public var tag: UInt8
        public var flags: UInt16
        public var requestID: UInt32
        public var incarnation: UInt32
        public var deadlineMillis: UInt32
        public var payloadLength: Int
    }

    /// Serializes a frame: header and payload in one buffer, ready for a single write.
    public static func encode(_ frame: Frame) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize + estimatedPayloadSize(frame.message))
        writeHeader(frame, into: &w)
        encodePayload(frame.message, into: &w)
        w.patch(UInt32(w.bytes.count - headerSize), at: 20)
        return w.bytes
    }

    private static func writeHeader(_ frame: Frame, into w: inout ByteWriter) {
        writeHeader(tag: frame.message.tag, requestID: frame.requestID, incarnation: frame.incarnation, deadlineMillis: frame.deadlineMillis, into: &w)
    }

    private static func writeHeader(tag: UInt8, requestID: UInt32, incarnation: UInt32, deadlineMillis: UInt32, into w: inout ByteWriter) {
        w.write(magic)
        w.write(version)
        w.write(tag)
        w.write(UInt16(0))
        w.write(requestID)
        w.write(incarnation)
        w.write(deadlineMillis)
        w.write(UInt32(0))  // patched once the payload's length is known
    }

    /// A frame that carries one large Float array, as three pieces whose concatenation is exactly
    /// `encode(frame)`: the bytes before the array (header, fields, the array's u64 count), the
    /// array itself (sent from its own buffer, never copied into a frame), and the bytes after it.
    public struct Parts: Sendable {
        public var head: [UInt8]
        public var floats: [Float]
        public var tail: [UInt8]
        public var count: Int { head.count + floats.count * 4 + tail.count }
    }

    /// Arrays shorter than this are copied into the frame (`encode`): a copy is cheaper than a
    /// second system call.
    public static let partsThreshold = 4096

    /// `frame` as `Parts` when it is a push, a pull reply without optimizer slots or a push reply
    /// carrying at least `partsThreshold` values; nil otherwise (send `encode(frame)`).
    public static func parts(_ frame: Frame) -> Parts? {
        var w = ByteWriter(capacity: 64)
        writeHeader(frame, into: &w)
        let floats: [Float]
        var tail: [UInt8] = []
        switch frame.message {
        case .push(let p):
            w.write(p.baseStep)
            w.write(p.returnValues)
            floats = p.gradients
        case .pullReply(let p) where p.slots.isEmpty:
            w.write(p.globalStep)
            w.write(p.done)
            floats = p.values
            tail = [0]  // no optimizer slots
        case .pushReply(let p):
            w.write(p.globalStep)
            w.write(p.applied)
            w.write(p.done)
            floats = p.values
        default:
            return nil
        }
        guard floats.count >= partsThreshold else { return nil }
        w.write(UInt64(floats.count))
        w.patch(UInt32(w.bytes.count - headerSize + floats.count * 4 + tail.count), at: 20)
        return Parts(head: w.bytes, floats: floats, tail: tail)
    }

    /// The bytes in front of a push's gradients (header, base step, return-values flag, count):
    /// `parts(frame).head` for that push, for a sender that writes the gradients from elsewhere
    /// (the pieces of a whole-model array) right after it.
    public static func pushHead(requestID: UInt32, incarnation: UInt32, deadlineMillis: UInt32,
                                baseStep: Int64, returnValues: Bool, count: Int) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize + 17)
        writeHeader(Frame(requestID: requestID, incarnation: incarnation, deadlineMillis: deadlineMillis,
                          message: .push(Push(baseStep: baseStep, gradients: [], returnValues: returnValues))), into: &w)
        w.write(baseStep)
        w.write(returnValues)
        w.write(UInt64(count))
        w.patch(UInt32(w.bytes.count - headerSize + count * 4), at: 20)
        return w.bytes
    }

    // MARK: Shared memory (same-host connections; Docs/wire-protocol.md#shared-memory)

    /// The tag of a region announcement: its payload is the region's size (u64), and the region's
    /// descriptor travels with its bytes (SCM_RIGHTS). Not a `Message`: the connection takes it.
    public static let regionTag: UInt8 = 15
    /// The header flag of a frame whose Float array lies in the sender's shared region: its
    /// payload is the bytes before the array (count included), the region's generation (u64),
    /// then the bytes after the array.
    public static let regionFlag: UInt16 = 1

    /// A region announcement for a region of `size` bytes.
    public static func regionAnnouncement(size: Int) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize + 8)
        writeHeader(tag: regionTag, requestID: 0, incarnation: 0, deadlineMillis: 0, into: &w)
        w.write(UInt64(size))
        w.patch(UInt32(8), at: 20)
        return w.bytes
    }

    /// The head of a frame (`parts(frame).head`, `pushHead`) whose array goes through the shared
    /// region instead: flagged, and its payload length what the socket carries (the head's fields,
    /// the generation, `tailCount` bytes after the array).
    public static func regionHead(_ head: [UInt8], tailCount: Int, generation: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: head.count + 8)
        w.write(bytes: head)
        w.patch(UInt16(head[6]) | UInt16(head[7]) << 8 | regionFlag, at: 6)
        w.patch(UInt32(head.count - headerSize + 8 + tailCount), at: 20)
        w.write(generation)
        return w.bytes
    }

    /// For a message whose payload is fixed fields, one Float array and (for a pull reply) its
    /// optimizer slots: how many payload bytes come before the array's values, the u64 count
    /// included. A reader can take these, then read the values straight into a `[Float]`, then
    /// the rest, and decode with `decodePayload(_:head:floats:tail:)`. nil for other tags.
    public static func floatsOffset(tag: UInt8) -> Int? {
        switch tag {
        case 6: return 8 + 1 + 8     // pull reply: step, done, count
        case 7: return 8 + 1 + 8     // push: base step, return values, count
        case 8: return 8 + 1 + 1 + 8 // push reply: step, applied, done, count
        default: return nil
        }
    }

    /// The element count a payload head (`floatsOffset(tag:)` bytes) announces.
    public static func announcedCount(head: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(head[head.count - 8 + i]) << (8 * i) }
        return v
    }

    /// Decodes a payload read in three pieces (see `floatsOffset(tag:)`): the same frame, and the
    /// same errors for the same bytes, as `decodePayload(_:_:)` on their concatenation. The caller
    /// read `floats` as the count in `head` announced, after checking it fits the payload.
    public static func decodePayload(_ header: Header, head: [UInt8], floats: [Float], tail: [UInt8]) throws(FrameError) -> Frame {
        guard let offset = floatsOffset(tag: header.tag), head.count == offset, announcedCount(head: head) == UInt64(floats.count),
              header.payloadLength == head.count + floats.count * 4 + tail.count else {
            throw .malformed(tag: header.tag, reason: "a payload split where it carries no Float array")
        }
        var r = ByteReader(head, end: head.count - 8)
        var t = ByteReader(tail)
        let message: Message
        do {
            switch header.tag {
            case 6:
                let step = try r.i64(), done = try r.bool()
                message = .pullReply(Parameters(globalStep: step, done: done, values: floats, slots: try readSlots(&t)))
            case 7:
                let base = try r.i64(), returnValues = try r.bool()
                message = .push(Push(baseStep: base, gradients: floats, returnValues: returnValues))
            default:
                let step = try r.i64(), applied = try r.bool(), done = try r.bool()
                message = .pushReply(PushReply(globalStep: step, applied: applied, done: done, values: floats))
            }
            guard t.isAtEnd else { throw FrameError.malformed(tag: header.tag, reason: "\(t.remaining) unexpected trailing bytes") }
        } catch let e as FrameError {
            throw e
        } catch let e as ByteReaderError {
            throw .malformed(tag: header.tag, reason: e.description)
        } catch {
            throw .malformed(tag: header.tag, reason: "\(error)")
        }
        return Frame(requestID: header.requestID, incarnation: header.incarnation, deadlineMillis: header.deadlineMillis, message: message)
    }

    /// Validates and decodes a header. Throws on wrong magic or version and on payloads over `limit`.
    public static func decodeHeader(_ bytes: [UInt8], limit: Int = defaultPayloadLimit) throws(FrameError) -> Header {
        var r = ByteReader(bytes)
        do {
            let m = try r.u32()
            guard m == magic else { throw FrameError.badMagic(m) }
            let v = try r.u8()
            guard v == version else { throw FrameError.unsupportedVersion(v) }
            let tag = try r.u8()
            let flags = try r.u16()
            let id = try r.u32()
            let incarnation = try r.u32()
            let deadline = try r.u32()
            let length = Int(try r.u32())
            guard length <= limit else { throw FrameError.oversized(length: length, limit: limit) }
            return Header(tag: tag, flags: flags, requestID: id, incarnation: incarnation, deadlineMillis: deadline, payloadLength: length)
        } catch let e as FrameError {
            throw e
        } catch {
            throw .truncated(needed: headerSize, available: bytes.count)
        }
    }

    /// Decodes a payload for a header already validated.
    public static func decodePayload(_ header: Header, _ payload: [UInt8]) throws(FrameError) -> Frame {
        guard payload.count >= header.payloadLength else {
            throw .truncated(needed: header.payloadLength, available: payload.count)
        }
        var r = ByteReader(payload, end: header.payloadLength)
        let message: Message
        do {
            message = try decodeMessage(tag: header.tag, &r)
            guard r.isAtEnd else { throw FrameError.malformed(tag: header.tag, reason: "\(r.remaining) unexpected trailing bytes") }
        } catch let e as FrameError {
            throw e
        } catch let e as ByteReaderError {
            throw .malformed(tag: header.tag, reason: e.description)
        } catch {
            throw .malformed(tag: header.tag, reason: "\(error)")
        }
        return Frame(requestID: header.requestID, incarnation: header.incarnation, deadlineMillis: header.deadlineMillis, message: message)
    }

    /// Decodes one complete frame from `bytes` (header and payload, nothing more).
    public static func decode(_ bytes: [UInt8], limit: Int = defaultPayloadLimit) throws(FrameError) -> Frame {
        let header = try decodeHeader(Array(bytes.prefix(headerSize)), limit: limit)
        guard bytes.count == headerSize + header.payloadLength else {
            if bytes.count < headerSize + header.payloadLength {
                throw .truncated(needed: headerSize + header.payloadLength, available: bytes.count)
            }
            throw .malformed(tag: header.tag, reason: "\(bytes.count - headerSize - header.payloadLength) bytes after the frame")
        }
        return try decodePayload(header, Array(bytes[headerSize...]))
    }

    // MARK: Payloads

    private static func estimatedPayloadSize(_ m: Message) -> Int {
        switch m {
        case .initialize(let i): return 64 + 4 * i.values.count * (1 + i.slots.count)
        case .pullReply(let p): return 64 + 4 * p.values.count * (1 + p.slots.count)
        case .push(let p): return 32 + 4 * p.gradients.count
        case .pushReply(let p): return 32 + 4 * p.values.count
        default: return 64
        }
    }

    private static func write(_ task: TaskID, _ w: inout ByteWriter) {
        w.write(UInt8(TaskType.allCases.firstIndex(of: task.type)!))
        w.write(UInt32(task.index))
    }

    private static func readTask(_ r: inout ByteReader) throws -> TaskID {
        let t = Int(try r.u8())
        guard t < TaskType.allCases.count else { throw ByteReaderError.invalid("unknown task type \(t)") }
        return TaskID(TaskType.allCases[t], Int(try r.u32()))
    }

    private static func write(_ s: Status, _ w: inout ByteWriter) {
        write(s.task, &w)
        w.write(s.initialized)
        w.write(s.incarnation)
        w.write(s.globalStep)
        w.write(s.done)
        w.write(UInt64(s.shardElements))
    }

    private static func readStatus(_ r: inout ByteReader) throws -> Status {
        Status(task: try readTask(&r), initialized: try r.bool(), incarnation: try r.u32(), globalStep: try r.i64(),
               done: try r.bool(), shardElements: Int(clamping: try r.u64()))
    }

    private static func write(slots: [[Float]], _ w: inout ByteWriter) {
        w.write(UInt8(slots.count))
        for s in slots { w.write(s) }
    }

    private static func readSlots(_ r: inout ByteReader) throws -> [[Float]] {
        let n = Int(try r.u8())
        guard n <= 4 else { throw ByteReaderError.invalid("\(n) optimizer slots (at most 4)") }
        return try (0..<n).map { _ in try r.floats() }
    }

    static func encodePayload(_ message: Message, into w: inout ByteWriter) {
        switch message {
        case .hello(let h):
            write(h.task, &w)  // the token never crosses the wire
        case .challenge(let bytes), .proof(let bytes):
            w.write(UInt8(min(bytes.count, 255)))
            for b in bytes.prefix(255) { w.write(b) }
        case .helloReply(let s), .statusReply(let s):
            write(s, &w)
        case .initialize(let i):
            w.write(i.incarnation)
            w.write(i.globalStep)
            w.write(i.maxSteps)
            w.write(i.values)
            write(slots: i.slots, &w)
            w.write(UInt8(min(i.snapshotEvery.count, 255)))
            for every in i.snapshotEvery.prefix(255) { w.write(every) }
            w.write(i.checkpointEvery)
        case .ack(let step):
            w.write(step)
        case .pull(let p):
            w.write(p.includeSlots)
            w.write(p.snapshotStep ?? -1)
        case .pullReply(let p):
            w.write(p.globalStep)
            w.write(p.done)
            w.write(p.values)
            write(slots: p.slots, &w)
        case .push(let p):
            w.write(p.baseStep)
            w.write(p.returnValues)
            w.write(p.gradients)
        case .pushReply(let p):
            w.write(p.globalStep)
            w.write(p.applied)
            w.write(p.done)
            w.write(p.values)
        case .status:
            break
        case .shutdown(let reason):
            w.write(reason)
        case .error(let e):
            w.write(e.code.rawValue)
            w.write(e.message)
        }
    }

    private static func decodeMessage(tag: UInt8, _ r: inout ByteReader) throws -> Message {
        switch tag {
        case 1: return .hello(Hello(token: "", task: try readTask(&r)))
        case 2: return .helloReply(try readStatus(&r))
        case 3:
            let incarnation = try r.u32(), step = try r.i64(), maxSteps = try r.i64()
            let values = try r.floats(), slots = try readSlots(&r)
            var every: [Int64] = []
            for _ in 0..<Int(try r.u8()) { every.append(try r.i64()) }
            return .initialize(Initialize(incarnation: incarnation, globalStep: step, maxSteps: maxSteps, values: values, slots: slots,
                                          snapshotEvery: every, checkpointEvery: try r.i64()))
        case 4: return .ack(globalStep: try r.i64())
        case 5:
            let includeSlots = try r.bool()
            let snapshot = try r.i64()
            return .pull(Pull(includeSlots: includeSlots, snapshotStep: snapshot >= 0 ? snapshot : nil))
        case 6: return .pullReply(Parameters(globalStep: try r.i64(), done: try r.bool(), values: try r.floats(), slots: try readSlots(&r)))
        case 7:
            let base = try r.i64()
            let returnValues = try r.bool()
            return .push(Push(baseStep: base, gradients: try r.floats(), returnValues: returnValues))
        case 8: return .pushReply(PushReply(globalStep: try r.i64(), applied: try r.bool(), done: try r.bool(), values: try r.floats()))
        case 9: return .status
        case 10: return .statusReply(try readStatus(&r))
        case 11: return .shutdown(reason: try r.string())
        case 12: return .error(WireError(WireError.Code(rawValue: try r.u16()), try r.string()))
        case 13, 14:
            let bytes = try (0..<Int(try r.u8())).map { _ in try r.u8() }
            return tag == 13 ? .challenge(nonce: bytes) : .proof(mac: bytes)
        default: throw FrameError.unknownTag(tag)
        }
    }
}
