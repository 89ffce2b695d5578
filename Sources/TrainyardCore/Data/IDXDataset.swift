/// Reads the IDX format of MNIST and its kin: an images file and a labels file.
///
/// Header (big-endian): two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte,
/// 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), the number of dimensions, then each dimension as u32.
/// Images are N × d1 × d2 × …, flattened to d1·d2·… features; unsigned-byte pixels are scaled to
/// [0, 1]. Labels are N values, the classes 0…max.
/// Sizes are computed with overflow checks: a dimension of 0, a product of dimensions that does
/// not fit in 64 bits, or a file whose length is not exactly header + data is an error naming the
/// file and the field, never a trap.
/// The last `evalFraction` of the records is held out; the rest is dealt round-robin to shards and
/// only shard `shard`'s records are converted.
public enum IDXDataset {
    struct Array_ {
        var type: UInt8
        var dims: [Int]
        var dataOffset: Int
        /// Elements per record (the product of every dimension but the first); checked by `header`.
        var recordSize: Int
        var elementSize: Int { Self.elementSize(type) }

        static func elementSize(_ type: UInt8) -> Int {
            switch type {
            case 0x08, 0x09: return 1
            case 0x0B: return 2
            case 0x0C, 0x0D: return 4
            default: return 8
            }
        }
    }

    static func header(_ bytes: [UInt8], file: String) throws(FieldError) -> Array_ {
        guard bytes.count >= 4 else { throw FieldError(source: file, path: "", "too short for an IDX header (\(bytes.count) bytes)") }
        guard bytes[0] == 0, bytes[1] == 0 else { throw FieldError(source: file, path: "", "not an IDX file (the magic number must start with two zero bytes)") }
        let type = bytes[2]
        guard [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E].contains(type) else {
            throw FieldError(source: file, path: "header.type", "unknown IDX element type 0x\(String(type, radix: 16))")
        }
        let n = Int(bytes[3])
        guard n >= 1 else { throw FieldError(source: file, path: "header.dimensions", "is 0: an IDX file needs at least 1 dimension") }
        guard bytes.count >= 4 + 4 * n else { throw FieldError(source: file, path: "", "truncated IDX header (\(n) dimensions need \(4 + 4 * n) bytes, the file has \(bytes.count))") }
        var dims: [Int] = []
        for d in 0..<n {
            let at = 4 + 4 * d
            let size = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            guard size > 0 else { throw FieldError(source: file, path: "header.dims[\(d)]", "is 0: every dimension must be at least 1") }
            dims.append(size)
        }
        let dataOffset = 4 + 4 * n
        // Every size is checked: dimensions up to 2³²−1 multiply past Int.max quickly.
        func product(_ factors: some Sequence<Int>) throws(FieldError) -> Int {
            var result = 1
            for f in factors {
                let (p, overflow) = result.multipliedReportingOverflow(by: f)
                guard !overflow else {
                    throw FieldError(source: file, path: "header.dims", "\(dims.map(String.init).joined(separator: " × ")) elements overflow a 64-bit size: not a valid IDX file")
                }
                result = p
            }
            return result
        }
        let recordSize = try product(dims.dropFirst())
        let dataBytes = try product(dims + [Array_.elementSize(type)])
        let (needed, overflow) = dataOffset.addingReportingOverflow(dataBytes)
        guard !overflow else {
            throw FieldError(source: file, path: "header.dims", "\(dims.map(String.init).joined(separator: " × ")) elements overflow a 64-bit size: not a valid IDX file")
        }
        let a = Array_(type: type, dims: dims, dataOffset: dataOffset, recordSize: recordSize)
        guard bytes.count >= needed else {
            let complete = (bytes.count - dataOffset) / (recordSize * a.elementSize)
            throw FieldError(source: file, path: "", "truncated: the header promises \(dims[0]) records but the file ends in record \(complete)")
        }
        guard bytes.count == needed else {
            throw FieldError(source: file, path: "", "the header promises \(dims.map(String.init).joined(separator: " × ")) elements (\(needed) bytes with the header) but the file has \(bytes.count) bytes: \(bytes.count - needed) too many")
        }
        return a
    }

    static func value(_ bytes: [UInt8], _ a: Array_, _ index: Int) -> Double {
        let at = a.dataOffset + index * a.elementSize
        switch a.type {
        case 0x08: return Double(bytes[at])
        case 0x09: return Double(Int8(bitPattern: bytes[at]))
        case 0x0B: return Double(Int16(bitPattern: UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])))
        case 0x0C:
            return Double(Int32(bitPattern: UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])))
        case 0x0D:
            return Double(Float(bitPattern: UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])))
        default:
            var bits: UInt64 = 0
            for k in 0..<8 { bits = bits << 8 | UInt64(bytes[at + k]) }
            return Double(bitPattern: bits)
        }
    }

    public static func load(images: [UInt8], imagesFile: String, labels: [UInt8], labelsFile: String,
                            evalFraction: Double, shard: Int, of shardCount: Int) throws(FieldError) -> DataSplit {
        let ih = try header(images, file: imagesFile)
        let lh = try header(labels, file: labelsFile)
        guard ih.dims.count >= 2 else { throw FieldError(source: imagesFile, path: "", "images must have at least 2 dimensions (records × features), found \(ih.dims.count)") }
        guard lh.dims.count == 1 else { throw FieldError(source: labelsFile, path: "", "labels must have 1 dimension, found \(lh.dims.count)") }
        guard ih.dims[0] == lh.dims[0] else {
            throw FieldError(source: labelsFile, path: "", "holds \(lh.dims[0]) labels but \(imagesFile) holds \(ih.dims[0]) images")
        }
        let count = ih.dims[0]
        guard count >= 2 else { throw FieldError(source: imagesFile, path: "", "needs at least 2 records, found \(count)") }
        var classes = 0
        var labelValues = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let v = value(labels, lh, i)
            guard v >= 0, v < 65_536, v.rounded() == v else {
                throw FieldError(source: labelsFile, path: "", "record \(i): label \(v) is not a class number 0...65535")
            }
            labelValues[i] = Int32(v)
            classes = max(classes, Int(v) + 1)
        }
        guard classes >= 2 else { throw FieldError(source: labelsFile, path: "", "every label is 0: nothing to classify") }
        let inputs = ih.recordSize
        let scale = ih.type == 0x08 ? 1.0 / 255 : 1.0
        let evalCount = min(count - 1, max(0, Int((Double(count) * evalFraction).rounded())))
        let trainCount = count - evalCount
        func rows(_ indices: [Int]) throws(FieldError) -> Dataset {
            var f = [Float](repeating: 0, count: indices.count * inputs)
            for (r, i) in indices.enumerated() {
                for k in 0..<inputs {
                    let v = Float(value(images, ih, i * inputs + k) * scale)
                    guard v.isFinite else { throw FieldError(source: imagesFile, path: "", "record \(i): element \(k) is not a finite number in Float's range") }
                    f[r * inputs + k] = v
                }
            }
            return Dataset(inputs: inputs, classes: classes, features: f, labels: indices.map { labelValues[$0] })
        }
        return DataSplit(train: try rows(Array(stride(from: shard, to: trainCount, by: shardCount))),
                         eval: try rows(Array(trainCount..<count)))
    }
}
