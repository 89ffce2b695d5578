import XCTest
import TrainyardCore
import TrainyardPlatform
@testable import TrainyardLaunch

final class ExecutablesAndCatalogTests: XCTestCase {
    func testEveryRoleHasAnExecutableButTheEvaluator() {
        XCTAssertEqual(Executables.role(.chief).map { ($0 as NSString).lastPathComponent }, "trainyard-chief")
        XCTAssertEqual(Executables.role(.master).map { ($0 as NSString).lastPathComponent }, "trainyard-chief")
        XCTAssertEqual(Executables.role(.worker).map { ($0 as NSString).lastPathComponent }, "trainyard-worker")
        XCTAssertEqual(Executables.role(.ps).map { ($0 as NSString).lastPathComponent }, "trainyard-ps")
        XCTAssertNil(Executables.role(.evaluator), "there is no evaluator role: the ps must not be started in its place")
    }

    func testTheCurrentExecutableIsAnAbsolutePathThatExists() {
        XCTAssertTrue(Executables.current.hasPrefix("/"))
        XCTAssertTrue(Files.exists(Executables.current))
    }

    func testTheShippedTierCatalogLoads() throws {
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        XCTAssertNotNil(catalog.tier(named: "STANDARD_1"))
        XCTAssertNotNil(catalog.tier(named: "PREMIUM_1"))
    }

    func testAMissingScenarioFileNamesTheFile() {
        XCTAssertThrowsError(try ScenarioRunner.load("/nonexistent/scenario.json")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/scenario.json"), "\(error)")
        }
    }

    static var repository: String {
        var dir = (#filePath as NSString).deletingLastPathComponent
        while !Files.exists(dir + "/Package.swift") && dir != "/" { dir = (dir as NSString).deletingLastPathComponent }
        return dir
    }

    func testPreflightRefusesBadTrainerArgumentsAndJobsThatDoNotFit() throws {
        var spec = JobSpec()
        spec.jobDir = "/tmp/trainyard-preflight"
        spec.workers = 1
        spec.parameterServers = 1
        spec.userArgs = ["--max-steps", "10"]
        let settings = try JobService.preflight(spec, plan: nil, availableMemoryBytes: Int.max, descriptorLimit: 1024)
        XCTAssertEqual(settings.training.maxSteps, 10)
        XCTAssertEqual(settings.topology.workers, 1)

        var unknown = spec
        unknown.userArgs = ["--workers", "1"]
        XCTAssertThrowsError(try JobService.preflight(unknown, plan: nil, availableMemoryBytes: Int.max, descriptorLimit: 1024)) {
            XCTAssertTrue("\($0)".contains("unknown option --workers"), "\($0)")
            XCTAssertEqual(($0 as? UsageError)?.exitCode, .usage)
        }
        // A program of one's own takes any arguments.
        var module = unknown
        module.moduleName = "trainer.task"
        XCTAssertNoThrow(try JobService.preflight(module, plan: nil, availableMemoryBytes: Int.max, descriptorLimit: 1024))

        let catalog = try Catalog.load()
        var custom = JobSpec()
        custom.jobDir = "/tmp/trainyard-preflight"
        var a = Arguments(["--scale-tier", "CUSTOM", "--master-machine-type", "n1-standard-4", "--worker-count", "100000",
                           "--worker-machine-type", "n1-standard-4", "--parameter-server-count", "1", "--parameter-server-machine-type", "n1-standard-4"])
        custom = try JobSpec.parse(&a, over: custom)
        let plan = try JobService.clusterPlan(custom, catalog: catalog)
        XCTAssertThrowsError(try JobService.preflight(custom, plan: plan, availableMemoryBytes: Int.max, descriptorLimit: 1 << 20)) {
            XCTAssertTrue("\($0)".contains("--worker-count 100000"), "\($0)")
        }
        spec.workers = 200
        XCTAssertThrowsError(try JobService.preflight(spec, plan: nil, availableMemoryBytes: Int.max, descriptorLimit: 256)) {
            XCTAssertTrue("\($0)".contains("file descriptors"), "\($0)")
        }
    }
}
