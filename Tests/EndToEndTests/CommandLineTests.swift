import Foundation
import XCTest
@testable import TrainyardCore

final class CommandLineTests: XCTestCase {
    func testClusterSpecPrintsOneTFConfigPerTask() throws {
        let r = try Harness.run(["cluster-spec", "--workers", "2", "--ps", "1", "--start-port", "3000"])
        XCTAssertEqual(r.status, 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        let configs = try lines.map { try TFConfig(parsing: $0) }
        XCTAssertEqual(configs.map(\.task.id), [.chief(0), .worker(0), .worker(1), .ps(0)])
        XCTAssertEqual(configs[0].cluster.addresses(of: .ps), [HostPort(host: "localhost", port: 3003)])
        let one = try Harness.run(["cluster-spec", "--task", "worker:1"])
        XCTAssertEqual(try TFConfig(parsing: one.stdout.trimmingCharacters(in: .newlines)).task.id, .worker(1))
    }

    func testUsageErrorsExitTwoAndNameTheProblem() throws {
        let r = try Harness.run(["train", "--wrkers", "2"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("unknown option --wrkers (did you mean --workers?)"), r.stderr)
        let c = try Harness.run(["cluster-spec", "--task", "ps:5"])
        XCTAssertEqual(c.status, 2)
        XCTAssertTrue(c.stderr.contains("no such task"), c.stderr)
        XCTAssertEqual(try Harness.run(["trian"]).status, 2)
    }

    func testModelsDataAndClustersTooBigForTheMachineAreRefusedBeforeAnyProcessStarts() throws {
        let dir = Harness.temporaryDirectory("too-big")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [([String], String)] = [
            (["--hidden", "65536,65536"], "--hidden 65536,65536"),
            (["--features", "1000000", "--examples", "100000000"], "--features 1000000 --examples 100000000"),
            (["--scale-tier", "CUSTOM", "--master-machine-type", "standard", "--worker-count", "100000", "--worker-machine-type", "standard",
              "--parameter-server-count", "1", "--parameter-server-machine-type", "standard"], "--worker-count 100000"),
        ]
        for (flags, named) in cases {
            let r = try Harness.run(["train", "--job-dir", dir + "/job"] + flags, timeout: 60)
            XCTAssertEqual(r.status, 2, "\(flags): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(named), "\(flags): the error must name the flags: \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/job"), "\(flags): nothing may be written")
        }
    }

    func testRoleRejectsBadTFConfigNamingTheField() throws {
        let r = try Harness.run([], product: "trainyard-worker", environment: [
            "TF_CONFIG": #"{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 4}}"#,
            "TRAINYARD_JOB_TOKEN": "x",
        ])
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.stderr.contains("TF_CONFIG: task.index: 4 is out of range"), r.stderr)
        let wrongRole = try Harness.run([], product: "trainyard-ps", environment: [
            "TF_CONFIG": #"{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}"#,
            "TRAINYARD_JOB_TOKEN": "x",
        ])
        XCTAssertEqual(wrongRole.status, 3)
        XCTAssertTrue(wrongRole.stderr.contains("this executable runs ps tasks"), wrongRole.stderr)
        let noToken = try Harness.run([], product: "trainyard-ps", environment: [
            "TF_CONFIG": #"{"cluster": {"ps": ["localhost:1"]}, "task": {"type": "ps", "index": 0}}"#,
            "TRAINYARD_JOB_TOKEN": "",
        ])
        // The launcher writes a role's environment: a mistake in it is invalid input (3), never retried.
        XCTAssertEqual(noToken.status, 3)
        XCTAssertTrue(noToken.stderr.contains("TRAINYARD_JOB_TOKEN"), noToken.stderr)
        let badFlag = try Harness.run(["--max-steps", "0"], product: "trainyard-worker", environment: [
            "TF_CONFIG": #"{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}"#,
            "TRAINYARD_JOB_TOKEN": "x",
        ])
        XCTAssertEqual(badFlag.status, 3)
        // One line, `error: <reason>`, is the role's last word.
        XCTAssertTrue(badFlag.stderr.hasPrefix("error: --max-steps"), badFlag.stderr)
        XCTAssertEqual(badFlag.stderr.filter { $0 == "\n" }.count, 1, badFlag.stderr)
    }
}
