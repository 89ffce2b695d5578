import Foundation
import XCTest
@testable import TrainyardCore

/// Jobs as a user runs them: submit, follow, describe, cancel; storage; a Python trainer.
final class JobsEndToEndTests: XCTestCase {
    var home = ""
    var env: [String: String] { ["TRAINYARD_HOME": home] }

    override func setUp() { home = Harness.temporaryDirectory("home") }

    override func tearDown() {
        for pid in Harness.processes(mentioning: home) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: home)
    }

    func trainyard(_ args: [String], timeout: Double = 120) throws -> Harness.Result {
        try Harness.run(args, environment: env, timeout: timeout)
    }

    func testSubmitStreamLogsSucceedsAndDescribeReportsUnits() throws {
        let submit = try trainyard(["jobs", "submit", "training", "builtin_1", "--scale-tier", "BASIC", "--job-dir", "gs://e2e-bucket/out/b1",
                                    "--", "--max-steps", "200"] + Harness.smallJob)
        XCTAssertEqual(submit.status, 0, submit.stderr)
        XCTAssertTrue(submit.stdout.contains("Job [builtin_1] submitted successfully."), submit.stdout)
        let stream = try trainyard(["jobs", "stream-logs", "builtin_1", "--polling-interval", "0.1"])
        XCTAssertEqual(stream.status, 0, stream.stdout + stream.stderr)
        XCTAssertTrue(stream.stdout.contains("chief-0: "), stream.stdout)
        XCTAssertTrue(stream.stdout.hasSuffix("Job [builtin_1] SUCCEEDED.\n"), stream.stdout)
        let described = try trainyard(["jobs", "describe", "builtin_1", "--json"])
        let describe = try JSONParser.parse(described.stdout)
        XCTAssertEqual(describe["state"], "SUCCEEDED")
        // describe writes the job's report (with what it cost) and says where, on standard error.
        let reportPath = home + "/jobs/builtin_1/report.html"
        XCTAssertTrue(described.stderr.contains("report: \(reportPath)"), described.stderr)
        let report = try String(contentsOfFile: reportPath, encoding: .utf8)
        XCTAssertTrue(report.contains("<h2>Cost</h2>") && report.contains("ML units so far"), "the report shows the cost so far")
        XCTAssertGreaterThan(describe["trainingOutput"]?["consumedMLUnits"]?.doubleValue ?? 0, 0)
        let states = describe["trainyard"]?["history"]?.arrayValue?.compactMap { $0["state"]?.stringValue }
        XCTAssertEqual(states, ["QUEUED", "PREPARING", "RUNNING", "SUCCEEDED"])
        // The outputs landed in the bucket.
        let ls = try trainyard(["storage", "ls", "gs://e2e-bucket/out/b1"])
        XCTAssertTrue(ls.stdout.contains("gs://e2e-bucket/out/b1/model/"), ls.stdout)
        let model = try JSONParser.parse(try trainyard(["storage", "cat", "gs://e2e-bucket/out/b1/model/model.json"]).stdout)
        XCTAssertEqual(model["global_step"]?.intValue, 200)
        XCTAssertEqual(Harness.processes(mentioning: home), [])
    }

    func testCancelStopsEveryTask() throws {
        let submit = try trainyard(["jobs", "submit", "training", "long_1", "--scale-tier", "STANDARD_1", "--job-dir", "gs://e2e-bucket/out/l1",
                                    "--", "--max-steps", "100000000"] + Harness.smallJob)
        XCTAssertEqual(submit.status, 0, submit.stderr)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, (try? JSONParser.parse(try trainyard(["jobs", "describe", "long_1", "--json"]).stdout))?["state"] != "RUNNING" { usleep(100_000) }
        XCTAssertEqual(Harness.processes(mentioning: home + "/buckets/e2e-bucket/out/l1").count, 8, "8 tasks running")
        let cancel = try trainyard(["jobs", "cancel", "long_1"])
        XCTAssertEqual(cancel.status, 0, cancel.stderr)
        XCTAssertTrue(cancel.stdout.contains("CANCELLED"), cancel.stdout)
        XCTAssertEqual(Harness.waitForNoProcesses(mentioning: home, timeout: 5), [])
        let describe = try JSONParser.parse(try trainyard(["jobs", "describe", "long_1", "--json"]).stdout)
        XCTAssertEqual(describe["state"], "CANCELLED")
        XCTAssertEqual(describe["trainyard"]?["history"]?.arrayValue?.compactMap { $0["state"]?.stringValue }.suffix(2), ["CANCELLING", "CANCELLED"])
    }

    func describe(_ name: String) throws -> JSONValue {
        try JSONParser.parse(try trainyard(["jobs", "describe", name, "--json"]).stdout)
    }

    func testAKilledSupervisorEndsTheJobFailedAtItsLastHeartbeatAndTakesItsTasks() throws {
        let submit = try trainyard(["jobs", "submit", "training", "killed_1", "--scale-tier", "CUSTOM", "--master-machine-type", "n1-standard-4",
                                    "--worker-count", "1", "--worker-machine-type", "n1-standard-4", "--parameter-server-count", "1",
                                    "--parameter-server-machine-type", "n1-standard-4", "--job-dir", "gs://e2e-bucket/out/k1",
                                    "--", "--max-steps", "100000000"] + Harness.smallJob)
        XCTAssertEqual(submit.status, 0, submit.stderr)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, (try? describe("killed_1"))?["state"] != "RUNNING" { usleep(100_000) }
        XCTAssertEqual(try describe("killed_1")["state"], "RUNNING")
        let tasks = Harness.processes(mentioning: home + "/buckets/e2e-bucket/out/k1")
        XCTAssertEqual(tasks.count, 3, "chief, worker and ps running")
        let record = try Harness.json(home + "/jobs/killed_1/job.json")
        let pid = try XCTUnwrap(record["supervisor_pid"]?.intValue)
        XCTAssertNotNil(record["supervisor_start_ticks"]?.intValue)
        // Let it beat a few times, then kill it without warning.
        sleep(2)
        XCTAssertEqual(kill(pid_t(pid), SIGKILL), 0)
        let killedAt = Date().timeIntervalSince1970
        // Its tasks watch their parent and follow it.
        XCTAssertEqual(Harness.waitForNoProcesses(mentioning: home, timeout: 5), [])
        sleep(2)
        // Nobody streamed the logs: describe alone finds out, and dates the end by the last heartbeat.
        let described = try describe("killed_1")
        XCTAssertEqual(described["state"], "FAILED")
        XCTAssertEqual(described["errorMessage"]?.stringValue, "the job's supervisor (pid \(pid)) died")
        let history = try XCTUnwrap(described["trainyard"]?["history"]?.arrayValue)
        XCTAssertEqual(history.compactMap { $0["state"]?.stringValue }, ["QUEUED", "PREPARING", "RUNNING", "FAILED"])
        let ended = try XCTUnwrap(history.last?["unixTime"]?.doubleValue)
        XCTAssertLessThanOrEqual(ended, killedAt + 0.1)
        XCTAssertGreaterThan(ended, killedAt - 5, "the last heartbeat came shortly before the kill (one a second; loose for a busy machine)")
        // The cost stopped at the end: a later look bills the same.
        let units = try XCTUnwrap(described["trainingOutput"]?["consumedMLUnits"]?.doubleValue)
        sleep(1)
        XCTAssertEqual(try describe("killed_1")["trainingOutput"]?["consumedMLUnits"]?.doubleValue, units)
        let list = try JSONParser.parse(try trainyard(["jobs", "list", "--json"]).stdout)
        XCTAssertEqual(list.arrayValue?.first?["state"], "FAILED")
    }

    func testSubmitRefusesBadTrainerArgumentsAndJobsThatDoNotFitBeforeWritingAnything() throws {
        let bad = try trainyard(["jobs", "submit", "training", "bad_args", "--scale-tier", "BASIC", "--job-dir", "gs://e2e-bucket/out/ba",
                                 "--", "--workers", "1"])
        XCTAssertEqual(bad.status, 2, bad.stdout + bad.stderr)
        XCTAssertTrue(bad.stderr.contains("unknown option --workers"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/jobs/bad_args"), "no record, no job folder")

        let pkg = home + "/src/trainer"
        try FileManager.default.createDirectory(atPath: pkg, withIntermediateDirectories: true)
        try "print('hi')\n".write(toFile: pkg + "/task.py", atomically: true, encoding: .utf8)
        let started = Date()
        let huge = try trainyard(["jobs", "submit", "training", "huge_1", "--scale-tier", "CUSTOM", "--master-machine-type", "n1-standard-4",
                                  "--worker-count", "100000", "--worker-machine-type", "n1-standard-4", "--parameter-server-count", "1",
                                  "--parameter-server-machine-type", "n1-standard-4", "--job-dir", "gs://e2e-bucket/out/h1",
                                  "--package-path", pkg, "--command", "true"], timeout: 30)
        XCTAssertEqual(huge.status, 2, huge.stdout + huge.stderr)
        XCTAssertTrue(huge.stderr.contains("--worker-count 100000"), huge.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/jobs/huge_1"), "no record, no job folder")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/buckets/e2e-bucket/out/h1"), "no staged package, no job dir")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/package-cache.json"))
        XCTAssertEqual(try JSONParser.parse(try trainyard(["jobs", "list", "--json"]).stdout), .array([]))
    }

    func testASupervisorThatCannotLaunchEndsTheJobFailedWithTheReason() throws {
        // A job queued for a tier the catalog no longer has (as if its file were removed after submit).
        var spec = JobSpec()
        spec.scaleTier = "NO_SUCH_TIER"
        spec.jobDir = home + "/out/nt"
        let record = JobRecord(name: "no_tier", spec: spec, createdAt: Date().timeIntervalSince1970, jobDirectory: home + "/out/nt",
                               cluster: "NO_SUCH_TIER", mlUnitsPerHour: 1)
        try FileManager.default.createDirectory(atPath: home + "/jobs/no_tier", withIntermediateDirectories: true)
        try (record.json.prettySerialized() + "\n").write(toFile: home + "/jobs/no_tier/job.json", atomically: true, encoding: .utf8)
        let supervise = try trainyard(["_supervise", "no_tier"], timeout: 60)
        XCTAssertEqual(supervise.status, 1, supervise.stdout + supervise.stderr)
        let described = try describe("no_tier")
        XCTAssertEqual(described["state"], "FAILED")
        XCTAssertTrue(described["errorMessage"]?.stringValue?.contains("unknown scale tier \"NO_SUCH_TIER\"") == true, "\(described)")
        XCTAssertEqual(described["trainyard"]?["history"]?.arrayValue?.compactMap { $0["state"]?.stringValue }, ["QUEUED", "PREPARING", "FAILED"])
    }

    func testAPythonTrainerThroughCommandReadsTFConfigAndWritesItsJobDir() throws {
        let pkg = home + "/src/trainer"
        try FileManager.default.createDirectory(atPath: pkg, withIntermediateDirectories: true)
        try #"""
        import json, os, sys
        args = sys.argv[1:]
        job_dir = args[args.index("--job-dir") + 1]
        tf = json.loads(os.environ["TF_CONFIG"])
        t = tf["task"]
        print("task", t["type"], t["index"], "of", {k: len(v) for k, v in tf["cluster"].items()}, "env", tf.get("environment"), flush=True)
        if t["type"] in ("chief", "master"):
            with open(os.path.join(job_dir, "from-%s.json" % t["type"]), "w") as f:
                json.dump({"tf_config": tf, "argv": args, "cwd_files": sorted(os.listdir("trainer"))}, f)
        else:
            import time
            time.sleep(300)
        """#.write(toFile: pkg + "/train.py", atomically: true, encoding: .utf8)
        try "ignored\n".write(toFile: pkg + "/notes.tmp", atomically: true, encoding: .utf8)
        try "*.tmp\n".write(toFile: pkg + "/.gcloudignore", atomically: true, encoding: .utf8)
        let submit = try trainyard(["jobs", "submit", "training", "py_1", "--scale-tier", "CUSTOM", "--master-machine-type", "n1-standard-4",
                                    "--worker-count", "2", "--worker-machine-type", "n1-standard-4", "--parameter-server-count", "1",
                                    "--parameter-server-machine-type", "n1-standard-4", "--job-dir", "gs://e2e-bucket/py1",
                                    "--staging-bucket", "gs://e2e-staging", "--package-path", pkg, "--command", "python3 trainer/train.py",
                                    "--stream-logs", "--", "--epochs", "2"])
        XCTAssertEqual(submit.status, 0, submit.stdout + submit.stderr)
        XCTAssertTrue(submit.stdout.contains("Uploaded package to gs://e2e-staging/py_1/"), submit.stdout)
        XCTAssertTrue(submit.stdout.contains("worker-1: task worker 1 of {'chief': 1, 'worker': 2, 'ps': 1} env cloud"), submit.stdout)
        XCTAssertTrue(submit.stdout.contains("Job [py_1] SUCCEEDED."), submit.stdout)
        let out = try Harness.json(home + "/buckets/e2e-bucket/py1/from-chief.json")
        XCTAssertEqual(out["argv"], ["--job-dir", .string(home + "/buckets/e2e-bucket/py1"), "--epochs", "2"])
        XCTAssertEqual(out["tf_config"]?["environment"], "cloud")
        XCTAssertEqual(out["tf_config"]?["job"]?["scale_tier"], "CUSTOM")
        XCTAssertEqual(out["cwd_files"], [".gcloudignore", "train.py"], "the package was unpacked without the ignored file")
        XCTAssertEqual(Harness.processes(mentioning: home), [], "the ps that never exits was stopped")

        // The same package again: not uploaded twice. And master naming on request.
        let again = try trainyard(["jobs", "submit", "training", "py_2", "--job-dir", "gs://e2e-bucket/py2", "--staging-bucket", "gs://e2e-staging",
                                   "--package-path", pkg, "--command", "python3 trainer/train.py", "--use-chief-in-tf-config=false", "--stream-logs"])
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.contains("is already staged (same content"), again.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/buckets/e2e-bucket/py2/from-master.json"))
        let staged = try FileManager.default.subpathsOfDirectory(atPath: home + "/buckets/e2e-staging").filter { $0.hasSuffix(".tar.gz") }
        XCTAssertEqual(staged.count, 1)
    }

    func testTemplatesRunSideBySideWithOverrides() throws {
        let create = try trainyard(["jobs", "create-template", "tmpl", "--job-dir", "gs://e2e-bucket/tmpl", "--command",
                                    "sh -c 'echo run $RUN_TAG \"$@\" > \"$2/out.txt\"' x", "--env", "RUN_TAG=default"])
        XCTAssertEqual(create.status, 0, create.stderr)
        XCTAssertEqual(try trainyard(["jobs", "run", "tmpl", "--env", "RUN_TAG=first", "--", "a"]).status, 0)
        XCTAssertEqual(try trainyard(["jobs", "run", "tmpl", "--", "b"]).status, 0)
        _ = try trainyard(["jobs", "stream-logs", "tmpl_run_1"])
        _ = try trainyard(["jobs", "stream-logs", "tmpl_run_2"])
        let list = try JSONParser.parse(try trainyard(["jobs", "list", "--json"]).stdout).arrayValue ?? []
        XCTAssertEqual(list.compactMap { $0["template"]?.stringValue }, ["tmpl", "tmpl"])
        XCTAssertEqual(list.compactMap { $0["state"]?.stringValue }, ["SUCCEEDED", "SUCCEEDED"])
        let one = try String(contentsOfFile: home + "/buckets/e2e-bucket/tmpl/tmpl_run_1/out.txt", encoding: .utf8)
        XCTAssertTrue(one.hasPrefix("run first --job-dir"), one)
        XCTAssertTrue(one.hasSuffix(" a\n"), one)
        let two = try String(contentsOfFile: home + "/buckets/e2e-bucket/tmpl/tmpl_run_2/out.txt", encoding: .utf8)
        XCTAssertTrue(two.hasPrefix("run default"), two)
    }

    func testStorageCopiesBothWaysAndRefusesEscapes() throws {
        let file = home + "/local.txt"
        try "hello".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try trainyard(["storage", "cp", file, "gs://e2e-data/in/"]).status, 0)
        XCTAssertEqual(try trainyard(["storage", "cat", "gs://e2e-data/in/local.txt"]).stdout, "hello")
        XCTAssertEqual(try trainyard(["storage", "cp", "gs://e2e-data/in/local.txt", home + "/back.txt"]).status, 0)
        XCTAssertEqual(try String(contentsOfFile: home + "/back.txt", encoding: .utf8), "hello")
        XCTAssertEqual(try trainyard(["storage", "ls"]).stdout, "gs://e2e-data/\n")
        let escape = try trainyard(["storage", "cat", "gs://e2e-data/../../etc/passwd"])
        XCTAssertEqual(escape.status, 2)
        XCTAssertTrue(escape.stderr.contains("would leave the bucket"), escape.stderr)
        XCTAssertEqual(try trainyard(["storage", "rm", "gs://e2e-data/in/local.txt"]).status, 0)
        XCTAssertEqual(try trainyard(["storage", "cat", "gs://e2e-data/in/local.txt"]).status, 1)
    }

    /// `storage cat` into a reader that went away (`| head`) stops quietly with 0; into a full disk
    /// it fails with 4 and says so (it had exited 0 with nothing written).
    func testStorageCatStopsForAGoneReaderAndFailsOnAFullDisk() throws {
        let file = home + "/local.txt"
        try "hello".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try trainyard(["storage", "cp", file, "gs://e2e-cat/local.txt"]).status, 0)
        func cat(into output: FileHandle) throws -> (status: Int32, stderr: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Harness.binDirectory + "/trainyard")
            p.arguments = ["storage", "cat", "gs://e2e-cat/local.txt"]
            var environment = ProcessInfo.processInfo.environment
            environment["TRAINYARD_HOME"] = home
            p.environment = environment
            let err = Pipe()
            p.standardOutput = output
            p.standardError = err
            try p.run()
            XCTAssertTrue(Harness.waitForExit(p, timeout: 60))
            return (p.terminationStatus, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        let gone = Pipe()
        try gone.fileHandleForReading.close()
        let quiet = try cat(into: gone.fileHandleForWriting)
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stderr, "")
        let full = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/full"))
        let failed = try cat(into: full)
        XCTAssertEqual(failed.status, 4, failed.stderr)
        XCTAssertTrue(failed.stderr.contains("No space left on device"), failed.stderr)
    }

    /// Ctrl-C to a copy the test stopped with SIGSTOP, which then goes on: it must exit 130 within
    /// a minute. Its standard output and error.
    func interruptStoppedCopy(_ p: Process, _ out: Pipe, _ err: Pipe) -> (stdout: String, stderr: String) {
        kill(p.processIdentifier, SIGINT)
        kill(p.processIdentifier, SIGCONT)
        XCTAssertTrue(Harness.waitForExit(p, timeout: 60), "it went on copying after Ctrl-C")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 130, stderr)
        return (stdout, stderr)
    }

    /// `storage cp -r` skips a FIFO (reading it would wait for a writer forever) and stops between
    /// files at Ctrl-C with 130, every file it copied whole (it had copied the whole tree, then 0).
    func testStorageCopyOfAFolderSkipsAFIFOAndStopsBetweenFilesAtCtrlC() throws {
        let fm = FileManager.default
        let tree = home + "/tree"
        try fm.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try "a".write(toFile: tree + "/a.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(mkfifo(tree + "/sub/pipe", 0o600), 0)
        let skipped = try trainyard(["storage", "cp", "-r", tree, "gs://e2e-tree/"], timeout: 60)
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("sub/pipe: not a regular file"), skipped.stderr)
        XCTAssertTrue(skipped.stdout.contains("Copied 1 file from"), skipped.stdout)
        XCTAssertEqual(try String(contentsOfFile: home + "/buckets/e2e-tree/tree/a.txt", encoding: .utf8), "a")
        XCTAssertFalse(fm.fileExists(atPath: home + "/buckets/e2e-tree/tree/sub/pipe"))
        // One FIFO named by itself is refused, at once, with nothing written.
        let one = try trainyard(["storage", "cp", tree + "/sub/pipe", "gs://e2e-tree/pipe"], timeout: 60)
        XCTAssertEqual(one.status, 1, one.stderr)
        XCTAssertTrue(one.stderr.contains("sub/pipe: not a regular file"), one.stderr)
        XCTAssertFalse(fm.fileExists(atPath: home + "/buckets/e2e-tree/pipe"))

        // Many files, each written and synced on its own: Ctrl-C lands while they are copied.
        let many = home + "/many"
        try fm.createDirectory(atPath: many, withIntermediateDirectories: true)
        let total = 3000
        for i in 0..<total { try Data("file \(i)\n".utf8).write(to: URL(fileURLWithPath: many + "/f\(i)")) }
        let (p, out, err) = try Harness.start(["storage", "cp", "-r", many, "gs://e2e-many/"], environment: env)
        let copied = home + "/buckets/e2e-many/many"
        func count() -> Int { ((try? fm.contentsOfDirectory(atPath: copied)) ?? []).filter { $0.hasPrefix("f") }.count }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && p.isRunning && count() == 0 { usleep(2_000) }
        // Stopped where it is, so that the copies made before Ctrl-C can be counted.
        guard p.isRunning else {
            return XCTFail("the copy ended (status \(p.terminationStatus)) before the test could stop it mid-copy")
        }
        kill(p.processIdentifier, SIGSTOP)
        let before = count()
        XCTAssertTrue(before > 0 && before < total, "\(before) of \(total) files were copied when it was stopped: the test needs it mid-copy")
        let (stdout, stderr) = interruptStoppedCopy(p, out, err)
        XCTAssertTrue(stderr.contains("files copied to gs://e2e-many/many) stopped by SIGINT"), stderr)
        XCTAssertFalse(stdout.contains("Copied"), stdout)
        // At most the file under way when the signal landed was added; each copied file is whole.
        let after = count()
        XCTAssertLessThanOrEqual(after, before + 1)
        XCTAssertLessThan(after, total)
        let names = (try? fm.contentsOfDirectory(atPath: copied)) ?? []
        XCTAssertEqual(names.filter { !$0.hasPrefix("f") }, [], "a temporary file was left behind")
        for name in names {
            XCTAssertEqual(try String(contentsOfFile: copied + "/" + name, encoding: .utf8), "file \(name.dropFirst())\n")
        }
    }

    /// `storage cp` of one large file copies it a megabyte at a time and stops mid-file at Ctrl-C,
    /// 130, with nothing at the target and no temporary file beside it (it had read the whole file
    /// into memory first, and Ctrl-C waited for the whole copy and exited 0).
    func testStorageCopyOfOneLargeFileStopsMidFileAtCtrlC() throws {
        let fm = FileManager.default
        let big = home + "/big.bin"
        XCTAssertTrue(fm.createFile(atPath: big, contents: nil))
        XCTAssertEqual(truncate(big, 1 << 30), 0)  // 1 GiB, sparse
        defer { try? fm.removeItem(atPath: big) }
        let (p, out, err) = try Harness.start(["storage", "cp", big, "gs://e2e-big/big.bin"], environment: env)
        let folder = home + "/buckets/e2e-big"
        func temporary() -> String? { ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).first { $0.contains(".tmp-") } }
        func written() -> Int { temporary().flatMap { (try? fm.attributesOfItem(atPath: folder + "/" + $0))?[.size] as? Int } ?? 0 }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && p.isRunning && written() == 0 { usleep(1_000) }
        guard p.isRunning else {
            return XCTFail("the copy ended (status \(p.terminationStatus)) before the test could stop it mid-file")
        }
        kill(p.processIdentifier, SIGSTOP)
        let part = written()
        XCTAssertTrue(part > 0 && part < 1 << 30, "\(part) bytes written when it was stopped: the test needs it mid-file")
        let (stdout, stderr) = interruptStoppedCopy(p, out, err)
        XCTAssertTrue(stderr.contains("storage cp (nothing written to gs://e2e-big/big.bin) stopped by SIGINT"), stderr)
        XCTAssertFalse(stdout.contains("Copied"), stdout)
        XCTAssertFalse(fm.fileExists(atPath: folder + "/big.bin"))
        XCTAssertNil(temporary(), "a temporary file was left behind")
    }

    func testStorageNeverLeavesTheBucketThroughALinkAndCopiesALoopOnce() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: home + "/outside", withIntermediateDirectories: true)
        try "secret".write(toFile: home + "/outside/secret.txt", atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: home + "/buckets/e2e-links/in", withIntermediateDirectories: true)
        try "mine".write(toFile: home + "/buckets/e2e-links/in/mine.txt", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: home + "/buckets/e2e-links/out", withDestinationPath: home + "/outside")
        try fm.createSymbolicLink(atPath: home + "/buckets/e2e-links/in/loop", withDestinationPath: "..")
        for args in [["cat", "gs://e2e-links/out/secret.txt"], ["cp", home + "/outside/secret.txt", "gs://e2e-links/out/new.txt"],
                     ["rm", "gs://e2e-links/out/secret.txt"], ["cp", "gs://e2e-links/out/secret.txt", home + "/stolen.txt"]] {
            let r = try trainyard(["storage"] + args)
            XCTAssertEqual(r.status, 3, "\(args): \(r.stdout)\(r.stderr)")
            XCTAssertTrue(r.stderr.contains("may not leave its bucket"), r.stderr)
        }
        XCTAssertEqual(try String(contentsOfFile: home + "/outside/secret.txt", encoding: .utf8), "secret")
        XCTAssertFalse(fm.fileExists(atPath: home + "/outside/new.txt"))
        XCTAssertFalse(fm.fileExists(atPath: home + "/stolen.txt"))
        // rm of the link removes the link, never what it names.
        XCTAssertEqual(try trainyard(["storage", "rm", "gs://e2e-links/out"]).status, 0)
        XCTAssertTrue(fm.fileExists(atPath: home + "/outside/secret.txt"))
        // cp -r of a folder holding a link loop copies each file once and names the link it skipped.
        let copy = try trainyard(["storage", "cp", "-r", "gs://e2e-links/in", home + "/copy"], timeout: 30)
        XCTAssertEqual(copy.status, 0, copy.stderr)
        XCTAssertTrue(copy.stdout.contains("Copied 1 file"), copy.stdout)
        XCTAssertTrue(copy.stderr.contains("Skipping symbolic link"), copy.stderr)
        XCTAssertEqual(try fm.subpathsOfDirectory(atPath: home + "/copy").sorted(), ["mine.txt"])
        // rm -r of a folder holding a link to an outside folder removes the link, not what it names.
        try fm.createSymbolicLink(atPath: home + "/buckets/e2e-links/in/outside", withDestinationPath: home + "/outside")
        XCTAssertEqual(try trainyard(["storage", "rm", "-r", "gs://e2e-links/in"]).status, 0)
        XCTAssertFalse(fm.fileExists(atPath: home + "/buckets/e2e-links/in"))
        XCTAssertEqual(try String(contentsOfFile: home + "/outside/secret.txt", encoding: .utf8), "secret")
    }

    func testAFailedPackageJobLeavesNoUnpackedTaskFolders() throws {
        let pkg = home + "/src/trainer"
        try FileManager.default.createDirectory(atPath: pkg, withIntermediateDirectories: true)
        try "print('hi')\n".write(toFile: pkg + "/task.py", atomically: true, encoding: .utf8)
        try "secrets.env\r\n".write(toFile: pkg + "/.gcloudignore", atomically: true, encoding: .utf8)
        try "TOKEN=1\n".write(toFile: pkg + "/secrets.env", atomically: true, encoding: .utf8)
        let submit = try trainyard(["jobs", "submit", "training", "fails_1", "--job-dir", "gs://e2e-bucket/out/f1",
                                    "--staging-bucket", "gs://e2e-staging", "--package-path", pkg, "--command", "ls trainer; exit 3", "--stream-logs"], timeout: 60)
        XCTAssertNotEqual(submit.status, 0, submit.stdout + submit.stderr)
        XCTAssertTrue(submit.stdout.contains("task.py"), submit.stdout)
        XCTAssertFalse(submit.stdout.contains("secrets.env"), "a CRLF .gcloudignore keeps it out: \(submit.stdout)")
        let describe = try JSONParser.parse(try trainyard(["jobs", "describe", "fails_1", "--json"]).stdout)
        XCTAssertEqual(describe["state"], "FAILED")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/jobs/fails_1/tasks"), "no unpacked task folders")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home + "/buckets/e2e-bucket/out/f1"), "no empty job folder in the bucket")
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/buckets/e2e-bucket/out"), "only the folder the job made")
    }
}
