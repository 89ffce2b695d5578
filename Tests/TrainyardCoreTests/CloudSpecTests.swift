import Foundation
import XCTest
@testable import TrainyardCore

/// Specs in the cloud services' own shapes (Tests/Fixtures), the Job resource `jobs describe`
/// prints, the YAML writer, log time stamps and merging, list queries and reported metrics.
final class CloudSpecTests: XCTestCase {
    static func fixture(_ name: String) throws -> (text: String, path: String) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/" + name).path
        return (try String(contentsOfFile: path, encoding: .utf8), path)
    }

    func testAGcloudConfigYAMLReadsAsTheJobResourceSaysIt() throws {
        let (text, path) = try Self.fixture("gcloud-job-config.yaml")
        let spec = try JobSpec(config: text, source: path)
        XCTAssertEqual(spec.scaleTier, "CUSTOM")
        XCTAssertEqual(spec.custom.masterMachineType, "n1-standard-4")
        XCTAssertEqual(spec.custom.workerCount, 2)
        XCTAssertEqual(spec.custom.parameterServerCount, 1)
        XCTAssertEqual(spec.runtimeVersion, "2.1", "an unquoted YAML number is still the version text")
        XCTAssertEqual(spec.pythonVersion, "3.7")
        XCTAssertEqual(spec.moduleName, "trainer.task")
        XCTAssertEqual(spec.userArgs, ["--epochs", "3"])
        XCTAssertEqual(spec.labels, ["team": "vision", "owner": "ada"])
        XCTAssertEqual(spec.region, "us-central1")
    }

    func testAnUnknownConfigKeyIsRefusedNamingTheNearestValidOne() throws {
        let (text, path) = try Self.fixture("gcloud-job-config-typo.yaml")
        XCTAssertThrowsError(try JobSpec(config: text, source: path)) { error in
            XCTAssertTrue("\(error)".contains("trainingInput.workerCont"), "\(error)")
            XCTAssertTrue("\(error)".contains("did you mean workerCount?"), "\(error)")
        }
        XCTAssertThrowsError(try JobSpec(config: "trainingInput:\n  masterConfig:\n    imageUrl: x\n", source: "c.yaml")) { error in
            XCTAssertTrue("\(error)".contains("did you mean imageUri?"), "\(error)")
        }
        XCTAssertThrowsError(try JobSpec(config: "lables: {a: b}\ntrainingInput: {}\n", source: "c.yaml")) { error in
            XCTAssertTrue("\(error)".contains("did you mean labels?"), "\(error)")
        }
    }

    func testAnOCICreateJobDetailsMakesAnOCIShapedSpec() throws {
        let (text, path) = try Self.fixture("oci-create-job-details.json")
        let spec = try JobSpec(config: text, source: path)
        XCTAssertEqual(spec.service, .oci)
        XCTAssertEqual(spec.userArgs, ["--epochs", "2", "--lr", "0.1"])
        XCTAssertEqual(spec.environment, ["RUN_TAG": "oci"])
        XCTAssertEqual(spec.labels, ["team": "nlp"])
        XCTAssertThrowsError(try JobSpec(config: #"{"jobConfigurationDetails": {"commandLineArgs": "x"}}"#, source: "o.json")) { error in
            XCTAssertTrue("\(error)".contains("did you mean commandLineArguments?"), "\(error)")
        }
    }

    func testOCIRunsShowOCILifecycleStates() {
        let oci = CloudService.oci
        XCTAssertEqual(JobState.allCases.map { oci.stateName($0) },
                       ["ACCEPTED", "ACCEPTED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELING", "CANCELED"])
        XCTAssertEqual(oci.stateName(.failed, supervisorDied: true), "NEEDS_ATTENTION")
        XCTAssertEqual(CloudService.aiPlatform.stateName(.cancelling), "CANCELLING")
    }

    func testTheBookCommandsFlagsParseAndProgramsDefaultToTheExitCodeRule() throws {
        var a = Arguments(["--region", "asia-southeast1", "--scale-tier", "PREMIUM_1", "--runtime-version", "2.0", "--python-version", "3.5",
                           "--package-path", "/my_project/src/trainer", "--module-name", "trainer.task", "--staging-bucket", "gs://my-staging-bucket",
                           "--job-dir", "gs://my-mnist-model-bucket/trained_model", "--labels", "team=vision,env=dev",
                           "--packages", "a.whl,b.tar.gz", "--", "--my-extra-argument1", "foo", "--my-extra-argument2", "bar"])
        let spec = try JobSpec.parse(&a)
        try a.finish()
        try spec.validate()
        XCTAssertEqual(spec.runtimeVersion, "2.0")
        XCTAssertEqual(spec.pythonVersion, "3.5")
        XCTAssertEqual(spec.labels, ["team": "vision", "env": "dev"])
        XCTAssertEqual(spec.packages, ["a.whl", "b.tar.gz"])
        XCTAssertEqual(spec.userArgs, ["--my-extra-argument1", "foo", "--my-extra-argument2", "bar"])
        XCTAssertNil(spec.restartPolicy)
        XCTAssertEqual(spec.effectiveRestartPolicy, .exitCode, "a user's program: 1–127 permanent, ≥ 128 retried")
        XCTAssertEqual(JobSpec().effectiveRestartPolicy, .onFailure, "Trainyard's trainer keeps OnFailure")
        var explicit = Arguments(["--module-name", "m", "--restart-policy", "OnFailure"])
        XCTAssertEqual(try JobSpec.parse(&explicit).effectiveRestartPolicy, .onFailure)
        // A round trip through the record keeps every new field.
        let back = try JobSpec(json: JSONField(spec.json, path: "", source: "t"))
        XCTAssertEqual(back, spec)
        var image = Arguments(["--master-image-uri", "gcr.io/p/i", "--runtime-version", "2.0", "--job-dir", "/tmp/x"])
        XCTAssertThrowsError(try JobSpec.parse(&image).validate()) { XCTAssertTrue("\($0)".contains("cannot be combined"), "\($0)") }
        var badLabels = Arguments(["--labels", "Team=x"])
        XCTAssertThrowsError(try JobSpec.parse(&badLabels))
    }

    func testYAMLWriterOutputReadsBackAndQuotesWhatWouldChange() throws {
        let value = JSONValue.object([
            ("jobId", "j_1"), ("createTime", "2019-05-31T23:47:00Z"), ("pythonVersion", "3.5"), ("flag", "--epochs"), ("yes", "yes"),
            ("colon", "a: b"), ("multi", "line1\nline2"), ("quote", "it's"), ("n", JSONValue(1.5)), ("list", JSONValue(["a", "2"])),
            ("nested", .object([("inner", .array([.object([("k", "v"), ("z", JSONValue(3))])]))])), ("empty", .object([])), ("none", .null),
        ])
        let text = YAMLWriter.write(value)
        XCTAssertTrue(text.hasPrefix("colon: 'a: b'\ncreateTime: '2019-05-31T23:47:00Z'\n"), text)
        XCTAssertTrue(text.contains("flag: --epochs\n"), text)
        XCTAssertTrue(text.contains("list:\n- a\n- '2'\n"), text)
        let back = try YAMLParser.parse(text)
        for (k, v) in value.objectValue! { XCTAssertEqual(back[k], v, k) }
    }

    func testLogStampsRoundTripAndMergeInTimeOrder() {
        let t = 1_559_346_420.25
        XCTAssertEqual(LogStamp.iso(t), "2019-05-31T23:47:00.250Z")
        XCTAssertEqual(LogStamp.iso(0), "1970-01-01T00:00:00.000Z")
        let (time, text) = LogStamp.split(Substring(LogStamp.prefix(t) + "hello"))
        XCTAssertEqual(time, t)
        XCTAssertEqual(text, "hello")
        XCTAssertNil(LogStamp.split("plain line").time)
        XCTAssertEqual(TaskLog.errorReason(inLog: LogStamp.prefix(t) + "error: bad data\n"), "bad data")
        var merge = LogMerge()
        var chief: Double?, worker: Double?
        merge.add(task: "chief-0", lines: [Substring(LogStamp.prefix(t + 2) + "c2"), Substring(LogStamp.prefix(t + 4) + "c4")], readAt: t + 10, lastTime: &chief)
        merge.add(task: "worker-0", lines: [Substring(LogStamp.prefix(t + 1) + "w1"), "unstamped follows w1", Substring(LogStamp.prefix(t + 3) + "w3")],
                  readAt: t + 10, lastTime: &worker)
        XCTAssertEqual(merge.ordered().map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? "" },
                       ["worker-0: w1", "worker-0: unstamped follows w1", "chief-0: c2", "worker-0: w3", "chief-0: c4"])
        XCTAssertTrue(merge.ordered()[0].hasPrefix("2019-05-31T23:47:01.250Z worker-0: "))
        XCTAssertEqual(chief, t + 4)
    }

    func record(_ name: String, created: Double, state: JobState, labels: [String: String] = [:], service: CloudService = .aiPlatform) throws -> JobRecord {
        var spec = JobSpec()
        spec.labels = labels
        spec.service = service
        spec.jobDir = "gs://b/\(name)"
        var r = JobRecord(name: name, spec: spec, createdAt: created, jobDirectory: "/h/b/\(name)", cluster: "BASIC", mlUnitsPerHour: 0.1)
        if state != .queued { try r.transition(to: .preparing, at: created + 1) }
        if state == .running || state == .succeeded { try r.transition(to: .running, at: created + 2) }
        if state == .succeeded { try r.transition(to: .succeeded, at: created + 3602) }
        if state == .failed { try r.transition(to: .failed, at: created + 5, error: "chief-0 failed") }
        return r
    }

    func testListFilterSortAndLimit() throws {
        let jobs = [try record("a", created: 1, state: .succeeded, labels: ["team": "x"]), try record("b", created: 3, state: .running),
                    try record("c", created: 2, state: .succeeded), try record("d", created: 4, state: .running, service: .oci)]
        let name = { (j: JobRecord) in j.spec.service.stateName(j.state) }
        XCTAssertEqual(try JobQuery(filter: "state=SUCCEEDED", sortBy: "~createTime", limit: nil).apply(jobs, stateName: name).map(\.name), ["c", "a"])
        XCTAssertEqual(try JobQuery(filter: "state:running", sortBy: nil, limit: nil).apply(jobs, stateName: name).map(\.name), ["b"])
        XCTAssertEqual(try JobQuery(filter: "state=IN_PROGRESS", sortBy: nil, limit: nil).apply(jobs, stateName: name).map(\.name), ["d"])
        XCTAssertEqual(try JobQuery(filter: "labels.team=x", sortBy: nil, limit: nil).apply(jobs, stateName: name).map(\.name), ["a"])
        XCTAssertEqual(try JobQuery(filter: "NOT state=SUCCEEDED AND jobId!=d", sortBy: nil, limit: nil).apply(jobs, stateName: name).map(\.name), ["b"])
        XCTAssertEqual(try JobQuery(filter: nil, sortBy: "~createTime", limit: 2).apply(jobs, stateName: name).map(\.name), ["d", "b"])
        XCTAssertThrowsError(try JobQuery(filter: "status=RUNNING", sortBy: nil, limit: nil))
        XCTAssertThrowsError(try JobQuery(filter: nil, sortBy: "created", limit: nil))
    }

    func testTheJobResourceHasGcloudsFieldsAndMetrics() throws {
        var r = try record("res_1", created: 1_559_346_420, state: .succeeded, labels: ["team": "x"])
        r.spec.moduleName = "trainer.task"
        r.spec.userArgs = ["--epochs", "2"]
        r.spec.runtimeVersion = "2.0"
        r.spec.pythonVersion = "3.7"
        r.spec.region = "asia-southeast1"
        r.spec.scaleTier = "CUSTOM"
        r.spec.custom.masterMachineType = "n1-standard-4"
        r.spec.custom.workerCount = 2
        r.package = .init(uri: "gs://s/res_1/abc/trainer.tar.gz", hash: "abc", cacheHit: false, bytes: 10)
        let metrics = MetricsSummary.collect(logs: [("chief-0", LogStamp.prefix(5) + "trainyard-metric step=10 loss=0.5\n" + LogStamp.prefix(6) + "trainyard-metric step=20 loss=0.25 accuracy=0.9\n")],
                                             metricsFile: #"{"step": 30, "auc": 0.8}"# + "\n")
        let j = JobResource.make(r, now: 1_559_346_420 + 10_000, metrics: metrics, logFolder: "/h/jobs/res_1/logs")
        XCTAssertEqual(j["jobId"], "res_1")
        XCTAssertEqual(j["state"], "SUCCEEDED")
        XCTAssertEqual(j["createTime"], "2019-05-31T23:47:00Z")
        XCTAssertEqual(j["startTime"], "2019-05-31T23:47:02Z")
        XCTAssertEqual(j["endTime"], "2019-06-01T00:47:02Z")
        XCTAssertEqual(j["labels"]?["team"], "x")
        let input = try XCTUnwrap(j["trainingInput"])
        XCTAssertEqual(input["scaleTier"], "CUSTOM")
        XCTAssertEqual(input["masterType"], "n1-standard-4")
        XCTAssertEqual(input["workerCount"], "2", "int64 as a string, as the REST API sends it")
        XCTAssertEqual(input["region"], "asia-southeast1")
        XCTAssertEqual(input["packageUris"], ["gs://s/res_1/abc/trainer.tar.gz"])
        XCTAssertEqual(input["pythonModule"], "trainer.task")
        XCTAssertEqual(input["args"], ["--epochs", "2"])
        XCTAssertEqual(input["jobDir"], "gs://b/res_1")
        XCTAssertEqual(input["runtimeVersion"], "2.0")
        XCTAssertEqual(input["pythonVersion"], "3.7")
        XCTAssertEqual(j["trainingOutput"]?["consumedMLUnits"]?.doubleValue ?? 0, 0.1, accuracy: 1e-9, "0.1 units/h for one hour")
        XCTAssertNil(j["errorMessage"])
        let m = try XCTUnwrap(j["trainyard"]?["metrics"])
        XCTAssertEqual(m["reports"]?.intValue, 3)
        XCTAssertEqual(m["steps"]?.intValue, 3)
        XCTAssertEqual(m["lastStep"]?.intValue, 30)
        XCTAssertEqual(m["last"]?["loss"]?.doubleValue, 0.25)
        XCTAssertEqual(m["last"]?["auc"]?.doubleValue, 0.8)
        let failed = JobResource.make(try record("f", created: 0, state: .failed, service: .oci), now: 10, metrics: nil, logFolder: "/l")
        XCTAssertEqual(failed["errorMessage"], "chief-0 failed")
        XCTAssertEqual(failed["lifecycleState"], "FAILED")
        XCTAssertEqual(failed["trainingOutput"]?["consumedMLUnits"], JSONValue(0))
    }
}
