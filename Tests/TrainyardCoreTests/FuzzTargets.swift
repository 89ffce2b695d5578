import TrainyardCore

/// What each fuzz target does with one input: decode it with Trainyard's own decoder and, where
/// the format has both directions, check the round trip (decode → encode → decode gives the same
/// bytes). A rejected input is fine; a crash, a hang or a `FuzzFinding` is a bug.
///
/// Shared by the libFuzzer harnesses (`Tests/Fuzz/run.sh` compiles this file with each one) and
/// by `FuzzCorpusTests`, which replays every saved input through the same functions.
public enum FuzzTargets {
    /// A round trip that did not come back the same.
    public struct FuzzFinding: Error, CustomStringConvertible {
        public var description: String
    }

    public static let all: [(name: String, run: @Sendable ([UInt8]) throws -> Void)] = [
        ("frame", { try frame($0) }), ("message", { try message($0) }), ("json", { try json($0) }), ("yaml", { try yaml($0) }),
        ("tfconfig", { try tfConfig($0) }), ("csv", { try csv($0) }), ("idx", { try idx($0) }), ("checkpoint", { try checkpoint($0) }),
        ("ignore", { try ignoreRules($0) }), ("storageuri", { try storageURI($0) }),
    ]

    static func same(_ a: [UInt8], _ b: [UInt8], _ what: String) throws {
        guard a == b else { throw FuzzFinding(description: "\(what): the round trip changed the bytes (\(a.count) → \(b.count))") }
    }

    /// A whole frame: header and payload.
    public static func frame(_ data: [UInt8]) throws {
        guard let frame = try? FrameCodec.decode(data, limit: 1 << 20) else { return }
        let encoded = FrameCodec.encode(frame)
        guard let again = try? FrameCodec.decode(encoded) else { throw FuzzFinding(description: "frame: its own encoding does not decode") }
        try same(encoded, FrameCodec.encode(again), "frame")
    }

    /// A message payload behind a valid header: the first byte is the tag, the rest the payload.
    public static func message(_ data: [UInt8]) throws {
        guard let tag = data.first else { return }
        let payload = Array(data.dropFirst())
        var bytes: [UInt8] = []
        func le(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
        le(FrameCodec.magic)
        bytes += [FrameCodec.version, tag, 0, 0]
        le(7); le(3); le(0); le(UInt32(payload.count))
        try frame(bytes + payload)
    }

    /// JSON: parse, write, parse again; the two writings agree.
    public static func json(_ data: [UInt8]) throws {
        guard let value = try? JSONParser.parse(String(decoding: data, as: UTF8.self)) else { return }
        let text = value.serialized()
        guard let again = try? JSONParser.parse(text) else { throw FuzzFinding(description: "json: its own output does not parse: \(text.prefix(200))") }
        try same(Array(text.utf8), Array(again.serialized().utf8), "json")
        _ = value.prettySerialized()
    }

    /// YAML: parse; the value it gives must survive JSON's round trip too.
    public static func yaml(_ data: [UInt8]) throws {
        guard let value = try? YAMLParser.parse(String(decoding: data, as: UTF8.self)) else { return }
        let text = value.serialized()
        guard let again = try? JSONParser.parse(text) else { throw FuzzFinding(description: "yaml: its value's JSON does not parse: \(text.prefix(200))") }
        try same(Array(text.utf8), Array(again.serialized().utf8), "yaml")
    }

    /// TF_CONFIG: parse, write, parse again to the same configuration.
    public static func tfConfig(_ data: [UInt8]) throws {
        guard let config = try? TFConfig(parsing: String(decoding: data, as: UTF8.self)) else { return }
        guard let again = try? TFConfig(parsing: config.serialized()) else { throw FuzzFinding(description: "tfconfig: its own output does not parse") }
        guard again == config else { throw FuzzFinding(description: "tfconfig: the round trip changed the configuration") }
    }

    /// CSV: the first byte picks the options, the rest is the file.
    public static func csv(_ data: [UInt8]) throws {
        guard let pick = data.first else { return }
        let header = CSVDataset.Header.allCases[Int(pick) % 3]
        let label: CSVDataset.LabelColumn = pick & 4 == 0 ? .automatic : (pick & 8 == 0 ? .index(Int(pick >> 4)) : .name("label"))
        let options = CSVDataset.Options(label: label, header: header, standardize: pick & 0x80 != 0)
        _ = try? CSVDataset.load(text: String(decoding: data.dropFirst(), as: UTF8.self), file: "fuzz.csv", options: options,
                                 evalFraction: 0.25, shard: 0, of: Int(pick % 3) + 1)
    }

    /// IDX: a two-byte length splits the input into the images file and the labels file.
    public static func idx(_ data: [UInt8]) throws {
        guard data.count >= 2 else { return }
        let cut = min(data.count - 2, Int(data[0]) | Int(data[1]) << 8)
        let rest = Array(data.dropFirst(2))
        _ = try? IDXDataset.load(images: Array(rest[..<cut]), imagesFile: "images.idx", labels: Array(rest[cut...]), labelsFile: "labels.idx",
                                 evalFraction: 0.2, shard: 0, of: 1)
    }

    /// A checkpoint file: decode, encode, decode; the encodings agree.
    ///
    /// The input is also tried with its checksum made right, so that the fuzzer reaches past the
    /// CRC: a file with a correct checksum and hostile contents is what a crafted checkpoint is.
    public static func checkpoint(_ data: [UInt8]) throws {
        try checkpointRoundTrip(data)
        guard data.count >= 12 else { return }
        var fixed = data
        let crc = CRC32C.checksum(fixed[..<(fixed.count - 4)])
        for k in 0..<4 { fixed[fixed.count - 4 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        try checkpointRoundTrip(fixed)
    }

    static func checkpointRoundTrip(_ data: [UInt8]) throws {
        guard let checkpoint = try? Checkpoint(decoding: data) else { return }
        let encoded = checkpoint.encoded()
        guard let again = try? Checkpoint(decoding: encoded) else { throw FuzzFinding(description: "checkpoint: its own encoding does not decode") }
        try same(encoded, again.encoded(), "checkpoint")
    }

    /// Ignore rules: the text up to the first NUL is the rules file, each later line a path to judge.
    public static func ignoreRules(_ data: [UInt8]) throws {
        let split = data.firstIndex(of: 0) ?? data.count
        let rules = IgnoreRules(parsing: String(decoding: data[..<split], as: UTF8.self))
        let paths = String(decoding: data[min(split + 1, data.count)...], as: UTF8.self).split(separator: "\n")
        for path in paths.prefix(16) {
            _ = rules.ignores(String(path), isDirectory: path.hasSuffix("/"))
        }
    }

    /// Storage URIs: parse; the URI it prints parses back to itself and never leaves its bucket.
    public static func storageURI(_ data: [UInt8]) throws {
        guard let uri = try? StorageURI(parsing: String(decoding: data, as: UTF8.self)) else { return }
        guard let again = try? StorageURI(parsing: uri.description), again == uri else {
            throw FuzzFinding(description: "storageuri: \(uri) does not parse back to itself")
        }
        let local = uri.localPath(home: "/h")
        guard PathContainment.isInside(local, "/h/buckets/" + uri.bucket),
              PathContainment.normalizedRelative(String(local.dropFirst(1))) == String(local.dropFirst(1)) else {
            throw FuzzFinding(description: "storageuri: \(uri) leads to \(local)")
        }
    }
}
