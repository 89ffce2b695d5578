import XCTest
@testable import TrainyardCore
@testable import TrainyardLaunch
@testable import TrainyardPlatform

/// The report engine on job folders written by hand: every chart, the faults on the time axis,
/// a stated message where there is no data, and nothing fetched from elsewhere.
final class ReportTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "trainyard-report-\(UInt32.random(in: 0...UInt32.max))"
        try Files.createDirectory(dir)
    }

    override func tearDown() { Files.remove(dir) }

    func write(_ name: String, _ lines: [String]) throws { try Files.writeAtomically(lines.joined(separator: "\n") + "\n", to: dir + "/" + name) }

    func testScenarioJobReportDrawsEveryChartAndTheFaults() throws {
        let t0 = 1_700_000_000.0
        var metrics: [String] = []
        for k in 0..<30 {
            for task in ["chief-0", "worker-0"] {
                metrics.append(#"{"time":\#(t0 + 0.1 * Double(k)),"task":"\#(task)","kind":"train","step":\#(k * 10),"loss":\#(2.0 / Double(k + 1)),"accuracy":0.5,"examples_per_sec":1000}"#)
            }
            if k % 10 == 9 { metrics.append(#"{"time":\#(t0 + 0.1 * Double(k)),"task":"chief-0","kind":"eval","step":\#(k * 10),"loss":0.5,"accuracy":0.8,"examples":100}"#) }
            metrics.append(#"{"time":\#(t0 + 0.1 * Double(k)),"task":"ps-0","kind":"ps","step":\#(k * 10),"updates_per_sec":100}"#)
        }
        try write("metrics.jsonl", metrics)
        try write("resources.jsonl", (0..<10).map { #"{"time":\#(t0 + 0.3 * Double($0)),"elapsed":\#(0.3 * Double($0)),"task":"worker-0","pid":\#($0 < 5 ? 11 : 12),"cpu_percent":50,"rss_bytes":1048576}"# })
        try write("timeline.jsonl", [#"{"time":0.0,"event":"start","text":"go"}"#, #"{"time":1.5,"event":"fault","text":"kill worker-0"}"#,
                                     #"{"time":1.8,"event":"recover","text":"moving again"}"#])
        try write("summary.json", [#"{"status":"FAILED","reason":"chief-0 gave up <badly>","exit_code":1,"topology":{"chief":1,"workers":1,"ps":1},"steps":290,"wall_seconds":3,"tasks":{"worker-0":{"exit":"exit 0","restarts":1}}}"#])
        try write("scenario-result.json", [#"{"scenario":"kill-one","passed":false,"expectations":[{"name":"state","expected":"SUCCEEDED","actual":"FAILED","passed":false}],"faults":[{"fault":"kill worker-0","fired_at_seconds":1.5}]}"#])

        let html = try Report.html(for: dir)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 8)
        XCTAssertFalse(html.lowercased().contains("http"))
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertTrue(html.contains("chief-0 gave up &lt;badly&gt;"), "text from the files is escaped")
        XCTAssertTrue(html.contains("FAILED") && html.contains("kill-one") && html.contains("kill worker-0"))
        // The fault (red) and the recovery (green) are drawn on the time charts; the start is not.
        XCTAssertEqual(html.components(separatedBy: "stroke=\"#d62728\" stroke-dasharray=\"4,3\"").count - 1, 6)
        XCTAssertEqual(html.components(separatedBy: "stroke=\"#2ca02c\" stroke-dasharray=\"4,3\"").count - 1, 6)
        XCTAssertFalse(html.contains("no training loss was logged"))
    }

    func testEmptyJobSaysWhatIsMissingAndAPlainJobShowsRestarts() throws {
        try write("metrics.jsonl", [])
        try write("resources.jsonl", [#"{"time":5,"elapsed":0,"task":"worker-1","pid":7,"rss_bytes":1}"#, #"{"time":6,"elapsed":1,"task":"worker-1","pid":8,"rss_bytes":1}"#])
        let html = try Report.html(for: dir)
        XCTAssertTrue(html.contains("no training loss was logged"))
        XCTAssertTrue(html.contains("No <code>summary.json</code> here"))
        XCTAssertTrue(html.contains("worker-1 running again as pid 8"))
    }

    func testNotAJobFolderIsRefused() throws {
        XCTAssertThrowsError(try Report.html(for: dir))
        XCTAssertThrowsError(try Report.html(for: dir + "/missing"))
    }

    func testSweepFolder() throws {
        try write("sweep.json", [#"{"id":"s-1","state":"SUCCEEDED","objective":{"primary_metric":"accuracy","goal":"MAXIMIZE"},"trials":[{"trial":0,"job":"s-1-t0","state":"SUCCEEDED","parameters":{"lr":0.1},"history":[0.5,0.7],"best_metric":0.7,"steps":100},{"trial":1,"job":"s-1-t1","state":"EARLY_TERMINATED","parameters":{"lr":1},"history":[0.2],"best_metric":0.2,"steps":50}],"best_trial":{"trial":0,"job":"s-1-t0","best_metric":0.7}}"#])
        let path = try Report.write(for: dir, to: dir + "/out.html")
        let html = try Files.readText(path)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 1)
        XCTAssertTrue(html.contains("lr=0.1") && html.contains("EARLY_TERMINATED") && html.contains("trial 0 (s-1-t0)"))
        XCTAssertTrue(html.contains("stroke-dasharray=\"6,4\""), "the early-terminated trial is dashed")
    }
}
