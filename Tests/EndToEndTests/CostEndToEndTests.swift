import Foundation
import XCTest
@testable import TrainyardCore

/// `trainyard cost --explain` and `cost validate --json` as a user runs them: the structure of
/// what they print and that every figure is finite and positive — not the model's accuracy,
/// which depends on the machine's load.
final class CostEndToEndTests: XCTestCase {

    /// A home with a saved calibration, so `cost` does not measure this machine.
    func home() throws -> String {
        let home = Harness.temporaryDirectory("cost-home")
        let kernel = try Harness.run(["calibrate", "--json", "--quick"], environment: ["TRAINYARD_HOME": home], timeout: 300)
        XCTAssertEqual(kernel.status, 0, kernel.stderr)
        return home
    }

    func testExplainNamesEveryBoundADistinctNextBottleneckAndASensitivityTable() throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let env = ["TRAINYARD_HOME": home]
        let r = try Harness.run(["cost", "--scale-tier", "STANDARD_1", "--hidden", "1024,1024", "--features", "32", "--explain"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        for bound in ["compute", "ps CPU", "wire", "worker link", "ps link", "request latency"] {
            XCTAssertTrue(r.stdout.contains(bound), "--explain does not show the \(bound) bound:\n\(r.stdout)")
        }
        XCTAssertTrue(r.stdout.contains("← bottleneck") && r.stdout.contains("← next"), r.stdout)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("bottleneck ") && $0.contains("(next: ") })
        let first = line.components(separatedBy: "bottleneck")[1].components(separatedBy: "(next:")[0].trimmingCharacters(in: .whitespaces)
        let next = line.components(separatedBy: "(next: ")[1].components(separatedBy: " at ")[0]
        XCTAssertNotEqual(first, next, "the next bottleneck is the same as the first: \(line)")
        for input in ["per-vCPU speed", "network Gbps", "ps count", "batch size"] {
            XCTAssertTrue(r.stdout.contains(input), "the sensitivity table has no row for \(input):\n\(r.stdout)")
        }
        // Synchronous training shows the barrier.
        let sync = try Harness.run(["cost", "--scale-tier", "STANDARD_1", "--sync", "--explain"], environment: env)
        XCTAssertEqual(sync.status, 0, sync.stderr)
        XCTAssertTrue(sync.stdout.contains("sync barrier"), sync.stdout)
        // More gradients a step than the tier has training tasks: refused, not priced (exit 2).
        let tooMany = try Harness.run(["cost", "--scale-tier", "STANDARD_1", "--sync", "--replicas-to-aggregate", "6"], environment: env)
        XCTAssertEqual(tooMany.status, 2, tooMany.stdout)
        XCTAssertTrue(tooMany.stderr.contains("STANDARD_1: 5 training tasks (the chief and the workers) cannot give --replicas-to-aggregate 6"), tooMany.stderr)
        // `cost compare` leaves out the tiers that cannot, and says so.
        let compare = try Harness.run(["cost", "compare", "--sync", "--replicas-to-aggregate", "2"], environment: env)
        XCTAssertEqual(compare.status, 0, compare.stderr)
        XCTAssertTrue(compare.stderr.contains("BASIC left out: 1 training task"), compare.stderr)
        XCTAssertTrue(compare.stdout.contains("STANDARD_1") && !compare.stdout.contains("BASIC "), compare.stdout)
        // JSON: the bounds, the next bottleneck and the sensitivity rows, all positive numbers.
        let j = try Harness.run(["cost", "--scale-tier", "STANDARD_1", "--explain", "--json"], environment: env)
        XCTAssertEqual(j.status, 0, j.stderr)
        let v = try JSONParser.parse(j.stdout)
        XCTAssertNotEqual(v["bottleneck"]?.stringValue, v["next_bottleneck"]?.stringValue)
        let bounds = try XCTUnwrap(v["bounds"]?.objectValue)
        XCTAssertGreaterThanOrEqual(bounds.count, 5)
        let rows = try XCTUnwrap(v["sensitivity"]?.arrayValue)
        XCTAssertGreaterThanOrEqual(rows.count, 4)
        for row in rows {
            for key in ["seconds_low", "seconds_high", "dollars_low", "dollars_high"] {
                let x = try XCTUnwrap(row[key]?.doubleValue, "\(key) in \(row)")
                XCTAssertTrue(x.isFinite && x > 0, "\(key) = \(x)")
            }
        }
    }

    func testValidateJSONHasTheShapeTheLeadReads() throws {
        let home = Harness.temporaryDirectory("cost-validate")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try Harness.run(["cost", "validate", "--tiny", "--json"], environment: ["TRAINYARD_HOME": home], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        let v = try JSONParser.parse(r.stdout)
        let configs = try XCTUnwrap(v["configurations"]?.arrayValue)
        XCTAssertEqual(configs.count, 2)
        for c in configs {
            for key in ["name", "regime", "cluster", "bottleneck", "status"] { XCTAssertNotNil(c[key]?.stringValue, "\(key) in \(c)") }
            for key in ["predicted", "measured", "background_load"] {
                let x = try XCTUnwrap(c[key]?.doubleValue, "\(key) in \(c)")
                XCTAssertTrue(x.isFinite && x >= 0, "\(key) = \(x)")
            }
            XCTAssertGreaterThan(c["predicted"]!.doubleValue!, 0)
            XCTAssertGreaterThan(c["measured"]!.doubleValue!, 0)
            XCTAssertTrue(c["error"]?.doubleValue?.isFinite == true)
            // One round: one run, no spread.
            XCTAssertEqual(c["measured_runs"]?.arrayValue?.count, 1)
            XCTAssertEqual(c["runs_spread"], .null, "\(c)")
        }
        XCTAssertEqual(v["runs_spread_beyond_max_target"]?.arrayValue?.count, 0)
        XCTAssertNotNil(v["median_abs_error"]?.doubleValue)
        XCTAssertNotNil(v["max_abs_error"]?.doubleValue)
        XCTAssertNotNil(v["ranking"]?["pairs"]?.intValue)
        XCTAssertNotNil(v["tier_pairs"]?.arrayValue)
        XCTAssertEqual(v["targets"]?["median_abs_error"]?.doubleValue, 0.05)
        XCTAssertEqual(v["targets"]?["max_abs_error"]?.doubleValue, 0.12)
        XCTAssertNotNil(v["profile"]?["flops_per_second"]?.doubleValue)
        // --tiny calibrates once (quickly), before its one round.
        XCTAssertEqual(v["calibrations"]?.arrayValue?.count, 1)
        XCTAssertEqual(v["standard_step_seconds_by_calibration"]?.arrayValue?.count, 1)
        XCTAssertEqual(v["profile_after"], .null)
        // --tiny runs each configuration for 1 second unless --run-seconds says otherwise.
        XCTAssertEqual(v["run_seconds"]?.doubleValue, 1)
    }

    /// Ctrl-C during one of a validation's runs stops the validation: that job, and every job and
    /// calibration after it. It had cancelled the one job and gone on to the next.
    func testInterruptStopsAValidationAndLeavesNoProcess() throws {
        let (home, tmp) = Harness.temporaryHomeAndTMPDIR("cost-interrupt")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let (validation, _, err) = try Harness.start(["cost", "validate", "--tiny"], environment: ["TRAINYARD_HOME": home, "TMPDIR": tmp])
        // Past its calibration: one of the validation's own runs is under way.
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline && validation.isRunning && Harness.jobFolders(mentioning: tmp, prefix: "trainyard-validate-").isEmpty { usleep(20_000) }
        XCTAssertTrue(validation.isRunning, "the validation ended before any of its runs was seen")
        kill(validation.processIdentifier, SIGINT)
        XCTAssertTrue(Harness.waitForExit(validation, timeout: 60), "the validation went on after Ctrl-C")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(validation.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("cost validate stopped by SIGINT"), stderr)
        XCTAssertEqual(Harness.waitForNoProcesses(mentioning: tmp, timeout: 5), [])
    }

    /// Ctrl-C during the calibration's repeated cluster runs (the ones whose median it keeps)
    /// stops it: it had dropped the one run, gone on and saved the profile.
    func testInterruptStopsACalibrationInItsRepeatedRuns() throws {
        let (home, tmp) = Harness.temporaryHomeAndTMPDIR("calibrate-interrupt")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let (calibration, _, err) = try Harness.start(["calibrate", "--quick"], environment: ["TRAINYARD_HOME": home, "TMPDIR": tmp])
        // Its first cluster run is alone; the second job seen is one of the repeated runs.
        var seen = Set<String>()
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline && calibration.isRunning && seen.count < 2 {
            seen.formUnion(Harness.jobFolders(mentioning: tmp, prefix: "trainyard-calibrate-"))
            usleep(10_000)
        }
        XCTAssertTrue(calibration.isRunning && seen.count >= 2, "the calibration ended before its second run was seen: \(seen)")
        kill(calibration.processIdentifier, SIGINT)
        XCTAssertTrue(Harness.waitForExit(calibration, timeout: 60), "the calibration went on after Ctrl-C")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(calibration.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("calibration stopped by SIGINT"), stderr)
        let saved = ((try? FileManager.default.contentsOfDirectory(atPath: home)) ?? []).filter { $0.hasPrefix("calibration") }
        XCTAssertEqual(saved, [], "an interrupted calibration was saved")
        XCTAssertEqual(Harness.waitForNoProcesses(mentioning: tmp, timeout: 5), [])
    }

    func testRunSecondsAndTooManyGradientsAreRefusedBeforeAnythingRuns() throws {
        let home = Harness.temporaryDirectory("cost-refusals")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let env = ["TRAINYARD_HOME": home]
        for (argv, says) in [(["cost", "--scale-tier", "BASIC", "--run-seconds", "3"], "--run-seconds is for `trainyard cost validate`"),
                             (["cost", "validate", "--run-seconds", "0.1"], "--run-seconds"),
                             (["cost", "--scale-tier", "BASIC", "--sync", "--replicas-to-aggregate", "2"], "BASIC: 1 training task"),
                             (["train", "--sync", "--replicas-to-aggregate", "3", "--workers", "1", "--ps", "1", "--job-dir", home + "/job"],
                              "--replicas-to-aggregate 3: --workers 1 gives 2 training tasks")] {
            let r = try Harness.run(argv, environment: env, timeout: 60)
            XCTAssertEqual(r.status, 2, "\(argv): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(says), "\(argv): \(r.stderr)")
        }
        // Nothing was measured or started: no calibration saved, no job folder made.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: home)) ?? []
        XCTAssertFalse(left.contains { $0.hasPrefix("calibration") || $0 == "job" }, "\(left)")
    }
}
