import XCTest
@testable import TrainyardCore

/// How a role run without the launcher (by hand, or as a Kubeflow TFJob pod) reads its job token,
/// its listening host, and names the peer that never answered.
final class RoleEnvironmentTests: XCTestCase {
    private struct NoSuchFile: Error, CustomStringConvertible { var description: String { "open: No such file or directory" } }

    /// A reader over an in-memory set of files that honours the byte limit, as `Files.read` does.
    private func reader(_ files: [String: String]) -> (String, Int) throws -> [UInt8] {
        { path, limit in
            guard let text = files[path] else { throw NoSuchFile() }
            return Array(Array(text.utf8).prefix(limit))
        }
    }

    private func tokenError(_ environment: [String: String], _ files: [String: String] = [:]) -> String {
        do {
            let token = try RoleEnvironment.token(environment: environment, readFile: reader(files))
            return "no error (token \(token))"
        } catch {
            XCTAssertEqual(error.exitCode, .usage)
            return error.description
        }
    }

    func testTheTokenComesFromTheVariableOrFromAFileWithItsTrailingNewlineStripped() throws {
        XCTAssertEqual(try RoleEnvironment.token(environment: ["TRAINYARD_JOB_TOKEN": "s3cret"], readFile: reader([:])), "s3cret")
        let files = ["/var/run/secrets/token": "s3cret\n", "/crlf": "s3cret\r\n", "/bare": "s3cret"]
        for path in files.keys.sorted() {
            XCTAssertEqual(try RoleEnvironment.token(environment: ["TRAINYARD_JOB_TOKEN_FILE": path], readFile: reader(files)), "s3cret", path)
        }
        // Both set and the same: fine.
        XCTAssertEqual(try RoleEnvironment.token(environment: ["TRAINYARD_JOB_TOKEN": "s3cret", "TRAINYARD_JOB_TOKEN_FILE": "/bare"],
                                                 readFile: reader(files)), "s3cret")
    }

    func testATokenFileThatCannotGiveATokenIsAUsageErrorNamingThePath() {
        let missing = tokenError(["TRAINYARD_JOB_TOKEN_FILE": "/var/run/secrets/nope"])
        XCTAssertTrue(missing.contains("TRAINYARD_JOB_TOKEN_FILE") && missing.contains("/var/run/secrets/nope") && missing.contains("No such file"), missing)

        let empty = tokenError(["TRAINYARD_JOB_TOKEN_FILE": "/empty"], ["/empty": "\n"])
        XCTAssertTrue(empty.contains("/empty is empty"), empty)

        let lines = tokenError(["TRAINYARD_JOB_TOKEN_FILE": "/two"], ["/two": "a\nb\n"])
        XCTAssertTrue(lines.contains("/two holds several lines"), lines)

        let huge = tokenError(["TRAINYARD_JOB_TOKEN_FILE": "/huge"], ["/huge": String(repeating: "x", count: 10_000)])
        XCTAssertTrue(huge.contains("/huge is larger than 4096 bytes"), huge)

        let different = tokenError(["TRAINYARD_JOB_TOKEN": "one", "TRAINYARD_JOB_TOKEN_FILE": "/t"], ["/t": "two\n"])
        XCTAssertTrue(different.contains("give different job tokens") && different.contains("/t"), different)

        let blankPath = tokenError(["TRAINYARD_JOB_TOKEN_FILE": ""])
        XCTAssertTrue(blankPath.contains("TRAINYARD_JOB_TOKEN_FILE is set but empty"), blankPath)

        let none = tokenError([:])
        XCTAssertTrue(none.contains("TRAINYARD_JOB_TOKEN is not set") && none.contains("TRAINYARD_JOB_TOKEN_FILE"), none)
        let emptyToken = tokenError(["TRAINYARD_JOB_TOKEN": ""])
        XCTAssertTrue(emptyToken.contains("TRAINYARD_JOB_TOKEN is not set"), emptyToken)
    }

    func testTheListenHostOverridesOnlyTheHostAndRejectsAPort() throws {
        XCTAssertNil(try RoleEnvironment.listenHost(environment: [:]))
        XCTAssertEqual(try RoleEnvironment.listenHost(environment: ["TRAINYARD_LISTEN_HOST": "0.0.0.0"]), "0.0.0.0")
        XCTAssertEqual(try RoleEnvironment.listenHost(environment: ["TRAINYARD_LISTEN_HOST": " 10.1.2.3 "]), "10.1.2.3")
        XCTAssertEqual(try RoleEnvironment.listenHost(environment: ["TRAINYARD_LISTEN_HOST": "::"]), "::")
        XCTAssertEqual(try RoleEnvironment.listenHost(environment: ["TRAINYARD_LISTEN_HOST": "myjob-ps-0.default.svc"]), "myjob-ps-0.default.svc")
        for (value, expected) in [("0.0.0.0:2222", "the port always comes from TF_CONFIG"), ("[::]", "the port always comes from TF_CONFIG"),
                                  ("", "is set but empty"), ("   ", "is set but empty"), ("a b", "not a host name or address"),
                                  ("host;rm", "not a host name or address")] {
            XCTAssertThrowsError(try RoleEnvironment.listenHost(environment: ["TRAINYARD_LISTEN_HOST": value]), value) {
                XCTAssertTrue("\($0)".contains("TRAINYARD_LISTEN_HOST") && "\($0)".contains(expected), "\(value): \($0)")
                XCTAssertEqual(($0 as? UsageError)?.exitCode, .usage)
            }
        }
    }

    func testThePeerThatNeverAnsweredIsNamedWithItsAddressAndEveryKindOfFailure() {
        var silence = PeerSilence()
        let ps1 = TaskID.ps(1)
        let address = HostPort(host: "myjob-ps-1.default.svc", port: 2222)
        XCTAssertNil(silence.describe(ps1))
        silence.failed(ps1, at: address, .notResolved)
        silence.failed(ps1, at: address, .notResolved)
        silence.failed(ps1, at: address, .refused)
        XCTAssertTrue(silence.isSilent(ps1))
        XCTAssertEqual(silence.describe(ps1), "ps-1 (myjob-ps-1.default.svc:2222) never answered: name not resolved / connection refused")
        silence.answered(ps1)
        XCTAssertNil(silence.describe(ps1))
        silence.failed(ps1, at: address, .timedOut)
        XCTAssertEqual(silence.describe(ps1), "ps-1 (myjob-ps-1.default.svc:2222) stopped answering: no answer in time")
    }
}
