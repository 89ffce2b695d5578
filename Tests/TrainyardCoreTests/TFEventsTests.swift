import XCTest
@testable import TrainyardCore

/// The TensorBoard encoder against the worked example of Docs/observability.md, and round trips.
final class TFEventsTests: XCTestCase {
    static func hex(_ s: String) -> [UInt8] {
        s.split(whereSeparator: { $0 == " " || $0 == "|" }).map { UInt8($0, radix: 16)! }
    }

    let example = TFEvents.Event(wallTime: 1700000000.5, step: 10, payload: .scalars([.init("loss", 0.25)]))

    func testEventBytesMatchTheWorkedExample() {
        XCTAssertEqual(TFEvents.encode(example),
                       Self.hex("09 00 00 20 40 fc 54 d9 41 | 10 0a | 2a 0d 0a 0b 0a 04 6c 6f 73 73 15 00 00 80 3e"))
    }

    func testRecordFramingMatchesTheWorkedExample() {
        let data = TFEvents.encode(example)
        XCTAssertEqual(data.count, 26)
        XCTAssertEqual(TFEvents.record(data),
                       Self.hex("1a 00 00 00 00 00 00 00 | 12 9b d8 2d") + data + Self.hex("0e db 2e 9a"))
    }

    func testSessionStartIsStatusOne() {
        let bytes = TFEvents.encode(.init(wallTime: 1, step: 5, payload: .sessionStart))
        XCTAssertEqual(Array(bytes.suffix(4)), Self.hex("3a 02 08 01"))
    }

    func testRoundTripAndCorruptionIsCaught() throws {
        let events: [TFEvents.Event] = [
            .init(wallTime: 12.25, step: 0, payload: .fileVersion(TFEvents.fileVersion)),
            example,
            .init(wallTime: 13, step: 300_000, payload: .scalars([.init("train/loss", 1.5), .init("train/accuracy", 0.75)])),
            .init(wallTime: 14, step: 200, payload: .sessionStart),
        ]
        var file: [UInt8] = []
        for e in events { file += TFEvents.record(TFEvents.encode(e)) }
        let decoded = try TFEvents.records(in: file).map { try TFEvents.decode($0) }
        XCTAssertEqual(decoded, events)
        var bad = file
        bad[bad.count - 6] ^= 1
        XCTAssertThrowsError(try TFEvents.records(in: bad))
        XCTAssertThrowsError(try TFEvents.records(in: Array(file.dropLast())))
    }

    func testMetricsRecordsBecomeTags() throws {
        let train = try JSONParser.parse(#"{"time":1,"task":"worker-0","kind":"train","step":7,"loss":0.5,"accuracy":0.25,"examples_per_sec":100}"#)
        XCTAssertEqual(TensorBoardTags.scalars(of: train).map(\.tag), ["train/loss", "train/accuracy", "train/examples_per_sec"])
        let eval = try JSONParser.parse(#"{"task":"chief-0","kind":"eval","step":7,"loss":0.5,"accuracy":0.25,"examples":10}"#)
        XCTAssertEqual(TensorBoardTags.scalars(of: eval), [.init("eval/loss", 0.5), .init("eval/accuracy", 0.25)])
        let restore = try JSONParser.parse(#"{"task":"chief-0","kind":"restore","step":7}"#)
        XCTAssertTrue(TensorBoardTags.scalars(of: restore).isEmpty)
    }
}
