import Foundation
import XCTest
@testable import TrainyardCore

/// CI runs every shipped scenario, with real processes and injected faults.
final class ScenarioEndToEndTests: XCTestCase {
    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scenarios").path

    func testEveryShippedScenarioPasses() throws {
        let jobs = Harness.temporaryDirectory("scenarios")
        defer { try? FileManager.default.removeItem(atPath: jobs) }
        let r = try Harness.run(["scenario", "run-all", Self.scenarios, "--jobs-dir", jobs, "--json"], timeout: 900)
        let result = try JSONParser.parse(r.stdout)
        var failures: [String] = []
        for s in result["scenarios"]?.arrayValue ?? [] where s["passed"] != true {
            let failed = (s["expectations"]?.arrayValue ?? []).filter { $0["passed"] != true }
                .map { "\($0["name"]?.stringValue ?? "?"): expected \($0["expected"]?.stringValue ?? "?"), got \($0["actual"]?.stringValue ?? "?")" }
            failures.append("\(s["scenario"]?.stringValue ?? "?") (\(s["job_dir"]?.stringValue ?? "")): \(failed.joined(separator: "; "))")
        }
        XCTAssertEqual(failures, [], r.stderr)
        XCTAssertEqual(r.status, 0)
        XCTAssertGreaterThanOrEqual(result["scenarios"]?.arrayValue?.count ?? 0, 10)
        XCTAssertEqual(Harness.processes(mentioning: jobs), [])
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
        XCTAssertTrue(r.stdout.contains("fault     kill worker-0 at step 50"), r.stdout)
        for evidence in ["timeline.jsonl", "scenario-result.json", "scenario.json", "summary.json", "logs/worker-0.log"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/job/" + evidence), evidence)
        }
        let bad = try Harness.run(["scenario", "run", Self.scenarios + "/../README.md"])
        XCTAssertEqual(bad.status, 3)
    }
}
