import Foundation
import XCTest
@testable import TrainyardCore

/// Specs as gcloud's and OCI's users write them, run end to end: the book's command, a `--config`
/// file, the exit-code rule and restart marks, offline `--packages`, OCI-shaped runs.
final class CloudSpecsEndToEndTests: XCTestCase {
    var home = ""
    var env: [String: String] { ["TRAINYARD_HOME": home] }

    override func setUp() { home = Harness.temporaryDirectory("cloud-home") }

    override func tearDown() {
        for pid in Harness.processes(mentioning: home) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: home)
    }

    func trainyard(_ args: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Harness.Result {
        try Harness.run(args, environment: env.merging(environment) { $1 }, timeout: timeout)
    }

    /// A package `trainer` whose `task` module prints its TF_CONFIG task, its arguments and metrics.
    func makeTrainer(_ root: String, body: String = "") throws -> String {
        let pkg = root + "/trainer"
        try FileManager.default.createDirectory(atPath: pkg, withIntermediateDirectories: true)
        try "".write(toFile: pkg + "/__init__.py", atomically: true, encoding: .utf8)
        try ("""
        import json, os, sys, time
        tf = json.loads(os.environ["TF_CONFIG"])
        t = tf["task"]
        print("task", t["type"], t["index"], "args", " ".join(sys.argv[1:]), flush=True)
        # A start barrier: every task says it started; the chief (whose end ends the job) waits for all.
        marks = os.path.join(os.path.dirname(os.environ["TRAINYARD_METRICS_FILE"]), "started")
        os.makedirs(marks, exist_ok=True)
        open(os.path.join(marks, "%s-%d" % (t["type"], t["index"])), "w").close()
        if t["type"] in ("chief", "master"):
            everyone = sum(len(v) for v in tf["cluster"].values())
            deadline = time.time() + 120
            while len(os.listdir(marks)) < everyone and time.time() < deadline:
                time.sleep(0.05)
            for step in (10, 20):
                print("trainyard-metric step=%d loss=%g" % (step, 1.0 / step), flush=True)
                time.sleep(0.1)
        """ + "\n" + body).write(toFile: pkg + "/task.py", atomically: true, encoding: .utf8)
        return pkg
    }

    static var python3: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/python3") {
            return "\(dir)/python3"
        }
        return nil
    }

    func testTheBooksCommandRunsAsWrittenAndDescribeIsTheJobResource() throws {
        guard Self.python3 != nil else { throw XCTSkip("python3 is not installed") }
        let pkg = try makeTrainer(home + "/my_project/src")
        let submit = try trainyard(["jobs", "submit", "training", "my_job_20190531_164700", "--region", "asia-southeast1", "--scale-tier", "PREMIUM_1",
                                    "--runtime-version", "2.0", "--python-version", "3.5", "--package-path", pkg, "--module-name", "trainer.task",
                                    "--staging-bucket", "gs://my-staging-bucket", "--job-dir", "gs://my-mnist-model-bucket/trained_model",
                                    "--labels", "team=vision", "--", "--my-extra-argument1", "foo", "--my-extra-argument2", "bar"])
        XCTAssertEqual(submit.status, 0, submit.stdout + submit.stderr)
        XCTAssertTrue(submit.stdout.contains("Job [my_job_20190531_164700] submitted successfully."), submit.stdout)
        let hasPython35 = !submit.stdout.contains("Python 3.5 is not installed here")
        if hasPython35 { XCTAssertTrue(submit.stdout.contains("python3.5"), submit.stdout) }
        if !hasPython35 {
            XCTAssertTrue(submit.stdout.contains("Python 3.5 is not installed here (no python3.5 that runs on PATH): the job runs "), submit.stdout)
            XCTAssertTrue(submit.stdout.contains("(Python 3."), "names the version that runs instead: \(submit.stdout)")
        }
        let chief = try trainyard(["jobs", "stream-logs", "my_job_20190531_164700", "--task-name", "master-replica-0", "--polling-interval", "0.1"], timeout: 180)
        XCTAssertEqual(chief.status, 0, chief.stdout + chief.stderr)
        XCTAssertTrue(chief.stdout.contains("chief-0: task chief 0 args --job-dir "), chief.stdout)
        XCTAssertTrue(chief.stdout.contains("--my-extra-argument1 foo --my-extra-argument2 bar"), chief.stdout)
        XCTAssertFalse(chief.stdout.contains("worker-1:"), "only the master replica's lines")
        if !hasPython35 { XCTAssertTrue(chief.stdout.contains("chief-0: trainyard: Python 3.5 is not installed here"), chief.stdout) }

        // After the end: every task's lines, each with its time, merged in time order.
        let all = try trainyard(["jobs", "stream-logs", "my_job_20190531_164700"])
        let lines = all.stdout.split(separator: "\n").dropLast()
        XCTAssertTrue(lines.contains { $0.contains(" worker-18: task worker 18 ") }, all.stdout)
        XCTAssertTrue(lines.contains { $0.contains(" ps-10: task ps 10 ") }, all.stdout)
        let times = lines.map { String($0.prefix(24)) }
        XCTAssertEqual(times, times.sorted(), "lines in time order")
        XCTAssertTrue(times.allSatisfy { $0.hasSuffix("Z") && $0.dropFirst(10).hasPrefix("T") }, "\(times.prefix(3))")
        XCTAssertNotEqual(Set(lines.prefix(40).map { $0.split(separator: " ")[1] }).count, 1, "not grouped by task")

        // describe --format json is gcloud's Job resource, field by field.
        let j = try JSONParser.parse(try trainyard(["jobs", "describe", "my_job_20190531_164700", "--format", "json"]).stdout)
        XCTAssertEqual(j["jobId"], "my_job_20190531_164700")
        XCTAssertEqual(j["state"], "SUCCEEDED")
        for key in ["createTime", "startTime", "endTime"] {
            XCTAssertNotNil(j[key]?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0.replacingOccurrences(of: #"\.\d+Z"#, with: "Z", options: .regularExpression)) }, key)
        }
        XCTAssertEqual(j["labels"], .object([("team", "vision")]))
        let input = try XCTUnwrap(j["trainingInput"])
        XCTAssertEqual(input["scaleTier"], "PREMIUM_1")
        XCTAssertEqual(input["region"], "asia-southeast1")
        XCTAssertEqual(input["pythonModule"], "trainer.task")
        XCTAssertEqual(input["args"], ["--my-extra-argument1", "foo", "--my-extra-argument2", "bar"])
        XCTAssertEqual(input["jobDir"], "gs://my-mnist-model-bucket/trained_model")
        XCTAssertEqual(input["runtimeVersion"], "2.0")
        XCTAssertEqual(input["pythonVersion"], "3.5")
        let uris = try XCTUnwrap(input["packageUris"]?.arrayValue)
        XCTAssertEqual(uris.count, 1)
        XCTAssertTrue(uris[0].stringValue?.hasPrefix("gs://my-staging-bucket/my_job_20190531_164700/") == true, "\(uris)")
        XCTAssertTrue(uris[0].stringValue?.hasSuffix("/trainer.tar.gz") == true, "\(uris)")
        XCTAssertGreaterThan(j["trainingOutput"]?["consumedMLUnits"]?.doubleValue ?? 0, 0, "a number")
        XCTAssertNil(j["errorMessage"])
        XCTAssertEqual(j["trainyard"]?["metrics"]?["lastStep"]?.intValue, 20)
        XCTAssertEqual(j["trainyard"]?["metrics"]?["last"]?["loss"]?.doubleValue, 0.05)
        let summary = try Harness.json(home + "/jobs/my_job_20190531_164700/summary.json")
        XCTAssertEqual(summary["reported_metrics"]?["lastStep"]?.intValue, 20, "kept with the job's summary")
        // --json is --format json; the default is YAML as gcloud prints it.
        XCTAssertEqual(try JSONParser.parse(try trainyard(["jobs", "describe", "my_job_20190531_164700", "--json"]).stdout)["jobId"], j["jobId"])
        let yaml = try trainyard(["jobs", "describe", "my_job_20190531_164700"]).stdout
        XCTAssertTrue(yaml.hasPrefix("createTime: '"), yaml)
        XCTAssertTrue(yaml.contains("\njobId: my_job_20190531_164700\n"), yaml)
        XCTAssertTrue(yaml.contains("\ntrainingInput:\n  args:\n  - --my-extra-argument1\n"), yaml)
        XCTAssertEqual(try YAMLParser.parse(yaml)["trainingInput"]?["runtimeVersion"], "2.0")

        let listed = try trainyard(["jobs", "list", "--filter", "state=SUCCEEDED AND labels.team=vision", "--sort-by", "~createTime", "--limit", "1"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("my_job_20190531_164700"), listed.stdout)
        XCTAssertFalse(try trainyard(["jobs", "list", "--filter", "state=RUNNING"]).stdout.contains("my_job"))
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    func testAGcloudConfigFileSubmitsWithFlagsWinning() throws {
        guard Self.python3 != nil else { throw XCTSkip("python3 is not installed") }
        let pkg = try makeTrainer(home + "/src")
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/gcloud-job-config.yaml").path
        let submit = try trainyard(["jobs", "submit", "training", "cfg_1", "--config", fixture, "--job-dir", "gs://e2e-bucket/cfg1",
                                    "--package-path", pkg, "--stream-logs"], timeout: 180)
        XCTAssertEqual(submit.status, 0, submit.stdout + submit.stderr)
        XCTAssertTrue(submit.stdout.contains("chief-0: task chief 0 args --job-dir \(home)/buckets/e2e-bucket/cfg1 --epochs 3"), submit.stdout)
        XCTAssertTrue(submit.stdout.contains("worker-1: task worker 1 "), submit.stdout)
        let j = try JSONParser.parse(try trainyard(["jobs", "describe", "cfg_1", "--format", "json"]).stdout)
        XCTAssertEqual(j["trainingInput"]?["jobDir"], "gs://e2e-bucket/cfg1", "the flag wins over the file")
        XCTAssertEqual(j["trainingInput"]?["workerCount"], "2")
        XCTAssertEqual(j["trainingInput"]?["masterType"], "n1-standard-4")
        XCTAssertEqual(j["labels"]?["owner"], "ada")
        let typo = URL(fileURLWithPath: fixture).deletingLastPathComponent().appendingPathComponent("gcloud-job-config-typo.yaml").path
        let refused = try trainyard(["jobs", "submit", "training", "cfg_2", "--config", typo, "--job-dir", "gs://e2e-bucket/cfg2"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("did you mean workerCount?"), refused.stderr)
    }

    func testExitCodesFollowTheRuleAndRestartsAreMarked() throws {
        guard Self.python3 != nil else { throw XCTSkip("python3 is not installed") }
        // A module that does not exist: python exits 1, which is permanent: no restart.
        let missing = try trainyard(["jobs", "submit", "training", "missing_1", "--job-dir", "gs://e2e-bucket/m1", "--module-name", "no_such_module",
                                     "--stream-logs"], timeout: 120)
        XCTAssertEqual(missing.status, 1, missing.stdout + missing.stderr)
        XCTAssertTrue(missing.stdout.contains("No module named no_such_module"), missing.stdout)
        XCTAssertFalse(missing.stdout.contains("--- restarted"), missing.stdout)
        let failed = try JSONParser.parse(try trainyard(["jobs", "describe", "missing_1", "--json"]).stdout)
        XCTAssertEqual(failed["state"], "FAILED")
        XCTAssertTrue(failed["errorMessage"]?.stringValue?.contains("exit 1") == true, "\(failed)")
        XCTAssertEqual(failed["trainyard"]?["restartPolicy"], "ExitCode")
        // Killed by a signal (≥ 128) is retried, and the restart is marked in the task's log.
        let killed = try trainyard(["jobs", "submit", "training", "killed_once", "--job-dir", "gs://e2e-bucket/k1",
                                    "--command", "if [ ! -f marker ]; then touch marker; echo first; kill -9 $$; fi; echo second run", "--stream-logs"], timeout: 120)
        XCTAssertEqual(killed.status, 0, killed.stdout + killed.stderr)
        let out = killed.stdout
        XCTAssertTrue(out.contains("chief-0: --- restarted (attempt 2) after SIGKILL (exit 137) ---"), out)
        let first = try XCTUnwrap(out.range(of: "chief-0: first")), mark = try XCTUnwrap(out.range(of: "--- restarted")), second = try XCTUnwrap(out.range(of: "chief-0: second run"))
        XCTAssertTrue(first.lowerBound < mark.lowerBound && mark.lowerBound < second.lowerBound, out)
    }

    func testPackagesAreInstalledOfflineAndTheInterpreterCanBeNamed() throws {
        guard let python = Self.python3 else { throw XCTSkip("python3 is not installed") }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = ["-m", "pip", "--version"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0 else { throw XCTSkip("pip is not installed") }
        // A tiny wheel, built by hand (a zip with the dist-info pip needs).
        let wheel = home + "/dist/helperpkg-1.0-py3-none-any.whl"
        try FileManager.default.createDirectory(atPath: home + "/dist", withIntermediateDirectories: true)
        let build = Process()
        build.executableURL = URL(fileURLWithPath: python)
        build.arguments = ["-c", """
        import sys, zipfile
        files = {"helperpkg/__init__.py": "GREETING = 'hello from helperpkg'\\n",
                 "helperpkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: helperpkg\\nVersion: 1.0\\n",
                 "helperpkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
        record = "".join("%s,,\\n" % n for n in files) + "helperpkg-1.0.dist-info/RECORD,,\\n"
        with zipfile.ZipFile(sys.argv[1], "w") as z:
            for n, t in files.items(): z.writestr(n, t)
            z.writestr("helperpkg-1.0.dist-info/RECORD", record)
        """, wheel]
        try build.run()
        build.waitUntilExit()
        XCTAssertEqual(build.terminationStatus, 0)
        let pkg = try makeTrainer(home + "/src", body: "import helperpkg\nprint(helperpkg.GREETING, flush=True)\n")
        let submit = try trainyard(["jobs", "submit", "training", "pkgs_1", "--job-dir", "gs://e2e-bucket/p1", "--package-path", pkg,
                                    "--module-name", "trainer.task", "--packages", wheel, "--stream-logs"],
                                   environment: ["TRAINYARD_PYTHON": python], timeout: 180)
        XCTAssertEqual(submit.status, 0, submit.stdout + submit.stderr)
        XCTAssertTrue(submit.stdout.contains("Python: \(python)"), submit.stdout)
        XCTAssertTrue(submit.stdout.contains("chief-0: hello from helperpkg"), submit.stdout)
        let j = try JSONParser.parse(try trainyard(["jobs", "describe", "pkgs_1", "--json"]).stdout)
        let uris = j["trainingInput"]?["packageUris"]?.arrayValue?.compactMap(\.stringValue) ?? []
        XCTAssertEqual(uris.count, 2)
        XCTAssertTrue(uris.last?.hasPrefix("gs://e2e-bucket/p1/packages/") == true && uris.last?.hasSuffix("/helperpkg-1.0-py3-none-any.whl") == true, "\(uris)")
        // An interpreter that is not there is refused before anything is written.
        let bad = try trainyard(["jobs", "submit", "training", "pkgs_2", "--job-dir", "gs://e2e-bucket/p2", "--module-name", "m", "--python", home + "/no/python"])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--python"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/jobs/pkgs_2"))
    }

    func testRunsOfAnOCIShapedTemplateShowOCIStates() throws {
        let create = try trainyard(["jobs", "create-template", "oci_tmpl", "--service", "oci", "--job-dir", "gs://e2e-bucket/oci", "--command", "exec sleep 60 #"])
        XCTAssertEqual(create.status, 0, create.stderr)
        XCTAssertTrue(create.stdout.contains("ACCEPTED, IN_PROGRESS"), create.stdout)
        XCTAssertEqual(try trainyard(["jobs", "run", "oci_tmpl"]).status, 0)
        func state() throws -> String? { try JSONParser.parse(try trainyard(["jobs", "list", "--json"]).stdout).arrayValue?.first?["state"]?.stringValue }
        let first = try state()
        XCTAssertTrue(["ACCEPTED", "IN_PROGRESS"].contains(first ?? ""), "\(String(describing: first))")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try state() != "IN_PROGRESS" { usleep(100_000) }
        XCTAssertEqual(try state(), "IN_PROGRESS")
        XCTAssertTrue(try trainyard(["jobs", "list", "--filter", "state=IN_PROGRESS"]).stdout.contains("oci_tmpl_run_1"))
        XCTAssertEqual(try trainyard(["jobs", "cancel", "oci_tmpl_run_1"]).status, 0)
        XCTAssertEqual(try state(), "CANCELED")
        let j = try JSONParser.parse(try trainyard(["jobs", "describe", "oci_tmpl_run_1", "--json"]).stdout)
        XCTAssertEqual(j["lifecycleState"], "CANCELED")
        XCTAssertEqual(j["state"], "CANCELLED", "the Job resource keeps AI Platform's state")
    }
}
