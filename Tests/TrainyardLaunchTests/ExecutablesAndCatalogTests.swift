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
}
