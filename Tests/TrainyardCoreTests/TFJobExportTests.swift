import Foundation
import XCTest
@testable import TrainyardCore

/// `TFJobExport` builds a TFJob that `TFJobCheck` accepts, with the tier's replicas, resources and
/// Trainyard's restart policies; `TFJobCheck` names each problem of a broken manifest by its path.
final class TFJobExportTests: XCTestCase {
    static func export(tier name: String, custom: CustomClusterFlags = CustomClusterFlags()) throws -> TFJobExport {
        let catalog = try TierCatalogTests.shippedCatalog()
        let tier = try XCTUnwrap(catalog.tier(named: name))
        let plan = tier.custom ? try custom.plan(in: catalog) : try catalog.plan(for: tier)
        var e = TFJobExport(name: "mnist-\(name.lowercased().replacingOccurrences(of: "_", with: "-"))", image: "registry.example/trainyard:1", topology: plan.topology)
        e.plan = plan
        e.training.maxSteps = 700
        return e
    }

    static func replica(_ m: JSONValue, _ type: String) throws -> JSONValue { try XCTUnwrap(m["spec"]?["tfReplicaSpecs"]?[type], "no \(type) replica") }
    static func container(_ m: JSONValue, _ type: String) throws -> JSONValue {
        try XCTUnwrap(replica(m, type)["template"]?["spec"]?["containers"]?.arrayValue?.first)
    }

    func testStandard1ExportValidatesWithTheTiersReplicasResourcesAndPolicies() throws {
        let e = try Self.export(tier: "STANDARD_1")
        let m = e.manifest()
        XCTAssertEqual(TFJobCheck.problems(m), [])
        XCTAssertEqual(m["apiVersion"], "kubeflow.org/v1")
        XCTAssertEqual(m["kind"], "TFJob")
        XCTAssertEqual(m["spec"]?["tfReplicaSpecs"]?.objectValue?.map(\.0), ["Chief", "Worker", "PS"])
        XCTAssertEqual(try Self.replica(m, "Chief")["replicas"], 1)
        XCTAssertEqual(try Self.replica(m, "Worker")["replicas"], 4)
        XCTAssertEqual(try Self.replica(m, "PS")["replicas"], 3)
        for type in ["Chief", "Worker", "PS"] { XCTAssertEqual(try Self.replica(m, type)["restartPolicy"], "OnFailure") }
        // complex_model_s: 8 vCPUs, 7.2 GB; standard: 4 vCPUs, 15 GB (GiB, as Compute Engine's memoryMb).
        let chief = try Self.container(m, "Chief")
        XCTAssertEqual(chief["resources"]?["requests"], .object([("cpu", "8"), ("memory", "7373Mi")]))
        XCTAssertEqual(chief["resources"]?["limits"], chief["resources"]?["requests"])
        XCTAssertEqual(try Self.container(m, "PS")["resources"]?["limits"], .object([("cpu", "4"), ("memory", "15360Mi")]))
        XCTAssertEqual(chief["name"], "tensorflow")
        XCTAssertEqual(chief["image"], "registry.example/trainyard:1")
        XCTAssertEqual(chief["command"], ["trainyard-chief"])
        XCTAssertEqual(try Self.container(m, "Worker")["command"], ["trainyard-worker"])
        XCTAssertEqual(try Self.container(m, "PS")["command"], ["trainyard-ps"])
        XCTAssertEqual(chief["ports"], .array([.object([("name", "tfjob-port"), ("containerPort", 2222), ("protocol", "TCP")])]))
        // The roles get the job folder and the very training settings, which parse back.
        let args = try XCTUnwrap(chief["args"]?.arrayValue?.compactMap(\.stringValue))
        XCTAssertEqual(Array(args.prefix(2)), ["--job-dir", "/trainyard/job"])
        var rest = Arguments(Array(args.dropFirst(2)))
        XCTAssertEqual(try TrainSettings.parse(&rest), e.training)
        // The ps never exit on their own: the job's end must clean them up.
        XCTAssertEqual(m["spec"]?["runPolicy"]?["cleanPodPolicy"], "Running")
        XCTAssertEqual(m["spec"]?["runPolicy"]?["backoffLimit"], 3)
        XCTAssertEqual(TFJobCheck.warnings(m), [])
    }

    func testPremium1ExportValidatesWithItsThirtyOneReplicas() throws {
        let m = try Self.export(tier: "PREMIUM_1").manifest()
        XCTAssertEqual(TFJobCheck.problems(m), [])
        XCTAssertEqual(try Self.replica(m, "Chief")["replicas"], 1)
        XCTAssertEqual(try Self.replica(m, "Worker")["replicas"], 19)
        XCTAssertEqual(try Self.replica(m, "PS")["replicas"], 11)
        // complex_model_m: 16 vCPUs, 14.4 GB; large_model: 8 vCPUs, 52 GB.
        XCTAssertEqual(try Self.container(m, "Worker")["resources"]?["requests"], .object([("cpu", "16"), ("memory", "14746Mi")]))
        XCTAssertEqual(try Self.container(m, "PS")["resources"]?["requests"], .object([("cpu", "8"), ("memory", "53248Mi")]))
    }

    func testCustomTierExportMapsEachRolesPolicyMachineAndGPUs() throws {
        var flags = CustomClusterFlags()
        flags.masterMachineType = "n1-highmem-8"
        flags.workerCount = 2
        flags.workerMachineType = "standard_v100"
        flags.parameterServerCount = 1
        flags.parameterServerMachineType = "n1-standard-4"
        var e = try Self.export(tier: "CUSTOM", custom: flags)
        e.restartPolicy = .exitCode
        e.rolePolicies = [.ps: .never]
        e.resourceScale = 0.5
        e.activeDeadlineSeconds = 7200
        e.ttlSecondsAfterFinished = nil
        let m = e.manifest()
        XCTAssertEqual(TFJobCheck.problems(m), [])
        XCTAssertEqual(try Self.replica(m, "Worker")["replicas"], 2)
        XCTAssertEqual(try Self.replica(m, "PS")["replicas"], 1)
        XCTAssertEqual(try Self.replica(m, "Chief")["restartPolicy"], "ExitCode")
        XCTAssertEqual(try Self.replica(m, "Worker")["restartPolicy"], "ExitCode")
        XCTAssertEqual(try Self.replica(m, "PS")["restartPolicy"], "Never")
        // n1-highmem-8 (8 vCPUs, 52 GB) at half; a V100 worker asks for its GPU as a limit.
        XCTAssertEqual(try Self.container(m, "Chief")["resources"]?["requests"], .object([("cpu", "4"), ("memory", "26624Mi")]))
        XCTAssertEqual(try Self.container(m, "Worker")["resources"]?["limits"]?["nvidia.com/gpu"], "1")
        XCTAssertNil(try Self.container(m, "Worker")["resources"]?["requests"]?["nvidia.com/gpu"])
        XCTAssertEqual(try Self.container(m, "PS")["resources"]?["requests"], .object([("cpu", "2"), ("memory", "7680Mi")]))
        XCTAssertEqual(m["spec"]?["runPolicy"], .object([("cleanPodPolicy", "Running"), ("backoffLimit", 3), ("activeDeadlineSeconds", 7200)]))
        XCTAssertFalse(e.warnings.contains { $0.contains("restartPolicy") }, "\(e.warnings)")
    }

    func testTokenAndJobFolderComeFromASecretAndAClaim() throws {
        var e = try Self.export(tier: "STANDARD_1")
        e.jobDirClaim = "trainyard-jobs"
        e.tokenSecret = "mnist-secret"
        var m = e.manifest()
        XCTAssertEqual(TFJobCheck.problems(m), [])
        var pod = try XCTUnwrap(Self.replica(m, "Worker")["template"]?["spec"])
        XCTAssertEqual(pod["volumes"]?.arrayValue?.first, .object([("name", "job-dir"), ("persistentVolumeClaim", .object([("claimName", "trainyard-jobs")]))]))
        XCTAssertEqual(pod["volumes"]?.arrayValue?.last?["secret"]?["secretName"], "mnist-secret")
        let env = try XCTUnwrap(pod["containers"]?.arrayValue?.first?["env"]?.arrayValue)
        XCTAssertTrue(env.contains(.object([("name", "TRAINYARD_JOB_TOKEN_FILE"), ("value", "/var/run/secrets/trainyard/token")])))
        XCTAssertTrue(env.contains(.object([("name", "TRAINYARD_LISTEN_HOST"), ("value", "0.0.0.0")])))
        XCTAssertFalse(e.warnings.contains { $0.contains("emptyDir") })

        e.tokenDelivery = .env
        e.jobDirClaim = nil
        m = e.manifest()
        XCTAssertEqual(TFJobCheck.problems(m), [])
        pod = try XCTUnwrap(Self.replica(m, "PS")["template"]?["spec"])
        XCTAssertEqual(pod["volumes"]?.arrayValue?.count, 1)
        XCTAssertEqual(pod["volumes"]?.arrayValue?.first?["emptyDir"], .object([]))
        XCTAssertTrue(try XCTUnwrap(pod["containers"]?.arrayValue?.first?["env"]?.arrayValue).contains(.object([("name", "TRAINYARD_JOB_TOKEN"), ("valueFrom", .object([
            ("secretKeyRef", .object([("name", "mnist-secret"), ("key", "token")])),
        ]))])))
        XCTAssertTrue(e.warnings.contains { $0.contains("emptyDir") && $0.contains("--job-dir-claim") })
    }

    func testRoundTripThroughYAMLAndJSONKeepsTheManifestValid() throws {
        let m = try Self.export(tier: "PREMIUM_1").manifest()
        let yaml = m.yamlSerialized()
        let back = try YAMLParser.parse(yaml)
        XCTAssertEqual(back, m)
        XCTAssertEqual(TFJobCheck.problems(back), [])
        XCTAssertEqual(TFJobCheck.problems(try JSONField.parse(m.prettySerialized(), source: "x.json").value), [])
    }

    /// Optional: PyYAML reads the exported YAML to the same document (skipped without PyYAML).
    func testPyYAMLReadsTheExportToTheSameValue() throws {
        let dir = NSTemporaryDirectory() + "trainyard-tfjob-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try Self.export(tier: "STANDARD_1").manifest()
        try m.yamlSerialized().write(toFile: dir + "/job.yaml", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", dir + "/job.yaml"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("python3 is not available: \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("python3 with PyYAML (import yaml) is not available") }
        XCTAssertEqual(try JSONParser.parse(String(decoding: data, as: UTF8.self)), m)
    }

    // MARK: --check

    /// `value` with the field at `path` (object keys, or list indices as numbers) set, or removed when nil.
    static func setting(_ value: JSONValue, _ path: [String], _ new: JSONValue?) -> JSONValue {
        guard let head = path.first else { return new ?? .null }
        switch value {
        case .object(var fields):
            if let i = fields.firstIndex(where: { $0.0 == head }) {
                if path.count == 1 && new == nil { fields.remove(at: i) } else { fields[i].1 = setting(fields[i].1, Array(path.dropFirst()), new) }
            } else if let new {
                fields.append((head, setting(.object([]), Array(path.dropFirst()), new)))
            }
            return .object(fields)
        case .array(var items):
            guard let i = Int(head), items.indices.contains(i) else { return value }
            if path.count == 1 && new == nil { items.remove(at: i) } else { items[i] = setting(items[i], Array(path.dropFirst()), new) }
            return .array(items)
        default:
            return value
        }
    }

    func assertProblem(_ m: JSONValue, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let found = TFJobCheck.problems(m).map(\.description)
        XCTAssertTrue(found.contains { $0.hasPrefix(expected) }, "expected \(expected), got \(found)", file: file, line: line)
    }

    func testCheckNamesEachWebhookRuleByItsPath() throws {
        let m = try Self.export(tier: "STANDARD_1").manifest()
        let worker = ["spec", "tfReplicaSpecs", "Worker"]
        let container = worker + ["template", "spec", "containers", "0"]
        assertProblem(Self.setting(m, ["metadata", "name"], "Mnist_1"), "metadata.name: \"Mnist_1\" must start with a lower-case letter")
        assertProblem(Self.setting(m, ["metadata", "name"], "mnist-"), "metadata.name: \"mnist-\" must end with a letter or a digit")
        assertProblem(Self.setting(m, ["metadata", "name"], .string("a" + String(repeating: "b", count: 55))), "metadata.name: is too long for replica Worker")
        assertProblem(Self.setting(m, container + ["image"], nil), "spec.tfReplicaSpecs.Worker.template.spec.containers[0].image: required")
        assertProblem(Self.setting(m, container + ["image"], ""), "spec.tfReplicaSpecs.Worker.template.spec.containers[0].image: required")
        assertProblem(Self.setting(m, container + ["name"], "main"), "spec.tfReplicaSpecs.Worker.template.spec.containers: must have a container named tensorflow")
        assertProblem(Self.setting(m, worker + ["template", "spec", "containers"], .array([])), "spec.tfReplicaSpecs.Worker.template.spec.containers: required")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "Master"], try Self.replica(m, "Chief")), "spec.tfReplicaSpecs: must not have more than 1 Chief or Master role")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "Launcher"], try Self.replica(m, "Worker")), "spec.tfReplicaSpecs.Launcher: is not a TFJob replica type")
        assertProblem(Self.setting(m, worker + ["restartPolicy"], "Sometimes"), "spec.tfReplicaSpecs.Worker.restartPolicy: must be Always, OnFailure, Never or ExitCode")
        assertProblem(Self.setting(m, ["spec", "runPolicy", "cleanPodPolicy"], "Later"), "spec.runPolicy.cleanPodPolicy: must be All, Running or None")
        assertProblem(Self.setting(m, ["spec", "runPolicy", "managedBy"], "me"), "spec.runPolicy.managedBy: must be")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "Chief", "replicas"], 2), "spec.tfReplicaSpecs.Chief.replicas: a TensorFlow cluster has one chief")
        assertProblem(Self.setting(m, ["apiVersion"], "kubeflow.org/v2"), "apiVersion: must be kubeflow.org/v1")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs"], nil), "spec.tfReplicaSpecs: required")
        // A lower-case key is the operator's own type after its defaulting.
        let renamed = Self.setting(Self.setting(m, worker, nil), ["spec", "tfReplicaSpecs", "worker"], try Self.replica(m, "Worker"))
        XCTAssertEqual(TFJobCheck.problems(renamed), [])
    }

    func testCheckNamesUnknownAndMistypedFieldsByTheirPath() throws {
        let m = try Self.export(tier: "STANDARD_1").manifest()
        let container = ["spec", "tfReplicaSpecs", "PS", "template", "spec", "containers", "0"]
        assertProblem(Self.setting(m, container + ["imagePullPolicyy"], "Always"),
                      "spec.tfReplicaSpecs.PS.template.spec.containers[0].imagePullPolicyy: unknown field (did you mean imagePullPolicy?)")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "PS", "replica"], 3), "spec.tfReplicaSpecs.PS.replica: unknown field (did you mean replicas?)")
        assertProblem(Self.setting(m, ["spec", "runPolicy", "cleanupPolicy"], "All"), "spec.runPolicy.cleanupPolicy: unknown field")
        assertProblem(Self.setting(m, ["metadata", "nmae"], "x"), "metadata.nmae: unknown field (did you mean name?)")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "PS", "replicas"], "3"), "spec.tfReplicaSpecs.PS.replicas: must be an integer, got a string")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "PS", "replicas"], 2.5), "spec.tfReplicaSpecs.PS.replicas: must be an integer")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "PS", "replicas"], 3_000_000_000), "spec.tfReplicaSpecs.PS.replicas: 3000000000 does not fit in int32")
        assertProblem(Self.setting(m, container + ["command"], "trainyard-ps"), "spec.tfReplicaSpecs.PS.template.spec.containers[0].command: must be a list, got a string")
        assertProblem(Self.setting(m, container + ["resources", "limits", "cpu"], "4 cores"),
                      "spec.tfReplicaSpecs.PS.template.spec.containers[0].resources.limits.cpu: \"4 cores\" is not a Kubernetes quantity")
        assertProblem(Self.setting(m, container + ["resources", "limits", "cpu"], true),
                      "spec.tfReplicaSpecs.PS.template.spec.containers[0].resources.limits.cpu: must be an integer or a string")
        assertProblem(Self.setting(m, container + ["ports", "0", "containerPort"], nil),
                      "spec.tfReplicaSpecs.PS.template.spec.containers[0].ports[0].containerPort: required")
        assertProblem(Self.setting(m, container + ["env", "0", "name"], "TRAINYARD_LISTEN_HOST"),
                      "spec.tfReplicaSpecs.PS.template.spec.containers[0].env[1]: duplicate entry")
        assertProblem(Self.setting(m, ["spec", "runPolicy", "backoffLimit"], "3"), "spec.runPolicy.backoffLimit: must be an integer, got a string")
        assertProblem(Self.setting(m, ["metadata", "labels", "team"], "ml team"), "metadata.labels.team: the value may hold only")
        assertProblem(Self.setting(m, ["metadata", "labels", "Bad.Prefix/x"], "y"), "metadata.labels.Bad.Prefix/x: the key's prefix must be a DNS subdomain")
        assertProblem(Self.setting(m, ["spec", "tfReplicaSpecs", "PS", "template", "metadata", "labels", "role"], "-ps"),
                      "spec.tfReplicaSpecs.PS.template.metadata.labels.role: the value must start and end with a letter or a digit")
        assertProblem(Self.setting(m, ["metadata", "labels", "n"], 3), "metadata.labels.n: must be a string, got a number")
        XCTAssertEqual(TFJobCheck.problems("a string").map(\.description), ["a TFJob manifest is an object (apiVersion, kind, metadata, spec), got a string"])
    }

    func testAManifestWithManyDuplicateEntriesGetsOneProblemPerDuplicate() throws {
        let m = try Self.export(tier: "STANDARD_1").manifest()
        let env = JSONValue.array(Array(repeating: .object([("name", "X"), ("value", "1")]), count: 20_000))
        let problems = TFJobCheck.problems(Self.setting(m, ["spec", "tfReplicaSpecs", "PS", "template", "spec", "containers", "0", "env"], env))
        XCTAssertEqual(problems.count, 19_999)
        XCTAssertEqual(problems.last?.path, "spec.tfReplicaSpecs.PS.template.spec.containers[0].env[19999]")
    }

    func testWarningsNameTheKnownTroubles() throws {
        var m = try Self.export(tier: "STANDARD_1").manifest()
        m = Self.setting(m, ["spec", "runPolicy", "cleanPodPolicy"], nil)
        m = Self.setting(m, ["spec", "tfReplicaSpecs", "Chief", "restartPolicy"], "Always")
        XCTAssertEqual(TFJobCheck.problems(m), [])
        let w = TFJobCheck.warnings(m)
        XCTAssertTrue(w.contains { $0.hasPrefix("spec.runPolicy.cleanPodPolicy is None") }, "\(w)")
        XCTAssertTrue(w.contains { $0.hasPrefix("spec.tfReplicaSpecs.Chief.restartPolicy is Always") }, "\(w)")
    }

    func testVendoredSchemaIsTheTFJobCRDAndEveryPatternIsImplemented() throws {
        let schema = TFJobCheck.schema
        XCTAssertEqual(schema["properties"]?["spec"]?["required"], ["tfReplicaSpecs"])
        XCTAssertNotNil(schema["properties"]?["spec"]?["properties"]?["tfReplicaSpecs"]?["additionalProperties"]?["properties"]?["template"]?["properties"]?["spec"]?["properties"]?["containers"])
        XCTAssertEqual(OpenAPISubset.unknownPatterns(in: schema), [])
        XCTAssertTrue(TFJobCRDSchema.source.contains("release-1.9"))
    }

    static let kubeflowFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kubeflow").path

    /// The vendored schema is the CRD file of training-operator release-1.9, descriptions removed:
    /// the file (Tests/Fixtures/kubeflow) has the sha256 the source names, and Trainyard's own YAML
    /// reader turns it into the same schema.
    func testVendoredSchemaIsTheFetchedCRDWithoutDescriptions() throws {
        let text = try String(contentsOfFile: Self.kubeflowFixtures + "/kubeflow.org_tfjobs.yaml", encoding: .utf8)
        var hash = SHA256()
        hash.update(text)
        XCTAssertEqual(hash.finalize(), TFJobCRDSchema.sourceSHA256)
        let crd = try YAMLParser.parse(text)
        XCTAssertEqual(crd["kind"], "CustomResourceDefinition")
        let version = try XCTUnwrap(crd["spec"]?["versions"]?.arrayValue?.first)
        XCTAssertEqual(version["name"], "v1")
        func strip(_ v: JSONValue) -> JSONValue {
            switch v {
            case .object(let fields):
                // A key named description inside `properties` is a field, not documentation.
                return .object(fields.filter { $0.0 != "description" }.map { ($0.0, $0.0 == "properties" ? .object($0.1.objectValue!.map { ($0.0, strip($0.1)) }) : strip($0.1)) })
            case .array(let items): return .array(items.map(strip))
            default: return v
            }
        }
        XCTAssertEqual(strip(try XCTUnwrap(version["schema"]?["openAPIV3Schema"])), TFJobCheck.schema)
    }

    /// The training operator's own TFJob examples are valid (no false alarms), and a CRD is not a TFJob.
    func testTheOperatorsExamplesPassTheCheck() throws {
        for name in ["tfjob-simple.yaml", "tfjob-multi-worker.yaml"] {
            let text = try String(contentsOfFile: Self.kubeflowFixtures + "/" + name, encoding: .utf8)
            XCTAssertEqual(TFJobCheck.problems(try JSONField.parse(text, source: name).value), [], name)
        }
        let crd = try YAMLParser.parse(try String(contentsOfFile: Self.kubeflowFixtures + "/kubeflow.org_tfjobs.yaml", encoding: .utf8))
        XCTAssertTrue(TFJobCheck.problems(crd).contains(.init("kind", "must be TFJob, got \"CustomResourceDefinition\"")))
    }

    func testYAMLStreamsSplitIntoDocumentsWithLinesOfTheWholeFile() throws {
        let text = "# a Secret and a job\n---\nkind: Secret\nstringData: {token: x}\n---\n\n---\nkind: TFJob\nspec: {a: 1}\n...\n--- # last\nkind: Other\n"
        XCTAssertEqual(try YAMLParser.parseDocuments(text), [.object([("kind", "Secret"), ("stringData", .object([("token", "x")]))]),
                                                             .object([("kind", "TFJob"), ("spec", .object([("a", 1)]))]), .object([("kind", "Other")])])
        XCTAssertEqual(try YAMLParser.parseDocuments("a: 1\n"), [.object([("a", 1)])])
        XCTAssertEqual(try YAMLParser.parseDocuments(""), [])
        XCTAssertThrowsError(try YAMLParser.parseDocuments("a: 1\n---\nb: 2\nc: &x 3\n")) { error in
            XCTAssertEqual((error as? YAMLParser.SyntaxError)?.line, 4, "\(error)")
        }
    }

    func testQuantitiesAndNames() {
        for q in ["4", "500m", "7373Mi", "1.5Gi", ".5", "1e3", "+2", "-1", "3.", "2E"] { XCTAssertTrue(OpenAPISubset.isQuantity(q), q) }
        for q in ["", "4x", "Mi", "1.5 Gi", "1e", "1Ki2", ".", "1mi", "--1"] { XCTAssertFalse(OpenAPISubset.isQuantity(q), q) }
        XCTAssertNil(TFJobCheck.dns1035Problem("mnist-1"))
        XCTAssertNotNil(TFJobCheck.dns1035Problem("1mnist"))
        XCTAssertNotNil(TFJobCheck.dns1035Problem(String(repeating: "a", count: 64)))
        XCTAssertEqual(TFJobCheck.suggestedName("My_Job.2"), "my-job-2")
        XCTAssertEqual(TFJobCheck.suggestedName("2024_run"), "tf-2024-run")
        XCTAssertNil(TFJobCheck.dns1035Problem(TFJobCheck.suggestedName("__")))
    }
}
