import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

/// Event files as written to disk: read back, every CRC checked, every value found.
final class TensorBoardWriterTests: XCTestCase {
    func temporary() -> String {
        let dir = NSTemporaryDirectory() + "trainyard-tb-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func events(_ path: String) throws -> [TFEvents.Event] {
        try TFEvents.records(in: try Files.read(path)).map { try TFEvents.decode($0) }
    }

    func testWrittenFileReadsBackWithEveryValue() throws {
        let job = temporary()
        defer { try? FileManager.default.removeItem(atPath: job) }
        let w = TensorBoardWriter(jobDirectory: job, task: "worker-0", now: 1_700_000_000)
        for step in 1...50 { w.add(step: Int64(step), scalars: [.init("train/loss", Float(step) / 4)], wallTime: 1_700_000_000 + Double(step)) }
        w.flush()
        XCTAssertTrue((w.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        let read = try events(w.path)
        XCTAssertEqual(read.first?.payload, .fileVersion("brain.Event:2"))
        XCTAssertEqual(read.count, 51)
        for (i, e) in read.dropFirst().enumerated() {
            XCTAssertEqual(e.step, Int64(i + 1))
            XCTAssertEqual(e.wallTime, 1_700_000_000 + Double(i + 1))
            XCTAssertEqual(e.payload, .scalars([.init("train/loss", Float(i + 1) / 4)]))
        }
    }

    func testBackgroundFlushWithinTwoSeconds() throws {
        let job = temporary()
        defer { try? FileManager.default.removeItem(atPath: job) }
        let w = TensorBoardWriter(jobDirectory: job, task: "ps-0")
        w.add(step: 3, scalars: [.init("ps/updates_per_sec", 12)])
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline, (try? events(w.path).count) != 2 { usleep(50_000) }
        XCTAssertEqual(try events(w.path).count, 2)
    }

    func testRestartedTaskOpensALaterFileAndStartsASession() throws {
        let job = temporary()
        defer { try? FileManager.default.removeItem(atPath: job) }
        let first = TensorBoardWriter(jobDirectory: job, task: "chief-0", now: 1_700_000_000)
        first.add(step: 10, scalars: [.init("train/loss", 1)])
        first.flush()
        let second = TensorBoardWriter(jobDirectory: job, task: "chief-0", now: 1_700_000_000)
        second.add(step: 8, scalars: [.init("train/loss", 2)])
        second.flush()
        XCTAssertGreaterThan((second.path as NSString).lastPathComponent, (first.path as NSString).lastPathComponent)
        let read = try events(second.path)
        XCTAssertEqual(read.map(\.payload), [.fileVersion("brain.Event:2"), .sessionStart, .scalars([.init("train/loss", 2)])])
        XCTAssertEqual(read[1].step, 8)
        XCTAssertEqual(try events(first.path).count, 2)
    }

    func testMetricsLogFeedsTheTaskRun() throws {
        let job = temporary()
        defer { try? FileManager.default.removeItem(atPath: job) }
        let log = MetricsLog(jobDirectory: job)
        log.append([("task", "worker-1"), ("kind", "train"), ("step", JSONValue(4)), ("loss", JSONValue(0.5)), ("examples_per_sec", JSONValue(10))])
        log.append([("task", "worker-1"), ("kind", "restore"), ("step", JSONValue(0))])
        TensorBoardWriter.flushAll()
        let files = Files.list(job + "/tensorboard/worker-1").filter { $0.contains("tfevents") }
        XCTAssertEqual(files.count, 1)
        let read = try events(job + "/tensorboard/worker-1/" + files[0])
        XCTAssertEqual(read.last?.payload, .scalars([.init("train/loss", 0.5), .init("train/examples_per_sec", 10)]))
        XCTAssertEqual(read.count, 2)
    }
}
