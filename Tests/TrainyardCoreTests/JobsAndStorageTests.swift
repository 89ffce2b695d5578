import XCTest
@testable import TrainyardCore

final class StorageURITests: XCTestCase {
    func testMapsToTheBucketFolder() throws {
        let u = try StorageURI(parsing: "gs://my-bucket/out/run_1/model.json")
        XCTAssertEqual(u.bucket, "my-bucket")
        XCTAssertEqual(u.path, "out/run_1/model.json")
        XCTAssertEqual(u.localPath(home: "/h"), "/h/buckets/my-bucket/out/run_1/model.json")
        XCTAssertEqual(try StorageURI(parsing: "gs://b.c-d_e").localPath(home: "/h"), "/h/buckets/b.c-d_e")
        XCTAssertEqual(try StorageURI(parsing: "gs://bkt/dir/").trailingSlash, true)
        XCTAssertEqual(try StorageURI(parsing: "gs://bkt/dir/").description, "gs://bkt/dir/")
        XCTAssertEqual(try StorageURI(parsing: "gs://bkt").appending("x").description, "gs://bkt/x")
    }

    func testEscapesAreRejected() {
        for bad in ["gs://bkt/../other", "gs://bkt/a/../../etc/passwd", "gs://bkt/./a", "gs://bkt//etc/passwd", "gs://bkt/a//b",
                    "gs://../x", "gs://Bucket/x", "gs://ab/x", "gs://-bkt/x", "gs://bkt-/x", "gs://b..c/x", "gs://bkt/a\\b", "gs://bkt/a\u{0}b",
                    "/etc/passwd", "s3://bkt/x", "gs://"] {
            XCTAssertThrowsError(try StorageURI(parsing: bad), bad)
        }
        XCTAssertThrowsError(try StorageURI(parsing: "gs://bkt/../x")) { XCTAssertTrue("\($0)".contains("would leave the bucket"), "\($0)") }
        XCTAssertThrowsError(try StorageURI(parsing: "gs://bkt//x")) { XCTAssertTrue("\($0)".contains("absolute path"), "\($0)") }
    }
}

final class IgnoreRulesTests: XCTestCase {
    func testGitignoreSemantics() {
        let r = IgnoreRules(parsing: """
        # comment
        *.pyc
        __pycache__/
        /build
        docs/*.md
        !docs/keep.md
        data/**/raw
        secret?.txt

        """)
        XCTAssertTrue(r.ignores("a.pyc", isDirectory: false))
        XCTAssertTrue(r.ignores("pkg/deep/b.pyc", isDirectory: false))
        XCTAssertTrue(r.ignores("pkg/__pycache__", isDirectory: true))
        XCTAssertTrue(r.ignores("pkg/__pycache__/x.py", isDirectory: false), "inside an ignored folder")
        XCTAssertFalse(r.ignores("pkg/__pycache__", isDirectory: false), "a trailing slash matches folders only")
        XCTAssertTrue(r.ignores("build", isDirectory: true))
        XCTAssertFalse(r.ignores("src/build", isDirectory: true), "a leading slash anchors at the root")
        XCTAssertTrue(r.ignores("docs/a.md", isDirectory: false))
        XCTAssertFalse(r.ignores("docs/keep.md", isDirectory: false), "! re-includes")
        XCTAssertFalse(r.ignores("docs/sub/a.md", isDirectory: false), "a middle slash anchors too")
        XCTAssertTrue(r.ignores("data/raw", isDirectory: true))
        XCTAssertTrue(r.ignores("data/x/y/raw", isDirectory: true))
        XCTAssertTrue(r.ignores("secret1.txt", isDirectory: false))
        XCTAssertFalse(r.ignores("secret12.txt", isDirectory: false))
        XCTAssertFalse(r.ignores("task.py", isDirectory: false))
    }

    func testGcloudignoreInclude() {
        let r = IgnoreRules(parsing: "#!include:.gitignore\n*.log\n") { $0 == ".gitignore" ? "*.tmp\n" : nil }
        XCTAssertTrue(r.ignores("a.tmp", isDirectory: false))
        XCTAssertTrue(r.ignores("a.log", isDirectory: false))
        XCTAssertFalse(r.ignores("a.py", isDirectory: false))
    }

    func testSHA256() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array(String(repeating: "a", count: 1000).utf8)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

final class JobLifecycleTests: XCTestCase {
    func record() -> JobRecord {
        var s = JobSpec()
        s.jobDir = "gs://b-1/out"
        return JobRecord(name: "j", spec: s, createdAt: 100, jobDirectory: "/h/buckets/b-1/out", cluster: "BASIC", mlUnitsPerHour: 3.6)
    }

    func testTheHappyPathAndCancellation() throws {
        var r = record()
        XCTAssertEqual(r.state, .queued)
        try r.transition(to: .preparing, at: 101)
        try r.transition(to: .running, at: 102)
        try r.transition(to: .succeeded, at: 112)
        XCTAssertEqual(r.startTime, 102)
        XCTAssertEqual(r.endTime, 112)
        XCTAssertEqual(r.consumedMLUnits(now: 500)!, 3.6 * 10 / 3600, accuracy: 1e-12)
        XCTAssertThrowsError(try r.transition(to: .running, at: 113)) { XCTAssertEqual($0 as? JobStateError, JobStateError(from: .succeeded, to: .running)) }

        var c = record()
        try c.transition(to: .preparing, at: 101)
        try c.transition(to: .running, at: 102)
        XCTAssertEqual(c.consumedMLUnits(now: 104)!, 3.6 * 2 / 3600, accuracy: 1e-12, "so far, while running")
        try c.transition(to: .cancelling, at: 105)
        XCTAssertThrowsError(try c.transition(to: .succeeded, at: 106))
        try c.transition(to: .cancelled, at: 106)
        XCTAssertTrue(c.state.isTerminal)
    }

    func testFailuresKeepTheirMessageAndRecordsRoundTrip() throws {
        var r = record()
        try r.transition(to: .preparing, at: 101)
        try r.transition(to: .failed, at: 101.5, error: "ps-0 failed (exit 1); restart policy Never")
        r.package = .init(uri: "gs://b-1/out/packages/abc/p.tar.gz", hash: "abc", cacheHit: true, bytes: 9)
        r.template = "tmpl"
        let again = try JobRecord(parsing: r.json.prettySerialized(), source: "job.json")
        XCTAssertEqual(again, r)
        XCTAssertEqual(again.errorMessage, "ps-0 failed (exit 1); restart policy Never")
        XCTAssertNil(again.startTime)
    }

    /// A running job whose supervisor is pid 4242, started at tick 777.
    func running() throws -> JobRecord {
        var r = record()
        try r.transition(to: .preparing, at: 101)
        try r.transition(to: .running, at: 102)
        r.supervisorPID = 4242
        r.supervisorStartTicks = 777
        return r
    }

    func testADeadSupervisorEndsTheJobAtItsLastHeartbeat() throws {
        let r = try running()
        let ended = r.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: 130))
        XCTAssertEqual(ended.state, .failed)
        XCTAssertEqual(ended.errorMessage, "the job's supervisor (pid 4242) died")
        XCTAssertEqual(ended.endTime, 130, "when it last beat, not when someone looked")
        XCTAssertEqual(ended.consumedMLUnits(now: 10_000)!, 3.6 * 28 / 3600, accuracy: 1e-12, "cost stops at the end time")
        // Reconciling again changes nothing.
        XCTAssertEqual(ended.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: 130)), ended)
    }

    func testAReusedPidIsNotTheSupervisor() throws {
        let r = try running()
        XCTAssertEqual(r.reconciled(with: SupervisorObservation(startTicksOfPID: 777, lastHeartbeat: 130)), r, "the same process: alive")
        let reused = r.reconciled(with: SupervisorObservation(startTicksOfPID: 9_000, lastHeartbeat: 130))
        XCTAssertEqual(reused.state, .failed, "another process holds the pid now")
        XCTAssertEqual(reused.endTime, 130)
    }

    func testTheEndIsNeverBeforeTheLastChangeAndCancellingEndsCancelled() throws {
        var r = record()
        try r.transition(to: .preparing, at: 101)
        r.supervisorPID = 4242
        // Died before its first heartbeat: it ended no earlier than the record's last change.
        let early = r.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: nil))
        XCTAssertEqual(early.state, .failed)
        XCTAssertEqual(early.endTime, 101)
        XCTAssertNil(early.startTime, "never ran: nothing billed")
        XCTAssertEqual(r.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: 90)).endTime, 101)

        var c = try running()
        try c.transition(to: .cancelling, at: 120)
        let cancelled = c.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: 125))
        XCTAssertEqual(cancelled.state, .cancelled)
        XCTAssertEqual(cancelled.endTime, 125)
    }

    func testWhatIsNotJudgedDead() throws {
        // No supervisor recorded yet (the submit has not spawned it): nothing to judge.
        let queued = record()
        XCTAssertEqual(queued.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: nil)), queued)
        // A finished job stays as it ended.
        var done = try running()
        try done.transition(to: .succeeded, at: 150)
        XCTAssertEqual(done.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: 149)), done)
        // A record without a start time trusts the pid alone.
        var old = try running()
        old.supervisorStartTicks = nil
        XCTAssertEqual(old.reconciled(with: SupervisorObservation(startTicksOfPID: 5, lastHeartbeat: 130)), old)
        XCTAssertEqual(old.reconciled(with: SupervisorObservation(startTicksOfPID: nil, lastHeartbeat: 130)).state, .failed)
        // The start time survives the record's round trip.
        let again = try JobRecord(parsing: try running().json.prettySerialized(), source: "job.json")
        XCTAssertEqual(again.supervisorStartTicks, 777)
    }

    func testSpecFromFlagsConfigAndValidation() throws {
        var a = Arguments(["--job-dir", "gs://bkt/out", "--module-name", "trainer.task", "--worker-count", "2", "--worker-machine-type", "standard",
                           "--master-machine-type", "standard", "--env", "A=1", "--use-chief-in-tf-config=false", "--", "--epochs", "3"])
        let s = try JobSpec.parse(&a)
        XCTAssertNoThrow(try a.finish())
        XCTAssertEqual(s.scaleTier, "CUSTOM")
        XCTAssertEqual(s.custom.workerCount, 2)
        XCTAssertEqual(s.userArgs, ["--epochs", "3"])
        XCTAssertEqual(s.environment, ["A": "1"])
        XCTAssertFalse(s.useChiefInTFConfig)
        XCTAssertNoThrow(try s.validate())
        XCTAssertEqual(try JobSpec(json: JSONField(s.json)), s)

        let config = try JobSpec(config: #"{"trainingInput": {"scaleTier": "CUSTOM", "masterType": "complex_model_m", "workerCount": "4", "workerType": "complex_model_s", "args": ["--lr", "0.1"], "pythonModule": "t.m", "region": "us-central1"}}"#, source: "c.json")
        XCTAssertEqual(config.custom.workerCount, 4)
        XCTAssertEqual(config.moduleName, "t.m")
        // Flags win over the file.
        var b = Arguments(["--worker-count", "2", "--job-dir", "/tmp/x"])
        let merged = try JobSpec.parse(&b, over: config)
        XCTAssertEqual(merged.custom.workerCount, 2)
        XCTAssertEqual(merged.custom.masterMachineType, "complex_model_m")
        XCTAssertEqual(merged.userArgs, ["--lr", "0.1"])

        var noDir = JobSpec()
        noDir.moduleName = "m"
        XCTAssertThrowsError(try noDir.validate()) { XCTAssertEqual("\($0)", "--job-dir is required (a gs:// URI or a local folder)") }
        var badDir = noDir
        badDir.jobDir = "gs://bkt/../x"
        XCTAssertThrowsError(try badDir.validate())
        var pkgNoProgram = JobSpec()
        pkgNoProgram.jobDir = "/tmp/x"
        pkgNoProgram.packagePath = "/tmp/p"
        XCTAssertThrowsError(try pkgNoProgram.validate())
        XCTAssertThrowsError(try JobSpec(config: #"{"trainingInput": {"scaleTeir": "BASIC"}}"#, source: "c.json")) {
            XCTAssertTrue("\($0)".hasPrefix("c.json: trainingInput.scaleTeir: ") && "\($0)".contains("did you mean scaleTier?"), "\($0)")
        }
    }
}
