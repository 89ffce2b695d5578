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
        XCTAssertEqual(message("a,b,label\n1,2,0\n3,1\n"), "bad.csv:3: expected 3 fields, found 2")
        XCTAssertEqual(message(""), "bad.csv: the file has no rows")
        XCTAssertEqual(message("a,b,label\n1,2,0\n", .init(label: .name("class"))), "bad.csv: no column named \"class\" (columns: a, b, label)")
        XCTAssertEqual(message("1,2,0\n3,4,1\n", .init(label: .index(5))), "bad.csv: label column 5 does not exist: rows have 3 columns (0...2)")
        XCTAssertEqual(message("a,label\n1,0\n2,0\n"), "bad.csv: the label column \"label\" has a single value: nothing to classify")
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
}
