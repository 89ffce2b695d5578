import Foundation
import XCTest
@testable import TrainyardCore

final class SweepEndToEndTests: XCTestCase {
    var home = ""
    override func setUp() { home = Harness.temporaryDirectory("sweep") }
    override func tearDown() {
        for pid in Harness.processes(mentioning: home) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: home)
    }

    func testASmallSweepRespectsItsLimitsAndRegistersTheBestModel() throws {
        let spec = home + "/sweep.json"
        try #"""
        { "name": "e2e-sweep",
          "trial": { "max_steps": 400, "workers": 1, "ps": 1, "hidden": "16", "features": 8, "classes": 3, "examples": 3000, "batch_size": 32 },
          "search_space": { "learning_rate": {"type": "loguniform", "min_value": -7, "max_value": -1},
                            "momentum": {"type": "choice", "values": [0.5, 0.9]} },
          "sampling_algorithm": "random", "seed": 3,
          "objective": { "primary_metric": "accuracy", "goal": "maximize" },
          "limits": { "max_total_trials": 5, "max_concurrent_trials": 2, "timeout": 300, "trial_timeout": 120 },
          "early_termination": { "type": "bandit", "slack_factor": 0.05, "evaluation_interval": 1, "delay_evaluation": 2 } }
        """#.write(toFile: spec, atomically: true, encoding: .utf8)
        let env = ["TRAINYARD_HOME": home]
        let r = try Harness.run(["sweep", "run", spec, "--json"], environment: env, timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        let sweep = try JSONParser.parse(r.stdout)
        XCTAssertEqual(sweep["state"], "COMPLETED")
        let trials = try XCTUnwrap(sweep["trials"]?.arrayValue)
        XCTAssertEqual(trials.count, 5)
        for t in trials {
            XCTAssertTrue(["COMPLETED", "EARLY_TERMINATED"].contains(t["state"]?.stringValue ?? ""), "\(t)")
            XCTAssertNotNil(t["parameters"]?["learning_rate"]?.doubleValue)
            if t["state"] == "EARLY_TERMINATED" { XCTAssertTrue(t["terminated_by"]?.stringValue?.hasPrefix("bandit (slack_factor 0.05)") ?? false) }
        }
        // Never more than 2 trials at once.
        let spans = trials.compactMap { t -> (Double, Double)? in
            guard let s = t["started"]?.doubleValue, let e = t["ended"]?.doubleValue else { return nil }
            return (s, e)
        }
        XCTAssertEqual(spans.count, 5)
        for (s, _) in spans { XCTAssertLessThanOrEqual(spans.filter { $0.0 <= s && s < $0.1 }.count, 2) }
        // The best trial is the one with the highest accuracy, and it passed --name=value arguments on.
        let best = try XCTUnwrap(sweep["best_trial"])
        let bestValue = try XCTUnwrap(best["best_metric"]?.doubleValue)
        XCTAssertEqual(bestValue, trials.compactMap { $0["best_metric"]?.doubleValue }.max())
        let job = try XCTUnwrap(best["job"]?.stringValue)
        let jobRecord = try Harness.json(home + "/jobs/\(job)/job.json")
        XCTAssertTrue((jobRecord["spec"]?["args"]?.arrayValue ?? []).contains { $0.stringValue?.hasPrefix("--learning-rate=") ?? false })
        let chart = try String(contentsOfFile: home + "/sweeps/e2e-sweep-1/metric.svg", encoding: .utf8)
        XCTAssertTrue(chart.contains("<polyline"))
        // TF_CONFIG's task carries the trial.
        let chiefLog = try String(contentsOfFile: home + "/jobs/\(job)/logs/chief-0.log", encoding: .utf8)
        XCTAssertFalse(chiefLog.isEmpty)

        // The registry: versions increase and remember where they came from.
        let first = try Harness.run(["models", "register", "mlp", "--best-of-sweep", "e2e-sweep-1"], environment: env)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(try Harness.run(["models", "register", "mlp", "--from-job", job], environment: env).status, 0)
        let shown = try JSONParser.parse(try Harness.run(["models", "show", "mlp", "--json"], environment: env).stdout)
        XCTAssertEqual(shown["version"]?.intValue, 2)
        XCTAssertEqual(shown["source"]?["job"]?.stringValue, job)
        let v1 = try JSONParser.parse(try Harness.run(["models", "show", "mlp:1", "--json"], environment: env).stdout)
        XCTAssertEqual(v1["source"]?["sweep"], "e2e-sweep-1")
        XCTAssertEqual(v1["metrics"]?["best_accuracy"]?.doubleValue, bestValue)
        XCTAssertTrue((v1["files"]?.arrayValue ?? []).contains("weights.tyckpt"))
        XCTAssertEqual(try Harness.run(["models", "show", "mlp:9"], environment: env).status, 2)
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }
}
