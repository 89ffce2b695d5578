/// TensorBoard event files without TensorFlow: the few `Event` / `Summary` / `SessionLog` protobuf
/// fields Trainyard writes, encoded by hand, and the TFRecord framing around each one.
///
/// A record is `u64 length · u32 masked CRC-32C(length bytes) · data · u32 masked CRC-32C(data)`,
/// little-endian. Facts and a worked example: Docs/observability.md.
public enum TFEvents {
    /// The `file_version` every event file opens with.
    public static let fileVersion = "brain.Event:2"

    /// What an `Event` carries besides its wall time and step.
    public enum Payload: Equatable, Sendable {
        /// `file_version` (the first record of a file).
        case fileVersion(String)
        /// A `Summary` of scalar values, one `Value{tag, simple_value}` each.
        case scalars([Scalar])
        /// `session_log{status: START}`: TensorBoard drops the run's points at or after this step.
        case sessionStart
    }

    public struct Scalar: Equatable, Sendable {
        public var tag: String
        public var value: Float
        public init(_ tag: String, _ value: Float) { self.tag = tag; self.value = value }
    }

    public struct Event: Equatable, Sendable {
        /// Seconds since the Unix epoch.
        public var wallTime: Double
        public var step: Int64
        public var payload: Payload
        public init(wallTime: Double, step: Int64, payload: Payload) {
            self.wallTime = wallTime
            self.step = step
            self.payload = payload
        }
    }

    // MARK: Encoding

    /// The protobuf bytes of `event` (field order: wall_time, step, then the payload).
    public static func encode(_ event: Event) -> [UInt8] {
        var out: [UInt8] = [0x09]
        appendLittleEndian(event.wallTime.bitPattern, to: &out)
        if event.step != 0 {
            out.append(0x10)
            appendVarint(UInt64(bitPattern: event.step), to: &out)
        }
        switch event.payload {
        case .fileVersion(let version):
            appendLengthDelimited(0x1a, Array(version.utf8), to: &out)
        case .scalars(let scalars):
            var summary: [UInt8] = []
            for s in scalars {
                var value: [UInt8] = []
                appendLengthDelimited(0x0a, Array(s.tag.utf8), to: &value)
                value.append(0x15)
                appendLittleEndian(s.value.bitPattern, to: &value)
                appendLengthDelimited(0x0a, value, to: &summary)
            }
            appendLengthDelimited(0x2a, summary, to: &out)
        case .sessionStart:
            appendLengthDelimited(0x3a, [0x08, 0x01], to: &out)
        }
        return out
    }

    /// `data` framed as one TFRecord.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        appendLittleEndian(UInt64(data.count), to: &out)
        appendLittleEndian(CRC32C.masked(CRC32C.checksum(out)), to: &out)
        out += data
        appendLittleEndian(CRC32C.masked(CRC32C.checksum(data)), to: &out)
        return out
    }

    // MARK: Decoding (for checks and tests)

    public struct DecodeError: Error, CustomStringConvertible, Equatable {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// The data of every record in `bytes`, checking both CRCs of each; throws at the first bad one.
    public static func records(in bytes: [UInt8]) throws(DecodeError) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard bytes.count - i >= 12 else { throw DecodeError("a truncated record header at byte \(i)") }
            let lengthBytes = Array(bytes[i..<i + 8])
            let length = Int(readLittleEndian(UInt64.self, bytes, at: i))
            guard readLittleEndian(UInt32.self, bytes, at: i + 8) == CRC32C.masked(CRC32C.checksum(lengthBytes)) else {
                throw DecodeError("a bad length CRC at byte \(i)")
            }
            guard length >= 0, bytes.count - i - 12 >= length + 4 else { throw DecodeError("a truncated record at byte \(i)") }
            let data = Array(bytes[i + 12..<i + 12 + length])
            guard readLittleEndian(UInt32.self, bytes, at: i + 12 + length) == CRC32C.masked(CRC32C.checksum(data)) else {
                throw DecodeError("a bad data CRC in the record at byte \(i)")
            }
            result.append(data)
            i += 16 + length
        }
        return result
    }

    /// Decodes an `Event` holding the fields `encode` writes (unknown fields are skipped).
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Event {
        var reader = ProtoReader(rest: bytes[...])
        var event = Event(wallTime: 0, step: 0, payload: .scalars([]))
        while let (field, wire) = try reader.tag() {
            switch (field, wire) {
            case (1, 1): event.wallTime = Double(bitPattern: try reader.fixed64())
            case (2, 0): event.step = Int64(bitPattern: try reader.varint())
            case (3, 2): event.payload = .fileVersion(String(decoding: try reader.field(), as: UTF8.self))
            case (5, 2):
                var summary = ProtoReader(rest: try reader.field())
                var scalars: [Scalar] = []
                while let (f, w) = try summary.tag() {
                    guard f == 1, w == 2 else { try summary.skip(w); continue }
                    var value = ProtoReader(rest: try summary.field())
                    var scalar = Scalar("", 0)
                    while let (vf, vw) = try value.tag() {
                        switch (vf, vw) {
                        case (1, 2): scalar.tag = String(decoding: try value.field(), as: UTF8.self)
                        case (2, 5): scalar.value = Float(bitPattern: try value.fixed32())
                        default: try value.skip(vw)
                        }
                    }
                    scalars.append(scalar)
                }
                event.payload = .scalars(scalars)
            case (7, 2):
                var log = ProtoReader(rest: try reader.field())
                var status: UInt64 = 0
                while let (f, w) = try log.tag() {
                    if f == 1, w == 0 { status = try log.varint() } else { try log.skip(w) }
                }
                guard status == 1 else { throw DecodeError("session_log status \(status), only START is written") }
                event.payload = .sessionStart
            default: try reader.skip(wire)
            }
        }
        return event
    }

    // MARK: Helpers

    private static func appendVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    private static func appendLengthDelimited(_ tag: UInt8, _ payload: [UInt8], to out: inout [UInt8]) {
        out.append(tag)
        appendVarint(UInt64(payload.count), to: &out)
        out += payload
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        for k in 0..<(T.bitWidth / 8) { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
    }

    private static func readLittleEndian<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at i: Int) -> T {
        var v: T = 0
        for k in 0..<(T.bitWidth / 8) { v |= T(bytes[i + k]) << (8 * k) }
        return v
    }

    private struct ProtoReader {
        var rest: ArraySlice<UInt8>

        mutating func tag() throws(DecodeError) -> (Int, Int)? {
            guard !rest.isEmpty else { return nil }
            let t = try varint()
            return (Int(t >> 3), Int(t & 7))
        }

        mutating func varint() throws(DecodeError) -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while let b = rest.first {
                rest = rest.dropFirst()
                v |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return v }
                shift += 7
                guard shift < 64 else { break }
            }
            throw DecodeError("a truncated or overlong varint")
        }

        mutating func fixed(_ n: Int) throws(DecodeError) -> UInt64 {
            guard rest.count >= n else { throw DecodeError("a truncated fixed-width field") }
            var v: UInt64 = 0
            for (k, b) in rest.prefix(n).enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
            rest = rest.dropFirst(n)
            return v
        }

        mutating func fixed64() throws(DecodeError) -> UInt64 { try fixed(8) }
        mutating func fixed32() throws(DecodeError) -> UInt32 { UInt32(try fixed(4)) }

        mutating func field() throws(DecodeError) -> ArraySlice<UInt8> {
            let n = Int(try varint())
            guard n >= 0, rest.count >= n else { throw DecodeError("a truncated length-delimited field") }
            let out = rest.prefix(n)
            rest = rest.dropFirst(n)
            return out
        }

        mutating func skip(_ wire: Int) throws(DecodeError) {
            switch wire {
            case 0: _ = try varint()
            case 1: _ = try fixed(8)
            case 2: _ = try field()
            case 5: _ = try fixed(4)
            default: throw DecodeError("an unsupported wire type \(wire)")
            }
        }
    }
}

/// What each metrics record becomes in TensorBoard: the scalar tags of one `metrics.jsonl` record.
public enum TensorBoardTags {
    /// The scalars of a record (`kind` train, eval or ps), empty for any other kind.
    public static func scalars(of record: JSONValue) -> [TFEvents.Scalar] {
        let names: [(String, String)]
        switch record["kind"]?.stringValue {
        case "train": names = [("loss", "train/loss"), ("accuracy", "train/accuracy"), ("examples_per_sec", "train/examples_per_sec")]
        case "eval": names = [("loss", "eval/loss"), ("accuracy", "eval/accuracy")]
        case "ps": names = [("updates_per_sec", "ps/updates_per_sec"), ("bytes_in_per_sec", "ps/bytes_in_per_sec"),
                            ("bytes_out_per_sec", "ps/bytes_out_per_sec")]
        default: names = []
        }
        return names.compactMap { field, tag in record[field]?.doubleValue.map { TFEvents.Scalar(tag, Float($0)) } }
    }
}
