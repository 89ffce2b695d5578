import Foundation
import XCTest
@testable import TrainyardCore

/// The findings of "Hardened wire and files" that live in the pure core, each as the input that
/// reproduced it.
final class HardeningTests: XCTestCase {
    func testCRLFAndCRIgnoreFilesWorkLikeLF() {
        for newline in ["\n", "\r\n", "\r"] {
            let r = IgnoreRules(parsing: ["# secrets", "secrets.env", "big.bin", "data/", "!keep.bin", ""].joined(separator: newline))
            XCTAssertTrue(r.ignores("secrets.env", isDirectory: false), newline.debugDescription)
            XCTAssertTrue(r.ignores("sub/big.bin", isDirectory: false), newline.debugDescription)
            XCTAssertTrue(r.ignores("data", isDirectory: true), newline.debugDescription)
            XCTAssertFalse(r.ignores("keep.bin", isDirectory: false), newline.debugDescription)
            XCTAssertFalse(r.ignores("trainer/task.py", isDirectory: false), newline.debugDescription)
        }
        let included = IgnoreRules(parsing: "#!include:.gitignore\r\n*.log\r\n") { $0 == ".gitignore" ? "*.tmp\r\n" : nil }
        XCTAssertTrue(included.ignores("a.tmp", isDirectory: false))
        XCTAssertTrue(included.ignores("a.log", isDirectory: false))
    }

    func testManyDoubleStarSegmentsOverADeepFolderTakeLinearTime() {
        // 14 `**/` segments between names that never all match: exponential with backtracking.
        let pattern = (0..<14).map { _ in "**/a" }.joined(separator: "/") + "/b"
        let rules = IgnoreRules(parsing: pattern + "\n" + "**/" + pattern + "\n")
        let deep = Array(repeating: "a", count: 60).joined(separator: "/") + "/c"
        let start = Date()
        XCTAssertFalse(rules.ignores(deep, isDirectory: false))
        XCTAssertTrue(rules.ignores(Array(repeating: "a", count: 60).joined(separator: "/") + "/b", isDirectory: false))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
        // The semantics `**` had stay: zero or more folders, anywhere.
        let r = IgnoreRules(parsing: "a/**/b\n**/logs\nout/**\n")
        XCTAssertTrue(r.ignores("a/b", isDirectory: false))
        XCTAssertTrue(r.ignores("a/x/y/b", isDirectory: false))
        XCTAssertFalse(r.ignores("x/a/b", isDirectory: false))
        XCTAssertTrue(r.ignores("x/y/logs", isDirectory: true))
        XCTAssertTrue(r.ignores("out/deep/f", isDirectory: false))
    }

    func testJSONNumbersThatOverflowADoubleAreErrorsWithLineAndColumn() {
        XCTAssertThrowsError(try JSONParser.parse("9e19111")) { error in
            let e = error as! JSONParser.SyntaxError
            XCTAssertEqual([e.line, e.column], [1, 1])
            XCTAssertTrue(e.reason.contains("too large"), e.reason)
        }
        XCTAssertThrowsError(try JSONParser.parse("{\"a\":\n  [1, -1e400]}")) { error in
            let e = error as! JSONParser.SyntaxError
            XCTAssertEqual([e.line, e.column], [2, 7])
        }
        XCTAssertEqual(try JSONParser.parse("1.7976931348623157e308").doubleValue, Double.greatestFiniteMagnitude)
        XCTAssertEqual(try JSONParser.parse("1e-400").doubleValue, 0)
    }

    func testTierPricesMustNotBeNegative() {
        func message(_ files: [(String, String)]) -> String {
            do { _ = try TierCatalog(files: files.map { (name: $0.0, text: $0.1) }); return "ok" } catch { return error.description }
        }
        let types = #"{"kind": "machine_types", "machine_types": [{"name": "a", "vcpus": 2, "sources": {}}]}"#
        XCTAssertEqual(message([("t.json", types), ("x.json", #"{"kind": "scale_tier", "name": "X", "master": "a", "listed_price_per_hour": -1, "sources": {}}"#)]),
                       "x.json: listed_price_per_hour: must be ≥ 0 (got -1.0)")
        XCTAssertEqual(message([("t.json", types), ("x.json", #"{"kind": "scale_tier", "name": "X", "master": "a", "listed_ml_units_per_hour": -0.5, "sources": {}}"#)]),
                       "x.json: listed_ml_units_per_hour: must be ≥ 0 (got -0.5)")
        XCTAssertEqual(message([("t.json", #"{"kind": "machine_types", "machine_types": [{"name": "a", "vcpus": 2, "price_per_hour": -0.1, "sources": {}}]}"#)]),
                       "t.json: machine_types[0].price_per_hour: must be ≥ 0 (got -0.1)")
        XCTAssertEqual(message([("t.json", #"{"kind": "machine_types", "price_lists": {"p": {"date": "2020", "dollars_per_ml_unit": -2}}, "machine_types": []}"#)]),
                       "t.json: price_lists.p.dollars_per_ml_unit: must be ≥ 0 (got -2.0)")
    }

    func testPathContainment() {
        XCTAssertTrue(PathContainment.isInside("/h/buckets/b", "/h/buckets/b"))
        XCTAssertTrue(PathContainment.isInside("/h/buckets/b/x", "/h/buckets/b"))
        XCTAssertFalse(PathContainment.isInside("/h/buckets/bb/x", "/h/buckets/b"))
        XCTAssertFalse(PathContainment.isInside(nil, "/h"))
        XCTAssertEqual(PathContainment.normalizedRelative("a/./b/../c"), "a/c")
        XCTAssertNil(PathContainment.normalizedRelative("a/../../etc"))
        XCTAssertNil(PathContainment.normalizedRelative("/etc"))
        XCTAssertTrue(PathContainment.isPlainName("ckpt-5.tyckpt"))
        for bad in ["", ".", "..", "../../x/ckpt-5.tyckpt", "a/b"] { XCTAssertFalse(PathContainment.isPlainName(bad), bad) }
    }

    /// Found by the storageuri fuzzer (Tests/Fuzz/crashes/storageuri/crash-93a37a…): `gs://b//`
    /// was taken for the bucket itself with a trailing slash its printed form lost.
    func testStorageURIsRoundTripAndRefuseAnEmptyFirstSegment() throws {
        XCTAssertThrowsError(try StorageURI(parsing: "gs://accuuu//"))
        XCTAssertThrowsError(try StorageURI(parsing: "gs://accuuu//x"))
        XCTAssertEqual(try StorageURI(parsing: "gs://bkt/"), try StorageURI(parsing: "gs://bkt"))
        for text in ["gs://bkt", "gs://bkt/a/b", "gs://bkt/a/"] {
            let uri = try StorageURI(parsing: text)
            XCTAssertEqual(uri.description, text)
            XCTAssertEqual(try StorageURI(parsing: uri.description), uri)
        }
    }

    /// A checkpoint with a correct checksum whose layer widths multiply past Int.max used to trap
    /// in `parameterCount`; now it is refused, naming the shape.
    func testACheckpointWithOverflowingLayerWidthsIsRefused() {
        var bytes: [UInt8] = []
        func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
        func u64(_ v: UInt64) { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) } }
        let good = Checkpoint(globalStep: 1, incarnation: 1, architecture: MLPArchitecture(inputs: 2, hidden: [2], classes: 2), parameters: [Float](repeating: 0, count: 12)).encoded()
        bytes += good.prefix(8)                  // magic and version, as written
        u64(1); u32(1)                           // step, incarnation
        u32(0xFFFF_FFFF); u32(0xFFFF_FFFF)       // inputs, classes
        u32(1); u32(0xFFFF_FFFF)                 // one hidden layer
        bytes.append(0)                          // no slots
        u64(0)                                   // no parameters
        u32(CRC32C.checksum(bytes))
        XCTAssertThrowsError(try Checkpoint(decoding: bytes)) { error in
            XCTAssertTrue("\(error)".contains("more parameters than the file"), "\(error)")
        }
    }

    /// Found by the tfconfig fuzzer (Tests/Fuzz/crashes/tfconfig/crash-b8491a…): a host of `[[[…]`
    /// and bytes that are not a host name was accepted, and written back as text that does not parse.
    func testHostsThatCouldNotBeWrittenBackAreRefused() throws {
        for bad in ["[[x]:2224", "[x]:2224", "h\u{FF}st:1", "a b:1", "a/b:1", "ho]st:1", "[]:1"] {
            XCTAssertThrowsError(try HostPort(parsing: bad), bad)
        }
        for good in ["localhost:2222", "10.0.0.2:2222", "[::1]:2222", "[fe80::1%eth0]:80", "my_host-1.example.com:9"] {
            let h = try HostPort(parsing: good)
            XCTAssertEqual(h.description, good)
            XCTAssertEqual(try HostPort(parsing: h.description), h)
        }
    }
}
