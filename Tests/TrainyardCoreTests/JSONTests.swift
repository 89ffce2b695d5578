import XCTest
@testable import TrainyardCore

final class JSONTests: XCTestCase {
    func testParsesAndKeepsKeyOrder() throws {
        let v = try JSONParser.parse(#"{"b": 1, "a": [true, null, -2.5e3, "x\n\u00e9\ud83d\ude00"]}"#)
        XCTAssertEqual(v.objectValue?.map(\.0), ["b", "a"])
        XCTAssertEqual(v["a"]?.arrayValue?[2], .number(-2500))
        XCTAssertEqual(v["a"]?.arrayValue?[3], .string("x\né😀"))
        XCTAssertEqual(try JSONParser.parse(v.serialized()), v)
        XCTAssertEqual(try JSONParser.parse(v.prettySerialized()), v)
    }

    func testSyntaxErrorsGiveLineAndColumn() {
        XCTAssertThrowsError(try JSONParser.parse("{\n  \"a\": 1,\n  \"b\" 2\n}")) { error in
            let e = error as! JSONParser.SyntaxError
            XCTAssertEqual(e.line, 3)
            XCTAssertEqual(e.column, 7)
        }
        for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "\"\\x\"", "{\"a\":1} x", "{\"a\":1,\"a\":2}", "tru"] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad)
        }
    }

    func testFieldErrorsCarryThePath() throws {
        let root = try JSONField.parse(#"{"faults": [{"at_step": "ten"}]}"#, source: "s.json")
        let fault = try root.required("faults").array()[0]
        XCTAssertThrowsError(try fault.required("at_step").int()) { error in
            XCTAssertEqual("\(error)", "s.json: faults[0].at_step: expected an integer, got a string")
        }
        XCTAssertThrowsError(try fault.required("kind")) { error in
            XCTAssertEqual("\(error)", "s.json: faults[0].kind: is required")
        }
        XCTAssertThrowsError(try fault.rejectUnknownKeys(["kind"])) { error in
            XCTAssertTrue("\(error)".contains("faults[0].at_step: is not a known field"))
        }
    }
}
