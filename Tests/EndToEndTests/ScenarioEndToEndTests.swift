import Foundation
import XCTest
@testable import TrainyardCore

/// CI runs every shipped scenario, with real processes and injected faults.
final class ScenarioEndToEndTests: XCTestCase {
    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scenarios").path

    /// One test per shipped scenario, so one that fails does not hide the others.
    static let shipped = ["01-worker-killed.json", "02-ps-killed.json", "03-chief-killed.json", "04-chief-preempted.json", "05-worker-paused.json", "06-ps-paused.json", "07-straggler-async.json", "08-sync-backup-workers.json", "09-sync-no-backup.json", "10-network-delay.json", "11-bandwidth-cap.json", "12-partition.json", "13-connection-reset.json", "14-corrupt-checkpoint.json", "15-restart-policy-gives-up.json", "16-random-worker-killed.json"]

    func testEveryScenarioFileHasItsOwnTest() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.scenarios).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertEqual(files, Self.shipped, "add a test case below for each scenario file")
    }

    func testWorkerKilled() throws { try run("01-worker-killed.json") }
    func testPsKilled() throws { try run("02-ps-killed.json") }
    func testChiefKilled() throws { try run("03-chief-killed.json") }
    func testChiefPreempted() throws { try run("04-chief-preempted.json") }
    func testWorkerPaused() throws { try run("05-worker-paused.json") }
    func testPsPaused() throws { try run("06-ps-paused.json") }
    func testStragglerAsync() throws { try run("07-straggler-async.json") }
    func testSyncBackupWorkers() throws { try run("08-sync-backup-workers.json") }
    func testSyncNoBackup() throws { try run("09-sync-no-backup.json") }
    func testNetworkDelay() throws { try run("10-network-delay.json") }
    func testBandwidthCap() throws { try run("11-bandwidth-cap.json") }
    func testPartition() throws { try run("12-partition.json") }
    func testConnectionReset() throws { try run("13-connection-reset.json") }
    func testCorruptCheckpoint() throws { try run("14-corrupt-checkpoint.json") }
    func testRestartPolicyGivesUp() throws { try run("15-restart-policy-gives-up.json") }
    func testRandomWorkerKilled() throws { try run("16-random-worker-killed.json") }

    /// Runs one scenario file as a user would and reports every failed expectation.
    func run(_ file: String) throws {
        let jobs = Harness.temporaryDirectory("scenario")
        defer { try? FileManager.default.removeItem(atPath: jobs) }
        let r = try Harness.run(["scenario", "run", Self.scenarios + "/" + file, "--job-dir", jobs + "/run", "--json"], timeout: 300)
        let result: JSONValue
        do { result = try JSONParser.parse(r.stdout) } catch { return XCTFail("\(file): no JSON result (exit \(r.status)): \(r.stderr)") }
        let failed = (result["expectations"]?.arrayValue ?? []).filter { $0["passed"] != true }
            .map { "\($0["name"]?.stringValue ?? "?"): expected \($0["expected"]?.stringValue ?? "?"), got \($0["actual"]?.stringValue ?? "?")" }
        XCTAssertEqual(failed, [], "\(file) — evidence was in \(jobs)/run")
        XCTAssertEqual(result["passed"], .bool(true))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Harness.processes(mentioning: jobs), [], "\(file) left processes behind")
    }

    func testAFailingExpectationFailsTheRunAndKeepsEvidence() throws {
        let dir = Harness.temporaryDirectory("scenario-fail")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/s.json"
        try #"""
        {"name": "impossible", "cluster": {"workers": 1, "ps": 1},
         "training": {"max_steps": 300, "hidden": "8", "features": 4, "classes": 2, "examples": 500, "log_every": 10},
         "faults": [{"at_step": 50, "action": "kill", "target": "worker-0"}],
         "expect": {"state": "SUCCEEDED", "restarts": {"worker-0": 0}}}
        """#.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Harness.run(["scenario", "run", file, "--job-dir", dir + "/job"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("FAIL  restarts of worker-0: expected 0, got 1"), r.stdout)
        // Step triggers are exact: the ps hold the cluster at step 50 until the fault fires.
        XCTAssertTrue(r.stdout.contains("fault     kill worker-0 at step 50 (global step 50)"), r.stdout)
        for evidence in ["timeline.jsonl", "scenario-result.json", "scenario.json", "summary.json", "logs/worker-0.log"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/job/" + evidence), evidence)
        }
        let bad = try Harness.run(["scenario", "run", Self.scenarios + "/../README.md"])
        XCTAssertEqual(bad.status, 3)
    }

    /// Ctrl-C during `scenario run` stops its job and exits 130, as `train` and `run-all` do: an
    /// interrupted scenario is not reported as a scenario whose expectations failed.
    func testAnInterruptedScenarioExits130AndLeavesNoProcess() throws {
        let dir = Harness.temporaryDirectory("scenario-interrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/s.json"
        try #"""
        {"name": "long", "cluster": {"workers": 1, "ps": 1},
         "training": {"max_steps": 10000000, "hidden": "8", "features": 4, "classes": 2, "examples": 500, "log_every": 10},
         "faults": [], "expect": {"state": "SUCCEEDED"}}
        """#.write(toFile: file, atomically: true, encoding: .utf8)
        let (runner, out, _) = try Harness.start(["scenario", "run", file, "--job-dir", dir + "/job"])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !((try? String(contentsOfFile: dir + "/job/metrics.jsonl", encoding: .utf8))?.contains("\"train\"") ?? false) {
            usleep(50_000)
        }
        kill(runner.processIdentifier, SIGINT)
        XCTAssertTrue(Harness.waitForExit(runner, timeout: 60), "scenario run went on after Ctrl-C")
        XCTAssertEqual(runner.terminationStatus, 130)
        // Said as an interruption, not as a scenario that failed.
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(stdout.contains("INTERRUPTED (the launcher received SIGINT) after"), stdout)
        XCTAssertFalse(stdout.contains("FAILED in"), stdout)
        XCTAssertEqual(Harness.processes(mentioning: dir), [])
        XCTAssertEqual(try Harness.json(dir + "/job/summary.json")["status"], "CANCELLED")
    }
}
