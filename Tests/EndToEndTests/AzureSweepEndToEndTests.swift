import Foundation
import XCTest
@testable import TrainyardCore

/// An Azure ML sweep job file, as Azure's docs write it, runs unchanged with `trainyard sweep run`.
final class AzureSweepEndToEndTests: XCTestCase {
    var home = ""
    override func setUp() { home = Harness.temporaryDirectory("azure-sweep") }
    override func tearDown() {
        for pid in Harness.processes(mentioning: home) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: home)
    }

    static var python3: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/python3") {
            return "\(dir)/python3"
        }
        return nil
    }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/azure-sweep-job.yaml").path

    /// The fixture, from another working directory: `code` is found beside the file and is each
    /// trial's working directory; `${{search_space.*}}` and `${{inputs.*}}` are placed, nothing is
    /// appended; the environment variables reach the script; compute is shown as local.
    func testTheAzureFixtureRunsUnchanged() throws {
        guard Self.python3 != nil else { throw XCTSkip("python3 is not installed") }
        let env = ["TRAINYARD_HOME": home]
        let r = try Harness.run(["sweep", "run", Self.fixture], environment: env, directory: home, timeout: 240)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("compute: local (the spec asks for azureml:cpu-cluster)"), r.stdout)
        XCTAssertTrue(r.stderr.contains("note: compute azureml:cpu-cluster is recorded: trials run on this machine (local)."), r.stderr)
        XCTAssertTrue(r.stderr.contains("note: sampling_algorithm.rule sobol:"), r.stderr)
        let sweep = try Harness.json(home + "/sweeps/azure-fixture-sweep-1/sweep.json")
        XCTAssertEqual(sweep["state"], "COMPLETED")
        XCTAssertEqual(sweep["azure"]?["compute"], "azureml:cpu-cluster")
        XCTAssertEqual(sweep["azure"]?["runs_on"], "local")
        XCTAssertEqual(sweep["primary_metric_logged"], .bool(true))
        let trials = try XCTUnwrap(sweep["trials"]?.arrayValue)
        XCTAssertEqual(trials.count, 3)
        for t in trials {
            XCTAssertEqual(t["state"], "COMPLETED", "\(t)")
            XCTAssertEqual(t["history"]?.arrayValue?.count, 3)
            let job = try XCTUnwrap(t["job"]?.stringValue)
            let log = try String(contentsOfFile: home + "/jobs/\(job)/logs/chief-0.log", encoding: .utf8)
            XCTAssertTrue(log.contains("trial \(t["trial"]?.intValue ?? -1) greeting hello data ./data"), log)
        }
        XCTAssertNotEqual(sweep["best_trial"], .null)
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    /// `trial.distribution` (tensorflow) is each trial's cluster: Azure's worker 0 as the chief,
    /// the other workers and the parameter servers, each task with its TF_CONFIG.
    func testATensorFlowDistributionRunsEachTrialAsACluster() throws {
        let spec = home + "/dist.yaml"
        try """
        $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
        type: sweep
        name: dist
        search_space:
          x: {type: choice, values: [1, 2]}
        sampling_algorithm: grid
        objective: {primary_metric: accuracy, goal: maximize}
        trial:
          command: 'echo "tf=$TF_CONFIG"; echo trainyard-metric accuracy=0.${{search_space.x}}'
          distribution: {type: tensorflow, worker_count: 2, parameter_server_count: 1}
          resources: {instance_count: 2}
        limits: {max_total_trials: 2, max_concurrent_trials: 1}
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("best trial: 1 (dist_1_t01) with final accuracy 0.2000"), r.stdout)
        for task in ["chief-0", "worker-0", "ps-0"] {
            let log = try String(contentsOfFile: home + "/jobs/dist_1_t00/logs/\(task).log", encoding: .utf8)
            let line = try XCTUnwrap(log.split(separator: "\n").first { $0.contains("tf=") })
            let config = try JSONParser.parse(String(line[line.range(of: "tf=")!.upperBound...]))
            XCTAssertEqual(config["cluster"]?["chief"]?.arrayValue?.count, 1, log)
            XCTAssertEqual(config["cluster"]?["worker"]?.arrayValue?.count, 1, log)
            XCTAssertEqual(config["cluster"]?["ps"]?.arrayValue?.count, 1, log)
            XCTAssertEqual(config["task"]?["trial"], "0")
            XCTAssertEqual(config["task"]?["type"]?.stringValue, String(task.prefix { $0 != "-" }))
        }
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    /// A primary metric no trial logs is named in the sweep's result, with the names they did log.
    func testAPrimaryMetricNoTrialLogsIsReported() throws {
        let spec = home + "/sweep.yaml"
        try """
        $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
        type: sweep
        name: unlogged
        search_space:
          x: {type: choice, values: [1, 2]}
        sampling_algorithm: grid
        objective: {primary_metric: val_accuracy, goal: maximize}
        trial:
          command: echo trainyard-metric accuracy=0.${{search_space.x}}
        limits: {max_total_trials: 2, max_concurrent_trials: 2}
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try Harness.run(["sweep", "run", spec], environment: ["TRAINYARD_HOME": home], timeout: 120)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let expected = "no trial ever logged the primary metric val_accuracy; the trials logged: accuracy"
        XCTAssertTrue(r.stdout.contains("problem: " + expected), r.stdout)
        let sweep = try Harness.json(home + "/sweeps/unlogged-1/sweep.json")
        XCTAssertEqual(sweep["primary_metric_logged"], .bool(false))
        XCTAssertTrue(sweep["problem"]?.stringValue?.hasPrefix(expected) ?? false, "\(sweep)")
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }
}
