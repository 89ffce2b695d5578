import XCTest
@testable import TrainyardCore

final class SettingsTests: XCTestCase {
    func testDefaults() throws {
        let s = try LaunchSettings.parse([])
        XCTAssertEqual(s.topology, Topology(workers: 2, parameterServers: 2))
        XCTAssertNil(s.jobDirectory)
        XCTAssertNil(s.startPort)
        XCTAssertEqual(s.training, TrainSettings())
    }

    func testParsesEveryFormAndPassesSettingsToRoles() throws {
        let s = try LaunchSettings.parse(["--workers", "3", "--ps=1", "--max-steps", "50", "--hidden", "16,8", "--learning-rate=0.1",
                                          "--job-dir", "/tmp/x", "--seed", "9", "--optimizer", "adam", "--restart-policy", "onfailure"])
        XCTAssertEqual(s.topology.workers, 3)
        XCTAssertEqual(s.topology.parameterServers, 1)
        XCTAssertEqual(s.training.hidden, [16, 8])
        XCTAssertEqual(s.training.optimizer, .adam)
        XCTAssertEqual(s.restartPolicy, .onFailure)
        var args = Arguments(s.training.roleArguments)
        XCTAssertEqual(try TrainSettings.parse(&args), s.training)
        XCTAssertNoThrow(try args.finish())
    }

    func testErrorsNameTheOption() {
        func message(_ argv: [String]) -> String {
            do { _ = try LaunchSettings.parse(argv); return "" } catch { return error.description }
        }
        XCTAssertEqual(message(["--workers", "x"]), "--workers takes a whole number, got \"x\"")
        XCTAssertEqual(message(["--ps", "0"]), "--ps must be in 1...1000, got 0")
        XCTAssertEqual(message(["--max-step", "5"]), "unknown option --max-step (did you mean --max-steps?)")
        XCTAssertEqual(message(["--hidden", "10,,5"]), "--hidden takes comma-separated layer widths like 256,128, got \"10,,5\"")
        XCTAssertEqual(message(["--max-steps"]), "--max-steps needs a value")
        XCTAssertEqual(message(["stray"]), "unexpected argument \"stray\"")
        XCTAssertEqual(message(["--dataset", "parquet:x"]), "--dataset must be synthetic, csv:PATH or idx:IMAGES,LABELS, got \"parquet:x\"")
        XCTAssertTrue(message(["--start-port", "65534"]).contains("leaves no room"))
    }

    func testAValueOptionDoesNotSwallowTheNextOption() throws {
        var a = Arguments(["--job-dir", "--zz-not-an-option"])
        XCTAssertThrowsError(try a.value("--job-dir")) { error in
            XCTAssertTrue("\(error)".contains("--job-dir needs a value, but the next word is the option --zz-not-an-option"), "\(error)")
        }
        var short = Arguments(["--env", "-v"])
        XCTAssertThrowsError(try short.values("--env"))
        // A negative number, a bare dash and the `=` form are values.
        var b = Arguments(["--learning-rate", "-0.5", "--input", "-", "--job-dir=--odd"])
        XCTAssertEqual(try b.value("--learning-rate"), "-0.5")
        XCTAssertEqual(try b.value("--input"), "-")
        XCTAssertEqual(try b.value("--job-dir"), "--odd")
        XCTAssertNoThrow(try b.finish())
    }

    /// Settings passed on to a role round-trip even when a value starts with a dash (the role's
    /// parser takes `--flag=value` for those).
    func testAValueThatLooksLikeAnOptionSurvivesTheRoleArguments() throws {
        var s = TrainSettings()
        s.labelColumn = "-y"
        let argv = s.roleArguments
        XCTAssertTrue(argv.contains("--label-column=-y"), "\(argv)")
        var args = Arguments(argv)
        XCTAssertEqual(try TrainSettings.parse(&args).labelColumn, "-y")
        XCTAssertNoThrow(try args.finish())
    }

    func testPassthroughAfterDoubleDash() throws {
        var a = Arguments(["--x", "1", "--", "--user", "arg"])
        XCTAssertEqual(try a.value("--x"), "1")
        XCTAssertEqual(a.passthrough, ["--user", "arg"])
        XCTAssertNoThrow(try a.finish())
    }
}
