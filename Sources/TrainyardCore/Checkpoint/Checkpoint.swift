/// A saved training state: the model's parameters (and optimizer slots) at a global step.
///
/// File layout (little-endian), `ckpt-<step>.tyckpt`:
/// ```
/// "TYCK" magic, u32 version (1)
/// i64 global step, u32 cluster incarnation
/// u32 inputs, u32 classes, u32 hidden count, u32 × hidden widths
/// u8 optimizer slot count, then values and each slot as u64 count + f32 × count
/// u32 CRC-32C of every byte before it
/// ```
public struct Checkpoint: Sendable, Equatable {
    public var globalStep: Int64
    public var incarnation: UInt32
    public var architecture: MLPArchitecture
    public var parameters: [Float]
    /// Optimizer slot arrays over the whole model, each as long as `parameters`.
    public var slots: [[Float]]

    public init(globalStep: Int64, incarnation: UInt32, architecture: MLPArchitecture, parameters: [Float], slots: [[Float]] = []) {
        self.globalStep = globalStep
        self.incarnation = incarnation
        self.architecture = architecture
        self.parameters = parameters
        self.slots = slots
    }

    public static let magic: UInt32 = 0x4B43_5954  // "TYCK"
    public static let version: UInt32 = 1
    public static let fileExtension = "tyckpt"

    /// The file name for a checkpoint at `step`: `ckpt-00001200.tyckpt`, so names sort by step.
    public static func fileName(step: Int64) -> String {
        let digits = String(step)
        return "ckpt-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + "." + fileExtension
    }

    /// The step a checkpoint file name carries, or nil when the name is not a checkpoint's.
    public static func step(fromFileName name: String) -> Int64? {
        guard name.hasPrefix("ckpt-"), name.hasSuffix("." + fileExtension) else { return nil }
        return Int64(name.dropFirst(5).dropLast(fileExtension.count + 1))
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + 4 * parameters.count * (1 + slots.count))
        w.write(Checkpoint.magic)
        w.write(Checkpoint.version)
        w.write(globalStep)
        w.write(incarnation)
        w.write(UInt32(architecture.inputs))
        w.write(UInt32(architecture.classes))
        w.write(UInt32(architecture.hidden.count))
        for h in architecture.hidden { w.write(UInt32(h)) }
        w.write(UInt8(slots.count))
        w.write(parameters)
        for s in slots { w.write(s) }
        let crc = w.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        w.write(crc)
        return w.bytes
    }

    /// Why a checkpoint file cannot be used.
    public struct DecodeError: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        guard bytes.count >= 12 else { throw DecodeError(reason: "truncated: \(bytes.count) bytes") }
        let stored = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self) }
        let actual = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<bytes.count - 4])) }
        var r = ByteReader(bytes, end: bytes.count - 4)
        do {
            guard try r.u32() == Checkpoint.magic else { throw DecodeError(reason: "not a Trainyard checkpoint (bad magic)") }
            let version = try r.u32()
            guard version == Checkpoint.version else { throw DecodeError(reason: "unsupported checkpoint version \(version)") }
            guard stored == actual else {
                throw DecodeError(reason: "checksum mismatch (stored 0x\(String(stored, radix: 16)), computed 0x\(String(actual, radix: 16))): the file is damaged or truncated")
            }
            globalStep = try r.i64()
            incarnation = try r.u32()
            let inputs = Int(try r.u32())
            let classes = Int(try r.u32())
            let hiddenCount = Int(try r.u32())
            guard hiddenCount < 1000 else { throw DecodeError(reason: "implausible layer count \(hiddenCount)") }
            let hidden = try (0..<hiddenCount).map { _ in Int(try r.u32()) }
            guard inputs > 0, classes > 1, hidden.allSatisfy({ $0 > 0 }) else { throw DecodeError(reason: "invalid architecture") }
            // Sizes come from the file: count the parameters they imply without overflowing, and no
            // more than the file can hold, before anything is computed from them.
            let widths = [inputs] + hidden + [classes]
            var needed = 0
            for l in 0..<(widths.count - 1) {
                let (kernel, o1) = widths[l].multipliedReportingOverflow(by: widths[l + 1])
                let (layer, o2) = kernel.addingReportingOverflow(widths[l + 1])
                let (sum, o3) = needed.addingReportingOverflow(layer)
                guard !o1, !o2, !o3, sum <= r.remaining / 4 else {
                    throw DecodeError(reason: "a \(widths.map(String.init).joined(separator: "-")) model has more parameters than the file's \(bytes.count) bytes can hold")
                }
                needed = sum
            }
            architecture = MLPArchitecture(inputs: inputs, hidden: hidden, classes: classes)
            let slotCount = Int(try r.u8())
            parameters = try r.floats()
            guard parameters.count == architecture.parameterCount else {
                throw DecodeError(reason: "holds \(parameters.count) parameters; a \(architecture) model has \(architecture.parameterCount)")
            }
            var slots: [[Float]] = []
            for _ in 0..<slotCount {
                let slot = try r.floats()
                guard slot.count == parameters.count else { throw DecodeError(reason: "an optimizer slot holds \(slot.count) values, expected \(parameters.count)") }
                slots.append(slot)
            }
            self.slots = slots
            guard r.isAtEnd else { throw DecodeError(reason: "\(r.remaining) unexpected bytes at the end") }
        } catch let e as DecodeError {
            throw e
        } catch {
            throw DecodeError(reason: "truncated or malformed: \(error)")
        }
    }
}
