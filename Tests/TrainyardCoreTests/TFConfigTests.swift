import XCTest
@testable import TrainyardCore

final class TFConfigTests: XCTestCase {
    let valid = #"{"cluster": {"chief": ["localhost:2222"], "worker": ["localhost:2223", "localhost:2224"], "ps": ["localhost:2225"]}, "task": {"type": "worker", "index": 1}}"#

    func testParsesTensorFlowFormat() throws {
        let c = try TFConfig(parsing: valid)
        XCTAssertEqual(c.task.id, .worker(1))
        XCTAssertEqual(c.cluster.addresses(of: .worker), [HostPort(host: "localhost", port: 2223), HostPort(host: "localhost", port: 2224)])
        XCTAssertEqual(c.ownAddress, HostPort(host: "localhost", port: 2224))
        XCTAssertEqual(c.cluster.chiefTask, .chief(0))
        XCTAssertEqual(c.cluster.trainingTasks, [.chief(0), .worker(0), .worker(1)])
    }

    func testRoundTripKeepsOptionalKeys() throws {
        let text = #"{"cluster": {"master": ["h0:2222"], "worker": ["h1:2222"], "ps": ["h3:2222"]}, "task": {"type": "worker", "index": 0, "trial": "3"}, "job": {"scale_tier": "CUSTOM", "args": ["--x", 1]}, "environment": "cloud", "rpc_layer": "grpc"}"#
        let c = try TFConfig(parsing: text)
        XCTAssertEqual(c.environment, "cloud")
        XCTAssertEqual(c.rpcLayer, "grpc")
        XCTAssertEqual(c.task.trial, "3")
        XCTAssertEqual(c.job?["scale_tier"], "CUSTOM")
        let again = try TFConfig(parsing: c.serialized())
        XCTAssertEqual(again, c)
        XCTAssertEqual(try JSONParser.parse(c.serialized()), try JSONParser.parse(text))
    }

    func testSerializationIsTensorFlowShaped() throws {
        let c = try TFConfig(parsing: valid)
        XCTAssertEqual(c.serialized(), #"{"cluster": {"chief": ["localhost:2222"], "worker": ["localhost:2223", "localhost:2224"], "ps": ["localhost:2225"]}, "task": {"type": "worker", "index": 1}}"#)
    }

    private func assertFails(_ text: String, mentioning needle: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try TFConfig(parsing: text)
            XCTFail("expected failure for \(text)", file: file, line: line)
        } catch {
            XCTAssertTrue(error.description.contains(needle), "\(error.description) does not mention \(needle)", file: file, line: line)
            XCTAssertEqual(error.exitCode, .invalidInput, file: file, line: line)
        }
    }

    func testInvalidInputNamesTheField() {
        assertFails("not json", mentioning: "not valid JSON at line 1")
        assertFails(#"{"cluster": {"worker": ["a:1"]}}"#, mentioning: "task: is required")
        assertFails(#"{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}"#, mentioning: "task.index: 1 is out of range")
        assertFails(#"{"cluster": {"worker": ["a:1"]}, "task": {"type": "wrker", "index": 0}}"#, mentioning: "task.type: unknown task type \"wrker\"")
        assertFails(#"{"cluster": {"trainer": ["a:1"]}, "task": {"type": "worker", "index": 0}}"#, mentioning: "cluster.trainer: unknown task type")
        assertFails(#"{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}"#, mentioning: "cluster.worker[1]: duplicate address a:1")
        assertFails(#"{"cluster": {"worker": ["a:1"], "ps": ["a:1"]}, "task": {"type": "worker", "index": 0}}"#, mentioning: "cluster.ps[0]: duplicate address")
        assertFails(#"{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}"#, mentioning: "cluster.worker[0]: \"localhost\" is not host:port")
        assertFails(#"{"cluster": {"worker": ["h:99999"]}, "task": {"type": "worker", "index": 0}}"#, mentioning: "cluster.worker[0]")
        assertFails(#"{"cluster": {"worker": ["h:0"]}, "task": {"type": "worker", "index": 0}}"#, mentioning: "1...65535")
        assertFails(#"{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}"#, mentioning: "task.type: task type \"ps\" has no addresses")
        assertFails(#"{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "x"}}"#, mentioning: "task.index: expected an integer")
        assertFails(#"[1, 2]"#, mentioning: "expected a JSON object")
        assertFails(#"{"cluster": {"chief": ["a:1"], "master": ["a:2"]}, "task": {"type": "chief", "index": 0}}"#, mentioning: "both chief and master")
    }

    func testEvaluatorIsNotPartOfTheCluster() throws {
        let c = try TFConfig(parsing: #"{"cluster": {"chief": ["a:1"]}, "task": {"type": "evaluator", "index": 0}}"#)
        XCTAssertEqual(c.task.type, .evaluator)
        XCTAssertNil(c.ownAddress)
    }

    func testTopologyPortsAreConsecutiveChiefWorkersPs() {
        let t = Topology(workers: 2, parameterServers: 2)
        let spec = t.clusterSpec(startPort: 27182)
        XCTAssertEqual(spec.addresses(of: .chief).map(\.port), [27182])
        XCTAssertEqual(spec.addresses(of: .worker).map(\.port), [27183, 27184])
        XCTAssertEqual(spec.addresses(of: .ps).map(\.port), [27185, 27186])
        XCTAssertEqual(t.tasks.map(\.description), ["chief-0", "worker-0", "worker-1", "ps-0", "ps-1"])
    }

    func testTaskIDParsing() throws {
        XCTAssertEqual(try TaskID(parsing: "worker:3"), .worker(3))
        XCTAssertEqual(try TaskID(parsing: "ps-1"), .ps(1))
        XCTAssertEqual(try TaskID(parsing: "chief"), .chief(0))
        XCTAssertThrowsError(try TaskID(parsing: "boss:1"))
        XCTAssertThrowsError(try TaskID(parsing: "worker:-1"))
    }
}
