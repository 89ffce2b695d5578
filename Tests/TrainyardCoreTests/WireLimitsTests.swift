import XCTest
@testable import TrainyardCore

final class WireLimitsTests: XCTestCase {
    func testLimitsComeFromTheEnvironmentWithDefaults() throws {
        XCTAssertEqual(try WireLimits.from(environment: [:]), WireLimits(handshakeTimeout: 10, idleTimeout: 300, maxConnections: 256))
        let set = try WireLimits.from(environment: [RoleEnvironment.handshakeTimeout: "2.5", RoleEnvironment.idleTimeout: "60",
                                                    RoleEnvironment.maxConnections: "32"])
        XCTAssertEqual(set, WireLimits(handshakeTimeout: 2.5, idleTimeout: 60, maxConnections: 32))
        XCTAssertThrowsError(try WireLimits.from(environment: [RoleEnvironment.idleTimeout: "soon"])) {
            XCTAssertTrue("\($0)".contains("TRAINYARD_IDLE_TIMEOUT"), "\($0)")
        }
        XCTAssertThrowsError(try WireLimits.from(environment: [RoleEnvironment.maxConnections: "0"]))
        // Under a 64-descriptor limit the cap stays below it, so the cap, not EMFILE, decides.
        XCTAssertEqual(WireLimits().fitting(descriptorLimit: 64).maxConnections, 40)
        XCTAssertEqual(WireLimits().fitting(descriptorLimit: .max).maxConnections, 256)
    }

    func testAFullListenerDropsTheOldestConnectionThatHasNotSaidHello() {
        let limits = WireLimits(maxConnections: 3)
        XCTAssertEqual(limits.admission(open: 2, unauthenticated: [1, 2]), .admit)
        XCTAssertEqual(limits.admission(open: 3, unauthenticated: [5, 9]), .admitEvicting(5))
        XCTAssertEqual(limits.admission(open: 3, unauthenticated: [Int]()), .refuse)
    }

    func testRefusalsAreLoggedOncePerPeerAndReasonAndAtMostABurstAWindow() {
        var log = RefusalLog(window: 60, burst: 3)
        XCTAssertEqual(log.record(address: "10.0.0.1:5000", host: "10.0.0.1", reason: "no hello", now: 0), "refused connection from 10.0.0.1:5000: no hello")
        XCTAssertNil(log.record(address: "10.0.0.1:5001", host: "10.0.0.1", reason: "no hello", now: 1))
        XCTAssertNotNil(log.record(address: "10.0.0.1:5002", host: "10.0.0.1", reason: "bad-token", now: 2))
        XCTAssertNotNil(log.record(address: "10.0.0.2:5000", host: "10.0.0.2", reason: "no hello", now: 3))
        // The burst is spent: a new peer waits for the next window, and the line says what was held back.
        XCTAssertNil(log.record(address: "10.0.0.3:5000", host: "10.0.0.3", reason: "no hello", now: 4))
        XCTAssertEqual(log.record(address: "10.0.0.3:5000", host: "10.0.0.3", reason: "no hello", now: 61),
                       "refused connection from 10.0.0.3:5000: no hello (1 more refusal not logged)")
    }
}
