import XCTest
@testable import TrainyardLaunch

/// The chart module: nice ticks, log ticks at 1-2-5, the empty chart's message, no overlaps in the legend.
final class SVGPlotTests: XCTestCase {
    func testLinearTicksAreNiceAndEncloseTheData() {
        XCTAssertEqual(SVGPlot.ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(SVGPlot.ticks(0, 7), [0, 1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(SVGPlot.ticks(0.31, 0.69), [0.3, 0.4, 0.5, 0.6, 0.7])
        XCTAssertEqual(SVGPlot.ticks(1, 4, integer: true), [1, 2, 3, 4])
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let scale = pow(10, Double.random(in: -6...6, using: &generator))
            let a = Double.random(in: -1...1, using: &generator) * scale, b = a + Double.random(in: 0...3, using: &generator) * scale
            let t = SVGPlot.ticks(a, b)
            XCTAssertTrue((4...8).contains(t.count), "\(a)...\(b): \(t)")
            XCTAssertLessThanOrEqual(t.first!, a)
            XCTAssertGreaterThanOrEqual(t.last!, b)
            let step = t[1] - t[0]
            let mantissa = step / pow(10, log10(step).rounded(.down))
            XCTAssertTrue([1, 2, 5].contains { abs(mantissa - $0) < 1e-6 } || abs(mantissa - 10) < 1e-6, "step \(step)")
            for (x, y) in zip(t, t.dropFirst()) { XCTAssertEqual(y - x, step, accuracy: step * 1e-6) }
        }
    }

    func testDegenerateRangeStillGetsTicks() {
        let t = SVGPlot.ticks(5, 5)
        XCTAssertTrue((4...8).contains(t.count))
        XCTAssertTrue(t.first! < 5 && t.last! > 5)
        XCTAssertEqual(SVGPlot.ticks(0, 0).count, 5)
    }

    func testLogTicksAreOneTwoFive() {
        XCTAssertEqual(SVGPlot.logTicks(1.5, 40), [1, 2, 5, 10, 20, 50])
        XCTAssertEqual(SVGPlot.logTicks(3, 7), [2, 5, 10, 20])
        XCTAssertEqual(SVGPlot.logTicks(0.001, 1000), [0.001, 0.01, 0.1, 1, 10, 100, 1000])
        let wide = SVGPlot.logTicks(1e-6, 1e9)
        XCTAssertTrue((4...8).contains(wide.count), "\(wide)")
        XCTAssertLessThanOrEqual(wide.first!, 1e-6)
        XCTAssertGreaterThanOrEqual(wide.last!, 1e9)
    }

    func testLabels() {
        XCTAssertEqual(SVGPlot.label(0.4, step: 0.2), "0.4")
        XCTAssertEqual(SVGPlot.label(3, step: 1), "3")
        XCTAssertEqual(SVGPlot.label(20000, step: 5000), "20k")
        XCTAssertEqual(SVGPlot.label(2_500_000, step: 500_000), "2.5M")
        XCTAssertEqual(SVGPlot.label(0.005, step: 0.005), "0.005")
    }

    func testEmptyChartSaysSo() {
        let svg = SVGPlot.svg(.init(title: "Loss", x: .init("step"), y: .init("loss"), series: [.init("w", [])],
                                    emptyMessage: "no training loss was logged"))
        XCTAssertTrue(svg.contains("no training loss was logged"))
        XCTAssertFalse(svg.contains("<polyline"))
        // Points a log axis cannot show do not count as data.
        let log = SVGPlot.svg(.init(title: "Cost", x: .init("t", scale: .log), y: .init("c", scale: .log), series: [.init("a", [(0, 1)])]))
        XCTAssertTrue(log.contains("no data to plot"))
    }

    func testChartKeepsEverythingInsideTheViewBox() throws {
        let series = (0..<20).map { i in SVGPlot.Series("worker-\(i) with a long name", (0..<20).map { (Double($0), Double(i + $0)) }) }
        let svg = SVGPlot.svg(.init(title: "T", x: .init("x"), y: .init("y"), series: series, markers: [.init(x: 3, label: "1"), .init(x: 3.1, label: "2")],
                                    width: 600, height: 300))
        XCTAssertTrue(svg.contains("viewBox=\"0 0 600 300\""))
        var ys: [Double] = []
        for attribute in ["x", "y", "x1", "x2", "y1", "y2"] {
            for match in svg.matches(of: try Regex("<text[^>]* \(attribute)=\"([-0-9.]+)\"")) {
                let v = Double(match.output[1].substring!)!
                XCTAssertTrue(v >= 0 && v <= (attribute.hasPrefix("x") ? 600 : 300), "\(attribute)=\(v)")
            }
        }
        // Legend rows never overlap: distinct y at least 16 apart, and "+N more" when they do not fit.
        for match in svg.matches(of: try Regex("<text x=\"[0-9.]+\" y=\"([0-9.]+)\">worker")) { ys.append(Double(match.output[1].substring!)!) }
        for (a, b) in zip(ys, ys.dropFirst()) { XCTAssertGreaterThanOrEqual(b - a, 16) }
        XCTAssertTrue(svg.contains("more</text>"))
    }
}
