import XCTest
@testable import TrainyardCore

final class DataLoaderTests: XCTestCase {
    let csv = """
    height,weight,species
    1.0,10,cat
    2.0,20,dog
    3.0,30,cat
    4.0,40,bird
    5.0,50,dog
    6.0,60,cat

    """

    func testCSVWithHeaderStringLabelsAndStandardization() throws {
        let opts = CSVDataset.Options(label: .name("species"))
        let s0 = try CSVDataset.load(text: csv, file: "d.csv", options: opts, evalFraction: 1.0 / 6, shard: 0, of: 2)
        let s1 = try CSVDataset.load(text: csv, file: "d.csv", options: opts, evalFraction: 1.0 / 6, shard: 1, of: 2)
        XCTAssertEqual(s0.train.inputs, 2)
        XCTAssertEqual(s0.train.classes, 3)  // bird, cat, dog
        XCTAssertEqual(s0.train.labels, [1, 1, 2])  // rows 0, 2, 4: cat, cat, dog
        XCTAssertEqual(s1.train.labels, [2, 0])  // rows 1, 3: dog, bird
        XCTAssertEqual(s0.eval.labels, [1])  // the last row
        // Standardized with the whole training split (rows 0–4: mean 3, sd √2), in every shard.
        XCTAssertEqual(s0.train.features[0], Float((1 - 3) / 2.0.squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(s1.train.features[0], Float((2 - 3) / 2.0.squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(s0.eval.features[0], Float((6 - 3) / 2.0.squareRoot()), accuracy: 1e-5)
    }

    func testCSVWithoutHeaderLabelByIndexAndNumericClasses() throws {
        let text = "5,0.5,1\n7,0.1,3\n9,0.2,1\n"
        let s = try CSVDataset.load(text: text, file: "n.csv", options: .init(label: .index(0), standardize: false), evalFraction: 0, shard: 0, of: 1)
        XCTAssertEqual(s.train.labels, [0, 1, 2])  // 5, 7, 9 sorted numerically
        XCTAssertEqual(s.train.features, [0.5, 1, 0.1, 3, 0.2, 1])
        // Without a header the last column is the label by default.
        let d = try CSVDataset.load(text: text, file: "n.csv", options: .init(standardize: false), evalFraction: 0, shard: 0, of: 1)
        XCTAssertEqual(d.train.classes, 2)
    }

    func testCSVErrorsNameTheFileAndLine() {
        func message(_ text: String, _ opts: CSVDataset.Options = .init()) -> String {
            do { _ = try CSVDataset.load(text: text, file: "bad.csv", options: opts, evalFraction: 0.1, shard: 0, of: 1); return "" } catch { return error.description }
        }
        XCTAssertEqual(message("a,b,label\n1,2,0\n3,x,1\n"), "bad.csv:3: column 1 (\"b\"): \"x\" is not a number")
        XCTAssertEqual(message("a,b,label\n1,2,0\n3,1\n"), "bad.csv:3: expected 3 fields, found 2: column 2 (\"label\") is missing")
        XCTAssertEqual(message(""), "bad.csv: the file has no rows")
        XCTAssertEqual(message("a,b,label\n1,2,0\n", .init(label: .name("class"))), "bad.csv: no column named \"class\" (columns: a, b, label)")
        XCTAssertEqual(message("1,2,0\n3,4,1\n", .init(label: .index(5))), "bad.csv: label column 5 does not exist: rows have 3 columns (0...2)")
        XCTAssertEqual(message("a,label\n1,0\n2,0\n"), "bad.csv: the label column \"label\" has a single value: nothing to classify")
    }

    func testCSVWithByteOrderMarkAndLabelFirstTrainsOnTheLabel() throws {
        let text = "\u{FEFF}label,x,y\n0,1,10\n1,2,20\n0,3,30\n1,4,40\n"
        let s = try CSVDataset.load(text: text, file: "bom.csv", options: .init(standardize: false), evalFraction: 0, shard: 0, of: 1)
        XCTAssertEqual(s.train.inputs, 2)
        XCTAssertEqual(s.train.labels, [0, 1, 0, 1])
        XCTAssertEqual(s.train.features, [1, 10, 2, 20, 3, 30, 4, 40])
        // By name, in the middle, also with a BOM; and the header is still detected.
        let middle = "\u{FEFF}x,Label,y\n1,a,10\n2,b,20\n"
        let m = try CSVDataset.load(text: middle, file: "m.csv", options: .init(label: .name("label"), standardize: false), evalFraction: 0, shard: 0, of: 1)
        XCTAssertEqual(m.train.features, [1, 10, 2, 20])
        XCTAssertEqual(m.train.labels, [0, 1])
        let auto = try CSVDataset.load(text: middle, file: "m.csv", options: .init(standardize: false), evalFraction: 0, shard: 0, of: 1)
        XCTAssertEqual(auto.train.features, [1, 10, 2, 20], "the column named label is found in the middle")
    }

    func testCRLFAndLFReadAlike() throws {
        let lf = "label,x,y\n0,1,10\n1,2,20\n0,3,30\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        XCTAssertNotEqual(lf, crlf)
        let a = try CSVDataset.load(text: lf, file: "lf.csv", options: .init(), evalFraction: 0.34, shard: 0, of: 1)
        let b = try CSVDataset.load(text: crlf, file: "crlf.csv", options: .init(), evalFraction: 0.34, shard: 0, of: 1)
        let c = try CSVDataset.load(text: "\u{FEFF}" + crlf, file: "bom.csv", options: .init(), evalFraction: 0.34, shard: 0, of: 1)
        XCTAssertEqual(a.train, b.train)
        XCTAssertEqual(a.eval, b.eval)
        XCTAssertEqual(a.train, c.train)
        XCTAssertEqual(a.train.count, 2)
        // Line numbers count CRLF lines too.
        XCTAssertThrowsError(try CSVDataset.load(text: "a,label\r\n1,0\r\nx,1\r\n", file: "e.csv", options: .init(), evalFraction: 0, shard: 0, of: 1)) {
            XCTAssertEqual("\($0)", "e.csv:3: column 0 (\"a\"): \"x\" is not a number")
        }
    }

    func testCSVInvalidValuesNameTheLineAndColumn() {
        func message(_ text: String) -> String {
            do { _ = try CSVDataset.load(text: text, file: "bad.csv", options: .init(), evalFraction: 0, shard: 0, of: 1); return "" } catch { return error.description }
        }
        XCTAssertEqual(message("a,b,label\n1,2,0\n3,NaN,1\n"), "bad.csv:3: column 1 (\"b\"): \"NaN\" is not a finite number in Float's range")
        XCTAssertEqual(message("a,b,label\n1,inf,0\n3,4,1\n"), "bad.csv:2: column 1 (\"b\"): \"inf\" is not a finite number in Float's range")
        XCTAssertEqual(message("a,b,label\n1,1e300,0\n3,4,1\n"), "bad.csv:2: column 1 (\"b\"): \"1e300\" is not a finite number in Float's range")
        // Ragged rows, short and long.
        XCTAssertEqual(message("a,b,label\n1,2,0\n3\n"), "bad.csv:3: expected 3 fields, found 1: column 1 (\"b\") and after are missing")
        XCTAssertEqual(message("a,b,label\n1,2,0,9\n3,4,1\n"), "bad.csv:2: expected 3 fields, found 4: column 3 and after have no header")
        // A missing label, empty or NaN.
        XCTAssertEqual(message("a,b,label\n1,2,0\n3,4,\n"), "bad.csv:3: column 2 (\"label\"): the label is missing")
        XCTAssertEqual(message("label,a\n0,1\nnan,2\n"), "bad.csv:3: column 0 (\"label\"): the label \"nan\" is not a finite number (a missing value?)")
        XCTAssertEqual(message("\u{FEFF}"), "bad.csv: the file has no rows")
    }

    func testCSVQuotedFields() throws {
        let s = try CSVDataset.load(text: "\"x\",\"label\"\n\"1.5\",\"a,b\"\n\"2.5\",\"c\"\n", file: "q.csv", options: .init(standardize: false), evalFraction: 0, shard: 0, of: 1)
        XCTAssertEqual(s.train.features, [1.5, 2.5])
        XCTAssertEqual(s.train.classes, 2)
    }

    static func idx(type: UInt8, dims: [Int], body: [UInt8]) -> [UInt8] {
        var b: [UInt8] = [0, 0, type, UInt8(dims.count)]
        for d in dims { b += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return b + body
    }

    func testIDXImagesAndLabels() throws {
        let images = Self.idx(type: 0x08, dims: [4, 2, 2], body: (0..<16).map { UInt8($0 * 17) })
        let labels = Self.idx(type: 0x08, dims: [4], body: [0, 1, 2, 1])
        let s = try IDXDataset.load(images: images, imagesFile: "i", labels: labels, labelsFile: "l", evalFraction: 0.25, shard: 1, of: 2)
        XCTAssertEqual(s.train.inputs, 4)
        XCTAssertEqual(s.train.classes, 3)
        XCTAssertEqual(s.train.labels, [1])  // record 1
        XCTAssertEqual(s.train.features, [68, 85, 102, 119].map { Float($0) / 255 })
        XCTAssertEqual(s.eval.labels, [1])  // record 3
    }

    func testIDXErrorsNameTheRecord() {
        let labels = Self.idx(type: 0x08, dims: [4], body: [0, 1, 2, 1])
        let truncated = Self.idx(type: 0x08, dims: [4, 2, 2], body: [UInt8](repeating: 1, count: 10))
        XCTAssertThrowsError(try IDXDataset.load(images: truncated, imagesFile: "imgs", labels: labels, labelsFile: "l", evalFraction: 0, shard: 0, of: 1)) {
            XCTAssertEqual("\($0)", "imgs: truncated: the header promises 4 records but the file ends in record 2")
        }
        let three = Self.idx(type: 0x08, dims: [3], body: [0, 1, 2])
        let images = Self.idx(type: 0x08, dims: [4, 1], body: [1, 2, 3, 4])
        XCTAssertThrowsError(try IDXDataset.load(images: images, imagesFile: "imgs", labels: three, labelsFile: "lbls", evalFraction: 0, shard: 0, of: 1)) {
            XCTAssertEqual("\($0)", "lbls: holds 3 labels but imgs holds 4 images")
        }
        XCTAssertThrowsError(try IDXDataset.load(images: [1, 2, 3, 4, 5], imagesFile: "imgs", labels: labels, labelsFile: "l", evalFraction: 0, shard: 0, of: 1)) {
            XCTAssertTrue("\($0)".contains("not an IDX file"))
        }
    }

    func testIDXSizesAreCheckedNotTrapped() {
        let labels = Self.idx(type: 0x08, dims: [4], body: [0, 1, 2, 1])
        func message(_ images: [UInt8], _ labelBytes: [UInt8]? = nil) -> String {
            do {
                _ = try IDXDataset.load(images: images, imagesFile: "imgs", labels: labelBytes ?? labels, labelsFile: "lbls", evalFraction: 0, shard: 0, of: 1)
                return ""
            } catch { return error.description }
        }
        XCTAssertEqual(message(Self.idx(type: 0x08, dims: [4, 0], body: [])), "imgs: header.dims[1]: is 0: every dimension must be at least 1")
        XCTAssertEqual(message(Self.idx(type: 0x08, dims: [4, 1], body: [1, 2, 3, 4]), Self.idx(type: 0x08, dims: [0], body: [])),
                       "lbls: header.dims[0]: is 0: every dimension must be at least 1")
        XCTAssertEqual(message([0, 0, 8, 0]), "imgs: header.dimensions: is 0: an IDX file needs at least 1 dimension")
        let huge = 0xFFFF_FFFF
        XCTAssertEqual(message(Self.idx(type: 0x0E, dims: [huge, huge, huge], body: [])),
                       "imgs: header.dims: 4294967295 × 4294967295 × 4294967295 elements overflow a 64-bit size: not a valid IDX file")
        XCTAssertEqual(message(Self.idx(type: 0x08, dims: [4, huge], body: [1, 2, 3])),
                       "imgs: truncated: the header promises 4 records but the file ends in record 0")
        XCTAssertEqual(message(Self.idx(type: 0x08, dims: [4, 1], body: [1, 2, 3, 4]), Self.idx(type: 0x08, dims: [huge], body: [0, 1, 2, 1])),
                       "lbls: truncated: the header promises 4294967295 records but the file ends in record 4")
        XCTAssertEqual(message(Self.idx(type: 0x08, dims: [4, 1], body: [1, 2, 3, 4, 5, 6])),
                       "imgs: the header promises 4 × 1 elements (16 bytes with the header) but the file has 18 bytes: 2 too many")
        XCTAssertEqual(message(Self.idx(type: 0x08, dims: [4, 2, 2], body: [UInt8](repeating: 1, count: 15))),
                       "imgs: truncated: the header promises 4 records but the file ends in record 3")
        XCTAssertEqual(message(Self.idx(type: 0x08, dims: [4, 1, 1], body: [1]).prefix(10).map { $0 }), "imgs: truncated IDX header (3 dimensions need 16 bytes, the file has 10)")
        // A f64 pixel beyond Float's range is refused, not turned into infinity.
        let big = Self.idx(type: 0x0E, dims: [4, 1], body: [0x7F, 0xEF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 24))
        XCTAssertEqual(message(big), "imgs: record 0: element 0 is not a finite number in Float's range")
    }

    /// Random headers and mutated files: every outcome is a data set or an error, never a trap.
    func testNoIDXOrCSVInputTraps() {
        var rng = SplitMix64(seed: 7, stream: 1)
        let images = Self.idx(type: 0x08, dims: [4, 2, 2], body: (0..<16).map { UInt8($0) })
        let labels = Self.idx(type: 0x08, dims: [4], body: [0, 1, 2, 1])
        for _ in 0..<2000 {
            var i = images
            var l = labels
            for _ in 0..<Int(rng.next() % 4) { i[Int(rng.next() % UInt64(i.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            for _ in 0..<Int(rng.next() % 2) { l[Int(rng.next() % UInt64(l.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 4 == 0 { i = Array(i.prefix(Int(rng.next() % UInt64(i.count)))) }
            _ = try? IDXDataset.load(images: i, imagesFile: "i", labels: l, labelsFile: "l", evalFraction: 0.25, shard: Int(rng.next() % 2), of: 2)
        }
        let alphabet = Array("0123456789.,-e\"\r\n\u{FEFF} labxnNaIf")
        for _ in 0..<2000 {
            let text = String((0..<Int(rng.next() % 40)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            _ = try? CSVDataset.load(text: text, file: "f.csv", options: .init(), evalFraction: 0.2, shard: Int(rng.next() % 3), of: 3)
        }
    }
}
