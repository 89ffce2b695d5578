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
        let bestValue = try XCTUnwrap(best["metric"]?.doubleValue)
        XCTAssertEqual(bestValue, trials.filter { $0["state"] == "COMPLETED" }.compactMap { $0["metric"]?.doubleValue }.max())
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
        XCTAssertEqual(v1["metrics"]?["accuracy"]?.doubleValue, bestValue)
        XCTAssertTrue((v1["files"]?.arrayValue ?? []).contains("weights.tyckpt"))
        XCTAssertEqual(try Harness.run(["models", "show", "mlp:9"], environment: env).status, 2)
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    /// A trial the policy stops at its 2nd evaluation trains no step past it; the best-of-sweep
    /// model is the one whose metric the ranking quoted.
    func testATrialStoppedAtAnEvaluationTrainsNoFurtherAndTheRegisteredModelIsTheRankedOne() throws {
        let spec = home + "/stop.json"
        // One trial at a time, in grid order: trial 0 learns (lr 0.3), trial 1 cannot (lr 0) and is
        // compared with trial 0's history at its 2nd evaluation (step 60 of 300).
        try #"""
        { "name": "stop-sweep",
          "trial": { "max_steps": 300, "eval_every": 30, "workers": 0, "ps": 1, "hidden": "16", "features": 8, "classes": 3,
                     "examples": 3000, "batch_size": 32, "optimizer": "sgd" },
          "search_space": { "learning_rate": {"type": "choice", "values": [0.3, 0]} },
          "sampling_algorithm": "grid",
          "objective": { "primary_metric": "accuracy", "goal": "maximize" },
          "limits": { "max_total_trials": 2, "max_concurrent_trials": 1, "timeout": 240 },
          "early_termination": { "type": "bandit", "slack_amount": 0.1, "evaluation_interval": 1, "delay_evaluation": 2 } }
        """#.write(toFile: spec, atomically: true, encoding: .utf8)
        let env = ["TRAINYARD_HOME": home]
        let r = try Harness.run(["sweep", "run", spec, "--json"], environment: env, timeout: 240)
        XCTAssertEqual(r.status, 0, r.stderr)
        let sweep = try JSONParser.parse(r.stdout)
        XCTAssertEqual(sweep["state"], "COMPLETED")
        let trials = try XCTUnwrap(sweep["trials"]?.arrayValue)
        XCTAssertEqual(trials.map { $0["state"]?.stringValue ?? "?" }, ["COMPLETED", "EARLY_TERMINATED"], r.stdout)
        let stopped = trials[1]
        XCTAssertEqual(stopped["stopped_at_step"]?.intValue, 60, "\(stopped)")
        XCTAssertEqual(stopped["history"]?.arrayValue?.count, 2)
        XCTAssertEqual(stopped["steps"]?.intValue, 60)
        XCTAssertEqual(sweep["steps_saved"]?.intValue, 240)
        XCTAssertEqual(sweep["trial_steps"]?.intValue, 360)
        // Its metrics stop at the evaluation that stopped it.
        let job = try XCTUnwrap(stopped["job"]?.stringValue)
        let record = try Harness.json(home + "/jobs/\(job)/job.json")
        let jobDir = try XCTUnwrap(record["job_directory"]?.stringValue ?? record["spec"]?["job_dir"]?.stringValue)
        let lines = try String(contentsOfFile: jobDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONParser.parse(String($0)) }
        XCTAssertEqual(records.compactMap { $0["step"]?.intValue }.max(), 60, "metrics past the stopping evaluation")
        XCTAssertEqual(records.filter { $0["kind"] == "eval" }.count, 2)

        // The ranking quotes each trial's final value, and registration takes that trial's model.
        let best = try XCTUnwrap(sweep["best_trial"])
        XCTAssertEqual(best["trial"]?.intValue, 0)
        let quoted = try XCTUnwrap(best["metric"]?.doubleValue)
        XCTAssertEqual(quoted, best["history"]?.arrayValue?.last?.doubleValue)
        XCTAssertEqual(try Harness.run(["models", "register", "mlp", "--best-of-sweep", "stop-sweep-1"], environment: env).status, 0)
        let shown = try JSONParser.parse(try Harness.run(["models", "show", "mlp", "--json"], environment: env).stdout)
        XCTAssertEqual(shown["metrics"]?["accuracy"]?.doubleValue, quoted)
        let model = try Harness.json(home + "/models/mlp/1/files/model.json")
        XCTAssertEqual(model["metrics"]?["eval_accuracy"]?.doubleValue, quoted, "the registered model's own evaluation is the quoted value")
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    /// A sweep whose every trial fails ends FAILED (exit 1) with each trial's reason.
    func testASweepWithNoSuccessfulTrialFailsWithEachReason() throws {
        let spec = home + "/fail.json"
        try #"""
        { "name": "fail-sweep",
          "trial": { "command": "echo \"no such dataset: ${{search_space.data}}\" >&2; exit 4" },
          "search_space": { "data": {"type": "choice", "values": ["a", "b"]} },
          "sampling_algorithm": "grid",
          "objective": { "primary_metric": "accuracy", "goal": "maximize" },
          "limits": { "max_total_trials": 2, "max_concurrent_trials": 2, "timeout": 120 } }
        """#.write(toFile: spec, atomically: true, encoding: .utf8)
        let env = ["TRAINYARD_HOME": home]
        let r = try Harness.run(["sweep", "run", spec], environment: env, timeout: 120)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("sweep fail-sweep-1: FAILED"), r.stdout)
        XCTAssertTrue(r.stdout.contains("best trial: none (no trial completed)"), r.stdout)
        let sweep = try Harness.json(home + "/sweeps/fail-sweep-1/sweep.json")
        XCTAssertEqual(sweep["state"], "FAILED")
        for t in sweep["trials"]?.arrayValue ?? [] {
            XCTAssertEqual(t["state"], "FAILED")
            let reason = try XCTUnwrap(t["terminated_by"]?.stringValue, "\(t)")
            XCTAssertFalse(reason.isEmpty)
            let index = t["trial"]?.intValue ?? -1
            XCTAssertTrue(r.stdout.contains("trial \(index) failed: \(reason)"), r.stdout)
            XCTAssertTrue(r.stderr.contains("trial \(index) failed: \(reason)"), r.stderr)
        }
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    /// A trial that cannot start (here its job folder cannot be made: the path runs through a file)
    /// has failed with the reason; the sweep goes on to the next, records both, and ends FAILED.
    func testATrialThatCannotStartFailsWithItsReasonAndTheSweepGoesOn() throws {
        let blocker = home + "/not-a-folder"
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let spec = home + "/nostart.json"
        try """
        { "name": "nostart-sweep",
          "trial": { "command": "echo accuracy=0.5", "job_dir": "\(blocker)/jobs" },
          "search_space": { "data": {"type": "choice", "values": ["a", "b"]} },
          "sampling_algorithm": "grid",
          "objective": { "primary_metric": "accuracy", "goal": "maximize" },
          "limits": { "max_total_trials": 2, "max_concurrent_trials": 1, "timeout": 60 } }
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 120)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let sweep = try Harness.json(home + "/sweeps/nostart-sweep-1/sweep.json")
        XCTAssertEqual(sweep["state"], "FAILED")
        // No trial ran, so nothing is said about the metric's name.
        XCTAssertEqual(sweep["problem"], .null)
        XCTAssertFalse(r.stdout.contains("no trial ever logged"), r.stdout)
        let trials = sweep["trials"]?.arrayValue ?? []
        XCTAssertEqual(trials.count, 2)
        for t in trials {
            XCTAssertEqual(t["state"], "FAILED", "\(t)")
            let reason = try XCTUnwrap(t["terminated_by"]?.stringValue, "\(t)")
            XCTAssertTrue(reason.hasPrefix("could not start: mkdir \(blocker) (a file is in the way)"), reason)
            XCTAssertTrue(r.stderr.contains("trial \(t["trial"]?.intValue ?? -1) failed: could not start"), r.stderr)
        }
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    /// A mistake every trial's job shares (here a package folder that is not there) is found before
    /// the first trial, by the checks `submit` makes: exit 3, named once, no sweep or job written.
    func testAJobEveryTrialWouldBeRefusedStartsNothing() throws {
        let spec = home + "/nopackage.json"
        try """
        { "name": "nopackage-sweep",
          "trial": { "module_name": "trainer.task", "package_path": "\(home)/no-such-package", "scale_tier": "BASIC" },
          "search_space": { "lr": {"type": "choice", "values": [0.1, 0.2, 0.3]} },
          "sampling_algorithm": "grid",
          "objective": { "primary_metric": "accuracy", "goal": "maximize" },
          "limits": { "max_total_trials": 3, "max_concurrent_trials": 1, "timeout": 60 } }
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 60)
        XCTAssertEqual(r.status, 3, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("\(spec): trial.package_path: no such folder: \(home)/no-such-package\n"), r.stderr)
        XCTAssertFalse(r.stderr.contains("could not start"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/jobs"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/sweeps"))
        // A file where the folder should be is named as such.
        try "x".write(toFile: home + "/no-such-package", atomically: true, encoding: .utf8)
        let file = try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 60)
        XCTAssertEqual(file.status, 3, file.stderr)
        XCTAssertTrue(file.stderr.contains("trial.package_path: \(home)/no-such-package is a file: give the trainer's folder"), file.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/sweeps"))
    }

    /// A value some trials draw that their job refuses (a model too large for this machine's
    /// memory) names the first such trial and its values; a refusal every trial meets is said once.
    func testARefusalSomeOrAllTrialsWouldMeetStartsNothing() throws {
        func sweep(_ name: String, trial: String, space: String) throws -> Harness.Result {
            let spec = home + "/\(name).json"
            try """
            { "name": "\(name)", "trial": { "max_steps": 10, "workers": 0, "ps": 1\(trial) },
              "search_space": { \(space) },
              "sampling_algorithm": "grid",
              "objective": { "primary_metric": "accuracy", "goal": "maximize" } }
            """.write(toFile: spec, atomically: true, encoding: .utf8)
            return try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 60)
        }
        // 43 billion parameters, 172 GB a copy, five copies: more memory than a machine this runs on has.
        let huge = Array(repeating: "65536", count: 11).joined(separator: ",")
        let some = try sweep("some", trial: "", space: "\"hidden\": {\"type\": \"choice\", \"values\": [\"16\", \"\(huge)\"]}")
        XCTAssertEqual(some.status, 3, some.stderr)
        XCTAssertTrue(some.stderr.contains("some.json: trial: trial 1's job (hidden=\(huge)) would be refused: --hidden \(huge)"), some.stderr)
        XCTAssertTrue(some.stderr.contains("of memory is available"), some.stderr)
        XCTAssertTrue(some.stderr.contains("(1 of the 2 trials' jobs would be refused; no trial was started)"), some.stderr)
        let all = try sweep("all", trial: ", \"hidden\": \"\(huge)\"", space: #""learning_rate": {"type": "choice", "values": [0.1, 0.2, 0.3]}"#)
        XCTAssertEqual(all.status, 3, all.stderr)
        XCTAssertTrue(all.stderr.contains("all.json: trial: every trial's job would be refused: --hidden \(huge)"), all.stderr)
        XCTAssertTrue(all.stderr.hasSuffix("(no trial was started)\n"), all.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/jobs"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/sweeps"))
    }

    /// A broken tier file is named as itself, not as the sweep spec that led to reading it.
    func testABrokenTierFileIsNamedAsItself() throws {
        try FileManager.default.createDirectory(atPath: home + "/tiers", withIntermediateDirectories: true)
        try #"{"kind": "nope"}"#.write(toFile: home + "/tiers/x.json", atomically: true, encoding: .utf8)
        let spec = home + "/tiers-sweep.json"
        try #"{ "name": "tiers-sweep", "trial": { "max_steps": 10, "workers": 0, "ps": 1 }, "search_space": { "learning_rate": {"type": "choice", "values": [0.1]} }, "objective": { "primary_metric": "accuracy", "goal": "maximize" } }"#
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 60)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("error: \(home)/tiers/x.json: kind: unknown kind \"nope\""), r.stderr)
        XCTAssertFalse(r.stderr.contains(spec), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/sweeps"))
    }

    /// Parameters the trial does not accept are invalid input: exit 3, the field named, nothing started.
    func testInvalidParametersStartNothing() throws {
        let spec = home + "/bad.json"
        try #"""
        { "name": "bad-sweep", "trial": { "max_steps": 50, "workers": 0, "ps": 1 },
          "search_space": { "learning_rate": {"type": "choice", "values": ["fast", "slow"]} },
          "objective": { "primary_metric": "accuracy", "goal": "maximize" } }
        """#.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 60)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("search_space.learning_rate.values[0]: learning_rate takes a number, got a string \"fast\""), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/jobs"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/sweeps"))
    }
}
