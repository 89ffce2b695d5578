import XCTest
@testable import TrainyardCore

final class FrameCodecTests: XCTestCase {
    let samples: [Message] = [
        .hello(Hello(token: "", task: .worker(2))),
        .challenge(nonce: [UInt8](0..<32)),
        .proof(mac: [UInt8](repeating: 0xab, count: 32)),
        .helloReply(Status(task: .ps(1), initialized: true, incarnation: 3, globalStep: 42, done: false, shardElements: 9)),
        .initialize(Initialize(incarnation: 2, globalStep: 10, maxSteps: 100, values: [1, -2.5, .pi], slots: [[0, 0, 1]])),
        .initialize(Initialize(incarnation: 3, globalStep: 0, maxSteps: 9, values: [1], snapshotEvery: [500, 300])),
        .ack(globalStep: 7),
        .pull(Pull(includeSlots: true)),
        .pull(Pull(includeSlots: true, snapshotStep: 1500)),
        .pullReply(Parameters(globalStep: 5, done: true, values: [0.5, 0.25], slots: [])),
        .push(Push(baseStep: 4, gradients: [Float](repeating: 0.125, count: 1000))),
        .pushReply(PushReply(globalStep: 6, applied: false, done: true)),
        .status,
        .statusReply(Status(task: .chief(0), initialized: false, incarnation: 0, globalStep: 0, done: false, shardElements: 0)),
        .shutdown(reason: "done"),
        .error(WireError(.staleIncarnation, "old")),
    ]

    func testEveryMessageRoundTrips() throws {
        for (i, message) in samples.enumerated() {
            let frame = Frame(requestID: UInt32(i + 1), incarnation: 9, deadlineMillis: 1500, message: message)
            let bytes = FrameCodec.encode(frame)
            XCTAssertEqual(try FrameCodec.decode(bytes), frame, "\(message.name)")
        }
    }

    /// The large frames go out in three pieces (no copy of the array) and come in the same way:
    /// the pieces are byte for byte `encode`, and the split decoder gives the same frame.
    func testLargeFramesSplitAroundTheirArrayAreTheSameBytes() throws {
        let n = FrameCodec.partsThreshold + 3
        let values = (0..<n).map { Float($0) * 0.5 - 7 }
        let large: [Message] = [
            .push(Push(baseStep: 41, gradients: values, returnValues: true)),
            .pullReply(Parameters(globalStep: 9, done: true, values: values)),
            .pushReply(PushReply(globalStep: 12, applied: true, done: false, values: values)),
        ]
        for message in large {
            let frame = Frame(requestID: 77, incarnation: 3, deadlineMillis: 250, message: message)
            let bytes = FrameCodec.encode(frame)
            let parts = try XCTUnwrap(FrameCodec.parts(frame), message.name)
            let joined = parts.head + parts.floats.withUnsafeBytes { Array($0) } + parts.tail
            XCTAssertEqual(joined, bytes, message.name)
            XCTAssertEqual(parts.count, bytes.count)

            let header = try FrameCodec.decodeHeader(Array(bytes.prefix(FrameCodec.headerSize)))
            let offset = try XCTUnwrap(FrameCodec.floatsOffset(tag: header.tag))
            let payload = Array(bytes[FrameCodec.headerSize...])
            XCTAssertEqual(FrameCodec.announcedCount(head: Array(payload.prefix(offset))), UInt64(n))
            let tail = Array(payload[(offset + n * 4)...])
            XCTAssertEqual(try FrameCodec.decodePayload(header, head: Array(payload.prefix(offset)), floats: values, tail: tail), frame, message.name)
        }
        // Small arrays, slots, and other messages are encoded whole.
        XCTAssertNil(FrameCodec.parts(Frame(message: .push(Push(baseStep: 0, gradients: [1, 2])))))
        XCTAssertNil(FrameCodec.parts(Frame(message: .pullReply(Parameters(globalStep: 0, done: false, values: values, slots: [values])))))
        XCTAssertNil(FrameCodec.parts(Frame(message: .status)))
    }

    /// The split decoder refuses what the whole decoder refuses: a bad boolean, trailing bytes,
    /// a head that does not announce the array it came with.
    func testTheSplitDecoderRefusesWhatTheWholeDecoderRefuses() throws {
        let values = [Float](repeating: 1, count: FrameCodec.partsThreshold)
        let frame = Frame(requestID: 1, message: .push(Push(baseStep: 0, gradients: values)))
        var bytes = FrameCodec.encode(frame)
        bytes[FrameCodec.headerSize + 8] = 7  // return-values flag: not a boolean
        let header = try FrameCodec.decodeHeader(Array(bytes.prefix(FrameCodec.headerSize)))
        let offset = FrameCodec.floatsOffset(tag: header.tag)!
        let head = Array(bytes[FrameCodec.headerSize..<(FrameCodec.headerSize + offset)])
        XCTAssertThrowsError(try FrameCodec.decodePayload(header, head: head, floats: values, tail: [])) { error in
            XCTAssertEqual(error as? FrameError, .malformed(tag: 7, reason: "expected a boolean byte, got 7"))
        }
        XCTAssertThrowsError(try FrameCodec.decodePayload(header, Array(bytes[FrameCodec.headerSize...])))
        // Trailing bytes after the array.
        var long = header
        long.payloadLength += 2
        var good = head
        good[8] = 0
        XCTAssertThrowsError(try FrameCodec.decodePayload(long, head: good, floats: values, tail: [0, 0])) { error in
            XCTAssertEqual(error as? FrameError, .malformed(tag: 7, reason: "2 unexpected trailing bytes"))
        }
        // An array other than the one announced.
        XCTAssertThrowsError(try FrameCodec.decodePayload(header, head: good, floats: Array(values.dropLast()), tail: []))
    }

    func testTheTokenNeverCrossesTheWire() throws {
        let bytes = FrameCodec.encode(Frame(message: .hello(Hello(token: "s3cret-token", task: .worker(1)))))
        XCTAssertNil(String(decoding: bytes, as: UTF8.self).range(of: "s3cret-token"))
        XCTAssertEqual(try FrameCodec.decode(bytes).message, .hello(Hello(token: "", task: .worker(1))))
    }

    func testHMACSHA256MatchesRFC4231() {
        func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        // RFC 4231 test case 2.
        let mac = SHA256.hmac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than a block.
        let long = SHA256.hmac(key: [UInt8](repeating: 0xaa, count: 131), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        XCTAssertEqual(hex(long), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    func testHeaderLayoutIsDocumentedLittleEndian() {
        let bytes = FrameCodec.encode(Frame(requestID: 0x0102_0304, incarnation: 5, deadlineMillis: 250, message: .status))
        XCTAssertEqual(Array(bytes[0..<4]), Array("TYRD".utf8))
        XCTAssertEqual(bytes[4], 3)  // version
        XCTAssertEqual(bytes[5], 9)  // status tag
        XCTAssertEqual(Array(bytes[8..<12]), [4, 3, 2, 1])
        XCTAssertEqual(Array(bytes[16..<20]), [250, 0, 0, 0])
        XCTAssertEqual(Array(bytes[20..<24]), [0, 0, 0, 0])
        XCTAssertEqual(bytes.count, FrameCodec.headerSize)
    }

    func testTruncatedFramesFail() {
        let bytes = FrameCodec.encode(Frame(message: .push(Push(baseStep: 1, gradients: [1, 2, 3]))))
        for cut in [0, 10, 23, 24, bytes.count - 1] {
            XCTAssertThrowsError(try FrameCodec.decode(Array(bytes.prefix(cut)))) { error in
                guard case FrameError.truncated = error else { return XCTFail("cut at \(cut): \(error)") }
            }
        }
    }

    func testPayloadWithShortInnerArrayIsMalformed() {
        var bytes = FrameCodec.encode(Frame(message: .push(Push(baseStep: 1, gradients: [1, 2, 3]))))
        // Claim 4 floats where 3 follow.
        bytes[24 + 8] = 4
        XCTAssertThrowsError(try FrameCodec.decode(bytes)) { error in
            guard case FrameError.malformed = error else { return XCTFail("\(error)") }
        }
    }

    func testOversizedPayloadIsRejectedFromTheHeader() {
        let bytes = FrameCodec.encode(Frame(message: .push(Push(baseStep: 1, gradients: [Float](repeating: 1, count: 100)))))
        XCTAssertThrowsError(try FrameCodec.decodeHeader(Array(bytes.prefix(24)), limit: 64)) { error in
            XCTAssertEqual(error as? FrameError, .oversized(length: bytes.count - 24, limit: 64))
        }
    }

    func testWrongVersionAndMagicAreRejected() {
        var bytes = FrameCodec.encode(Frame(message: .status))
        bytes[4] = 1  // version 1 had no snapshots: a build of it cannot join
        XCTAssertThrowsError(try FrameCodec.decode(bytes)) { XCTAssertEqual($0 as? FrameError, .unsupportedVersion(1)) }
        bytes[4] = 2
        bytes[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try FrameCodec.decode(bytes)) { error in
            guard case FrameError.badMagic = error else { return XCTFail("\(error)") }
        }
    }

    func testUnknownTagIsRejected() {
        var bytes = FrameCodec.encode(Frame(message: .status))
        bytes[5] = 200
        XCTAssertThrowsError(try FrameCodec.decode(bytes)) { XCTAssertEqual($0 as? FrameError, .unknownTag(200)) }
    }

    func testTrailingBytesAreRejected() {
        var bytes = FrameCodec.encode(Frame(message: .ack(globalStep: 1)))
        bytes.append(0)
        bytes[20] += 1  // length covers the extra byte
        XCTAssertThrowsError(try FrameCodec.decode(bytes)) { error in
            guard case FrameError.malformed = error else { return XCTFail("\(error)") }
        }
    }
}
