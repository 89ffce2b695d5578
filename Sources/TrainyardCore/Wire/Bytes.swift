// Little-endian byte buffers: the only place the wire and file formats turn values into bytes.
// Every multi-byte integer Trainyard writes is little-endian; Float payloads are IEEE-754 binary32,
// copied in bulk. (Docs/wire-protocol.md, Docs/file-formats.md)

#if !_endian(little)
#error("Trainyard's wire and file formats copy Float arrays in bulk and assume a little-endian host")
#endif

/// Appends little-endian values to a growing byte array.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ v: UInt8) { bytes.append(v) }
    public mutating func write(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func write(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func write(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func write(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func write(_ v: Int64) { write(UInt64(bitPattern: v)) }
    public mutating func write(_ v: Double) { write(v.bitPattern) }
    public mutating func write(_ v: Float) { write(v.bitPattern) }

    /// A UTF-8 string with a u16 byte count in front; longer strings are cut at 65,535 bytes.
    public mutating func write(_ s: String) {
        let utf8 = Array(s.utf8.prefix(Int(UInt16.max)))
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A Float array with a u64 element count in front, copied in one block.
    public mutating func write(_ values: [Float]) {
        write(UInt64(values.count))
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    public mutating func write(bytes raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }
    public mutating func write(bytes raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// Overwrites four bytes at `offset` (to patch a length field written earlier).
    public mutating func patch(_ v: UInt32, at offset: Int) {
        withUnsafeBytes(of: v.littleEndian) { raw in
            for i in 0..<4 { bytes[offset + i] = raw[i] }
        }
    }

    /// Overwrites two bytes at `offset` (a flags field written earlier).
    public mutating func patch(_ v: UInt16, at offset: Int) {
        withUnsafeBytes(of: v.littleEndian) { raw in
            for i in 0..<2 { bytes[offset + i] = raw[i] }
        }
    }
}

/// Why bytes could not be read as the value expected.
public enum ByteReaderError: Error, Equatable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case invalid(String)

    public var description: String {
        switch self {
        case .truncated(let needed, let available): return "truncated: needed \(needed) more bytes, \(available) left"
        case .invalid(let why): return why
        }
    }
}

/// Reads little-endian values from bytes, failing (never trapping) on short input.
public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    private let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset == end }

    private mutating func take(_ n: Int) throws(ByteReaderError) -> Int {
        guard n >= 0, n <= remaining else { throw .truncated(needed: n, available: remaining) }
        defer { offset += n }
        return offset
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type) throws(ByteReaderError) -> T {
        let at = try take(MemoryLayout<T>.size)
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size { v |= T(bytes[at + i]) << (8 * i) }
        return v
    }

    public mutating func u8() throws(ByteReaderError) -> UInt8 { try load(UInt8.self) }
    public mutating func u16() throws(ByteReaderError) -> UInt16 { try load(UInt16.self) }
    public mutating func u32() throws(ByteReaderError) -> UInt32 { try load(UInt32.self) }
    public mutating func u64() throws(ByteReaderError) -> UInt64 { try load(UInt64.self) }
    public mutating func i64() throws(ByteReaderError) -> Int64 { Int64(bitPattern: try u64()) }
    public mutating func f64() throws(ByteReaderError) -> Double { Double(bitPattern: try u64()) }
    public mutating func f32() throws(ByteReaderError) -> Float { Float(bitPattern: try u32()) }

    public mutating func bool() throws(ByteReaderError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let b: throw .invalid("expected a boolean byte, got \(b)")
        }
    }

    public mutating func string() throws(ByteReaderError) -> String {
        let n = Int(try u16())
        let at = try take(n)
        guard let s = String(validating: bytes[at..<at + n], as: UTF8.self) else { throw .invalid("string is not valid UTF-8") }
        return s
    }

    /// A Float array written by `ByteWriter.write(_: [Float])`; at most `limit` elements.
    public mutating func floats(limit: Int = Int.max) throws(ByteReaderError) -> [Float] {
        let count = try u64()
        guard count <= UInt64(min(limit, remaining / 4)) else {
            if count > UInt64(limit) { throw .invalid("array of \(count) floats exceeds the limit of \(limit)") }
            throw .truncated(needed: Int(clamping: count) &* 4, available: remaining)
        }
        let n = Int(count)
        let at = try take(n * 4)
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[at..<at + n * 4]))
            }
            initialized = n
        }
    }

    public mutating func raw(_ n: Int) throws(ByteReaderError) -> ArraySlice<UInt8> {
        let at = try take(n)
        return bytes[at..<at + n]
    }
}
