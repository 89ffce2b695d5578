import Foundation
import XCTest
@testable import TrainyardCore

/// After a real `trainyard train`: TensorBoard runs per task that TensorBoard itself can load
/// (when its Python package is installed), and a self-contained HTML report that renders.
final class ObservabilityEndToEndTests: XCTestCase {
    var jobDir = ""

    override func setUp() { jobDir = Harness.temporaryDirectory("observe") }

    override func tearDown() {
        for pid in Harness.processes(mentioning: jobDir) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: jobDir)
    }

    /// Every event of every file of a run, with every CRC checked.
    static func events(run: String) throws -> [TFEvents.Event] {
        let files = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.contains("tfevents") }.sorted()
        var all: [TFEvents.Event] = []
        for f in files {
            let bytes = Array(try XCTUnwrap(FileManager.default.contents(atPath: run + "/" + f)))
            all += try TFEvents.records(in: bytes).map { try TFEvents.decode($0) }
        }
        return all
    }

    static func which(_ program: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func runTool(_ path: String, _ arguments: [String], timeout: Double = 120) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = Locked(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { data.set(out.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        group.wait()
        return (p.terminationStatus, String(decoding: data.get(), as: UTF8.self))
    }

    func testTrainWritesTensorBoardRunsAndAReport() throws {
        let result = try Harness.run(["train", "--workers", "2", "--ps", "1", "--max-steps", "8000", "--job-dir", jobDir] + Harness.smallJob)
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)

        // TensorBoard runs: one per training task, with the train loss at logged steps.
        let metrics = try String(contentsOfFile: jobDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        var counts: [String: Int] = [:]
        for task in ["chief-0", "worker-0", "worker-1"] {
            let events = try Self.events(run: jobDir + "/tensorboard/" + task)
            XCTAssertEqual(events.first?.payload, .fileVersion("brain.Event:2"), task)
            let losses = events.compactMap { e -> (Int64, Float)? in
                guard case .scalars(let s) = e.payload, let loss = s.first(where: { $0.tag == "train/loss" }) else { return nil }
                return (e.step, loss.value)
            }
            let logged = metrics.filter { $0["task"]?.stringValue == task && $0["kind"] == "train" }
            XCTAssertGreaterThan(losses.count, 0, task)
            XCTAssertEqual(losses.count, logged.count, task)
            for (point, record) in zip(losses, logged) {
                XCTAssertEqual(point.0, Int64(record["step"]!.intValue!), task)
                XCTAssertEqual(Double(point.1), record["loss"]!.doubleValue!, accuracy: 1e-5, task)
            }
            counts[task] = losses.count
        }
        let chief = try Self.events(run: jobDir + "/tensorboard/chief-0")
        let evals = chief.filter { if case .scalars(let s) = $0.payload { return s.contains { $0.tag == "eval/accuracy" } }; return false }
        XCTAssertEqual(evals.count, metrics.filter { $0["kind"] == "eval" }.count)

        // The ps logs its update rate (every 0.2 s at first).
        let ps = try Self.events(run: jobDir + "/tensorboard/ps-0")
        XCTAssertGreaterThan(ps.filter { if case .scalars(let s) = $0.payload { return s.contains { $0.tag == "ps/updates_per_sec" } }; return false }.count, 0)

        // TensorBoard's own loader, when installed, counts the same points.
        if let python = Self.which("python3") {
            let script = """
            import sys
            try:
                from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            except Exception:
                print("absent"); sys.exit(0)
            for run in ["chief-0", "worker-0", "worker-1"]:
                ea = EventAccumulator(sys.argv[1] + "/tensorboard/" + run); ea.Reload()
                print(run, len(ea.Scalars("train/loss")))
            """
            let (status, out) = try Self.runTool(python, ["-c", script, jobDir])
            XCTAssertEqual(status, 0, out)
            if !out.contains("absent") {
                for (task, n) in counts { XCTAssertTrue(out.contains("\(task) \(n)\n"), "TensorBoard read \(out), expected \(task) \(n)") }
            }
        }

        // The report: printed by train, one <svg> per chart, nothing external.
        let reportPath = jobDir + "/report.html"
        XCTAssertTrue(result.stdout.contains("report: \(reportPath)"), result.stdout)
        let html = try String(contentsOfFile: reportPath, encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 8)
        XCTAssertTrue(html.contains("<h2>Cost</h2>") && html.contains("is not billed"), "a local run says it has no bill and how to predict one")
        for banned in ["http", "<script", "src=", "@import", "url(http"] { XCTAssertFalse(html.lowercased().contains(banned), banned) }
        XCTAssertTrue(html.contains("SUCCEEDED"))
        XCTAssertFalse(html.contains("no resource samples"), "the launcher sampled CPU and memory")

        // `trainyard report` itself, to another file.
        let other = jobDir + "/copy.html"
        let again = try Harness.run(["report", jobDir, "-o", other])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: other))
        XCTAssertNotEqual(try Harness.run(["report", jobDir + "/missing"]).status, 0)

        // Rendered by a headless browser, when one is installed: a picture that is not blank.
        guard let browser = Self.which("chromium") ?? Self.which("chromium-browser") ?? Self.which("google-chrome") else { return }
        let png = jobDir + "/report.png"
        let (_, out) = try Self.runTool(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,2600",
                                                  "--screenshot=\(png)", "file://" + reportPath])
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: png), out)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        // A blank white page compresses to a few kilobytes; eight charts and tables do not.
        XCTAssertGreaterThan(bytes.count, 40_000, "the screenshot looks blank")
        if let keep = ProcessInfo.processInfo.environment["TRAINYARD_KEEP_SCREENSHOT"] { try? bytes.write(to: URL(fileURLWithPath: keep)) }
    }
}
