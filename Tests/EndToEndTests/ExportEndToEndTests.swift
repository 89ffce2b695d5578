import Foundation
import XCTest

/// `trainyard export tfjob` as a user runs it: the manifest written atomically and checked,
/// `--check` exit codes and field paths, usage errors that say what to give.
final class ExportEndToEndTests: XCTestCase {
    func testExportWritesAValidTFJobAndCheckAcceptsIt() throws {
        let dir = Harness.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Harness.run(["export", "tfjob", "--name", "mnist-1", "--image", "reg.example/trainyard:1", "--scale-tier", "STANDARD_1",
                                 "--max-steps", "300", "--job-dir-claim", "jobs", "--startup-timeout", "600", "-o", dir + "/job.yaml"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("1 Chief, 4 Worker, 3 PS"), r.stderr)
        let text = try String(contentsOfFile: dir + "/job.yaml", encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("apiVersion: kubeflow.org/v1\nkind: TFJob\n"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/job.yaml.tmp"))
        let ok = try Harness.run(["export", "tfjob", "--check", dir + "/job.yaml"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)

        // Broken: the worker's image removed, a field misspelt. Exit 3, one line per problem with its path.
        let broken = text.replacingOccurrences(of: "\n            image: reg.example/trainyard:1\n", with: "\n")
            .replacingOccurrences(of: "cleanPodPolicy: Running", with: "cleanPodPolicy: Running\n    backofLimit: 2")
        try broken.write(toFile: dir + "/broken.yaml", atomically: true, encoding: .utf8)
        let bad = try Harness.run(["export", "tfjob", "--check", dir + "/broken.yaml"])
        XCTAssertEqual(bad.status, 3, bad.stdout + bad.stderr)
        XCTAssertTrue(bad.stderr.contains("4 problems: not a valid TFJob"), bad.stderr)
        XCTAssertTrue(bad.stdout.contains("spec.tfReplicaSpecs.Worker.template.spec.containers[0].image: required"), bad.stdout)
        XCTAssertTrue(bad.stdout.contains("spec.runPolicy.backofLimit: unknown field (did you mean backoffLimit?)"), bad.stdout)
        XCTAssertEqual(try Harness.run(["export", "tfjob", "--check", dir + "/missing.yaml"]).status, 3)

        // A kubectl file with a Secret before the job: the TFJob is checked, the Secret named and skipped.
        let stream = "apiVersion: v1\nkind: Secret\nmetadata: {name: mnist-1-token}\nstringData: {token: abc}\n---\n" + broken
        try stream.write(toFile: dir + "/all.yaml", atomically: true, encoding: .utf8)
        let all = try Harness.run(["export", "tfjob", "--check", dir + "/all.yaml"])
        XCTAssertEqual(all.status, 3, all.stdout + all.stderr)
        XCTAssertTrue(all.stderr.contains("document 1 is a Secret, not a TFJob: not checked"), all.stderr)
        XCTAssertTrue(all.stdout.contains("all.yaml: document 2: spec.runPolicy.backofLimit: unknown field"), all.stdout)
    }

    func testJSONOutputOnStdoutChecksToo() throws {
        let dir = Harness.temporaryDirectory("export-json")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Harness.run(["export", "tfjob", "--name", "small", "--image", "img", "--workers", "1", "--ps", "1", "--format", "json",
                                 "--restart-policy", "ExitCode", "--clean-pod-policy", "all", "--token-env"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("no resource requests"), r.stderr)
        try r.stdout.write(toFile: dir + "/job.json", atomically: true, encoding: .utf8)
        let ok = try Harness.run(["export", "tfjob", "--check", dir + "/job.json"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(r.stdout.contains("\"cleanPodPolicy\": \"All\""), r.stdout)
        XCTAssertTrue(r.stdout.contains("\"restartPolicy\": \"ExitCode\""), r.stdout)
    }

    /// `--check -` waiting on standard input stops at Ctrl-C with 130 (it had died of SIGILL: the
    /// interrupted read trapped in Foundation).
    func testCheckingStandardInputStopsAtCtrlC() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Harness.binDirectory + "/trainyard")
        p.arguments = ["export", "tfjob", "--check", "-"]
        let input = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = err
        try p.run()
        // Half a document, and the pipe kept open: it waits for the rest.
        try input.fileHandleForWriting.write(contentsOf: Data("apiVersion: kubeflow.org/v1\n".utf8))
        // Until it waits for the rest of standard input (blocked in read or poll).
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && p.isRunning && !Harness.isWaitingForInput(p.processIdentifier, fd: 0) { usleep(5_000) }
        XCTAssertTrue(p.isRunning && Harness.isWaitingForInput(p.processIdentifier, fd: 0), "it did not wait for the end of its input")
        kill(p.processIdentifier, SIGINT)
        XCTAssertTrue(Harness.waitForExit(p, timeout: 30), "it went on waiting after Ctrl-C")
        try? input.fileHandleForWriting.close()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("reading standard input stopped by SIGINT"), stderr)
    }

    func testUsageErrorsSayWhatToGive() throws {
        let noImage = try Harness.run(["export", "tfjob", "--name", "mnist", "--scale-tier", "BASIC"])
        XCTAssertEqual(noImage.status, 2)
        XCTAssertTrue(noImage.stderr.contains("--image is required"), noImage.stderr)
        let badName = try Harness.run(["export", "tfjob", "--name", "My_Job", "--image", "img"])
        XCTAssertEqual(badName.status, 2)
        XCTAssertTrue(badName.stderr.contains("DNS-1035") && badName.stderr.contains("my-job"), badName.stderr)
        let noName = try Harness.run(["export", "tfjob", "--image", "img"])
        XCTAssertEqual(noName.status, 2)
        XCTAssertTrue(noName.stderr.contains("--name is required"), noName.stderr)
        let typo = try Harness.run(["export", "tfjob", "--name", "a", "--image", "img", "--max-stepz", "5"])
        XCTAssertEqual(typo.status, 2)
        XCTAssertTrue(typo.stderr.contains("--max-steps"), typo.stderr)
        XCTAssertEqual(try Harness.run(["export", "pytorchjob", "--name", "a", "--image", "img"]).status, 2)
    }
}

/// A saved template exports with its own tier, policy and trainer arguments.
final class ExportTemplateEndToEndTests: XCTestCase {
    func testTemplateExportsWithItsTierPolicyAndArguments() throws {
        let home = Harness.temporaryDirectory("export-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let env = ["TRAINYARD_HOME": home]
        let made = try Harness.run(["jobs", "create-template", "nightly_run", "--scale-tier", "STANDARD_1", "--job-dir", home + "/out",
                                    "--restart-policy", "ExitCode", "--", "--max-steps", "321"], environment: env)
        XCTAssertEqual(made.status, 0, made.stdout + made.stderr)
        let r = try Harness.run(["export", "tfjob", "--template", "nightly_run", "--image", "img", "--name", "nightly", "--format", "json"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"restartPolicy\": \"ExitCode\""), r.stdout)
        XCTAssertTrue(r.stdout.contains("\"replicas\": 4"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\"321\""), r.stdout)
        let start = try Harness.run(["export", "tfjob", "--name", "a", "--image", "img", "--start-port", "3000"])
        XCTAssertEqual(start.status, 2)
        XCTAssertTrue(start.stderr.contains("2222"), start.stderr)
    }
}

/// A submitted job exports under its own name made a DNS-1035 label, with its tier and arguments.
final class ExportSubmittedJobEndToEndTests: XCTestCase {
    var home = ""

    override func setUp() { home = Harness.temporaryDirectory("export-job-home") }

    override func tearDown() {
        for pid in Harness.processes(mentioning: home) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: home)
    }

    func testSubmittedJobExports() throws {
        let env = ["TRAINYARD_HOME": home]
        let submit = try Harness.run(["jobs", "submit", "training", "Export_Job_1", "--scale-tier", "BASIC", "--job-dir", home + "/out",
                                      "--", "--max-steps", "20"] + Harness.smallJob, environment: env)
        XCTAssertEqual(submit.status, 0, submit.stderr)
        let r = try Harness.run(["export", "tfjob", "--job", "Export_Job_1", "--image", "img", "--job-dir-claim", "c"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("  name: export-job-1\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("    Chief:\n") && !r.stdout.contains("    Worker:\n") && !r.stdout.contains("    PS:\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("- '20'\n"), r.stdout)
        let missing = try Harness.run(["export", "tfjob", "--job", "nope", "--image", "img"], environment: env)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no job named nope"), missing.stderr)
        // The job ends on its own; nothing outlives it.
        let stream = try Harness.run(["jobs", "stream-logs", "Export_Job_1", "--polling-interval", "0.1"], environment: env)
        XCTAssertEqual(stream.status, 0, stream.stdout + stream.stderr)
    }
}
