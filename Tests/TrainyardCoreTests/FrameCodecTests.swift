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
