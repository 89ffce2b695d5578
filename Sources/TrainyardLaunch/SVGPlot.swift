import Foundation

/// The one chart module behind every picture Trainyard draws (cost comparison, sweep, report):
/// a line or scatter chart with "nice" ticks (4–8 per axis; log axes at 1-2-5), the title and
/// legend inside the viewBox and clear of each other, vertical event markers, and a stated
/// message instead of empty axes when there is nothing to draw. Output is a standalone `<svg>`
/// element with no external references.
public enum SVGPlot {
    public enum Scale: Sendable { case linear, log }

    public struct Axis: Sendable {
        public var label: String
        public var scale: Scale
        /// Ticks at whole numbers only (counts, intervals).
        public var integer: Bool
        /// A range to include besides the data (e.g. `0...0` to start the axis at zero).
        public var include: [Double]
        public init(_ label: String, scale: Scale = .linear, integer: Bool = false, include: [Double] = []) {
            self.label = label
            self.scale = scale
            self.integer = integer
            self.include = include
        }
    }

    public struct Series: Sendable {
        public enum Style: Sendable { case line, markers, lineAndMarkers }
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var style: Style
        public var dashed: Bool
        public var strokeWidth: Double
        /// A color from the palette when nil.
        public var color: String?
        public init(_ name: String, _ points: [(x: Double, y: Double)], style: Style = .line, dashed: Bool = false, strokeWidth: Double = 1.8, color: String? = nil) {
            self.name = name
            self.points = points
            self.style = style
            self.dashed = dashed
            self.strokeWidth = strokeWidth
            self.color = color
        }
    }

    /// A vertical line at `x` (a fault, a restart) with a short label (a number keyed elsewhere).
    public struct Marker: Sendable {
        public var x: Double
        public var label: String
        public var color: String
        public init(x: Double, label: String, color: String = "#d62728") {
            self.x = x
            self.label = label
            self.color = color
        }
    }

    public struct Chart: Sendable {
        public var title: String
        public var subtitle: String
        public var x: Axis
        public var y: Axis
        public var series: [Series]
        public var markers: [Marker]
        /// What the chart says when no series has a point to draw.
        public var emptyMessage: String
        public var width: Double
        public var height: Double
        public init(title: String, subtitle: String = "", x: Axis, y: Axis, series: [Series], markers: [Marker] = [],
                    emptyMessage: String = "no data to plot", width: Double = 720, height: Double = 400) {
            self.title = title
            self.subtitle = subtitle
            self.x = x
            self.y = y
            self.series = series
            self.markers = markers
            self.emptyMessage = emptyMessage
            self.width = width
            self.height = height
        }
    }

    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    // MARK: Ticks

    /// 4–8 evenly spaced ticks at a 1, 2 or 5 × 10^k step whose first and last enclose `lo...hi`.
    public static func ticks(_ lo: Double, _ hi: Double, integer: Bool = false) -> [Double] {
        var (lo, hi) = (min(lo, hi), max(lo, hi))
        if hi - lo < 1e-12 * max(1, abs(lo)) {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
        }
        var exponent = (log10((hi - lo) / 8)).rounded(.down)
        while true {
            for m in [1.0, 2, 5] {
                let step = m * pow(10, exponent)
                if integer && step < 1 { continue }
                let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
                let count = Int(last - first) + 1
                if count <= 8 {
                    // A span that fits in fewer than 4 steps of this size is padded evenly.
                    var a = first, b = last
                    while Int(b - a) + 1 < 4 { if Int(b - a) % 2 == 0 { b += 1 } else { a -= 1 } }
                    return (0...Int(b - a)).map { clean((a + Double($0)) * step) }
                }
            }
            exponent += 1
        }
    }

    /// Log-axis ticks at 1-2-5 × 10^k enclosing `lo...hi` (positive): every such value when that
    /// gives at most 8, else decades (every second or third decade over wide ranges); at least 4.
    public static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let lo = max(min(lo, hi), 1e-300), hi = max(lo, hi)
        let e0 = Int(log10(lo).rounded(.down)), e1 = Int(log10(hi).rounded(.up))
        var all: [Double] = []
        for e in (e0 - 1)...(e1 + 1) { for m in [1.0, 2, 5] { all.append(clean(m * pow(10, Double(e)))) } }
        var i = all.lastIndex { $0 <= lo * (1 + 1e-9) } ?? 0
        var j = all.firstIndex { $0 >= hi * (1 - 1e-9) } ?? all.count - 1
        while j - i + 1 < 4 { if (j - i) % 2 == 0, j + 1 < all.count { j += 1 } else if i > 0 { i -= 1 } else { j += 1 } }
        let candidates = Array(all[i...j])
        if candidates.count <= 8 { return candidates }
        let a = Int(log10(candidates.first!).rounded(.down)), b = Int(log10(candidates.last!).rounded(.up))
        var stride = 1
        while (b - a + stride - 1) / stride + 1 > 8 { stride += 1 }
        return Swift.stride(from: a, through: a + (b - a + stride - 1) / stride * stride, by: stride).map { pow(10, Double($0)) }
    }

    private static func clean(_ v: Double) -> Double {
        guard v != 0 else { return 0 }
        let digits = pow(10, 12 - log10(abs(v)).rounded(.down))
        return (v * digits).rounded() / digits
    }

    /// A tick's label: as many decimals as the step needs, thousands as k and millions as M.
    public static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e6, step >= 1e5 { return trim(v / 1e6, decimals: max(0, -Int(log10(step / 1e6).rounded(.down)))) + "M" }
        if a >= 1e4, step >= 1e3 { return trim(v / 1e3, decimals: max(0, -Int(log10(step / 1e3).rounded(.down)))) + "k" }
        return trim(v, decimals: max(0, -Int(log10(step).rounded(.down))))
    }

    private static func trim(_ v: Double, decimals: Int) -> String {
        let s = String(format: "%.\(min(decimals, 12))f", v)
        return s == "-0" ? "0" : s
    }

    // MARK: Drawing

    static let charWidth = 6.8

    public static func svg(_ chart: Chart) -> String {
        let (W, H) = (chart.width, chart.height)
        let drawable = chart.series.map { s in s.points.filter { p in
            p.x.isFinite && p.y.isFinite && (chart.x.scale == .linear || p.x > 0) && (chart.y.scale == .linear || p.y > 0)
        } }
        let named = chart.series.enumerated().filter { !$0.element.name.isEmpty && !drawable[$0.offset].isEmpty }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(W)) \(Int(H))\" width=\"\(Int(W))\" height=\"\(Int(H))\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n"
        s += "<title>\(escape(chart.title))</title>\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(W / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escape(fit(chart.title, W - 20, 7.8)))</text>\n"
        let top = chart.subtitle.isEmpty ? 36.0 : 52
        if !chart.subtitle.isEmpty {
            s += "<text x=\"\(Int(W / 2))\" y=\"37\" text-anchor=\"middle\" fill=\"#555\">\(escape(fit(chart.subtitle, W - 20, charWidth)))</text>\n"
        }
        let points = drawable.flatMap { $0 }
        guard !points.isEmpty else {
            s += "<rect x=\"40\" y=\"\(top + 10)\" width=\"\(Int(W - 80))\" height=\"\(Int(H - top - 50))\" fill=\"#f7f7f7\" stroke=\"#ccc\"/>\n"
            s += "<text x=\"\(Int(W / 2))\" y=\"\(Int((H + top) / 2))\" text-anchor=\"middle\" font-size=\"14\" fill=\"#444\">\(escape(fit(chart.emptyMessage, W - 100, 7.6)))</text>\n"
            return s + "</svg>\n"
        }

        // Ticks, then margins from the labels they need.
        func axisTicks(_ a: Axis, _ values: [Double]) -> [Double] {
            let v = values + a.include.filter { a.scale == .linear || $0 > 0 }
            return a.scale == .log ? logTicks(v.min()!, v.max()!) : ticks(v.min()!, v.max()!, integer: a.integer)
        }
        let xTicks = axisTicks(chart.x, points.map(\.x) + chart.markers.map(\.x).filter { chart.x.scale == .linear || $0 > 0 })
        let yTicks = axisTicks(chart.y, points.map(\.y))
        func labels(_ t: [Double], _ scale: Scale) -> [String] {
            scale == .log ? t.map { label($0, step: $0) } : t.map { label($0, step: t.count > 1 ? t[1] - t[0] : 1) }
        }
        let xLabels = labels(xTicks, chart.x.scale), yLabels = labels(yTicks, chart.y.scale)
        let left = 34 + Double(yLabels.map(\.count).max() ?? 1) * charWidth
        let legendNames = named.map { fit($0.element.name, 200, charWidth) }
        let legendWidth = named.isEmpty ? 0 : 34 + Double(legendNames.map(\.count).max()!) * charWidth
        let right = 16 + legendWidth, bottom = 46.0
        let plotW = W - left - right, plotH = H - top - bottom
        func position(_ v: Double, _ t: [Double], _ scale: Scale) -> Double {
            let (a, b) = (t.first!, t.last!)
            return scale == .log ? (log10(v) - log10(a)) / (log10(b) - log10(a)) : (v - a) / (b - a)
        }
        func px(_ v: Double) -> Double { left + position(v, xTicks, chart.x.scale) * plotW }
        func py(_ v: Double) -> Double { top + plotH - position(v, yTicks, chart.y.scale) * plotH }
        func f(_ d: Double) -> String { String(format: "%.1f", d) }

        // Grid, axes, tick labels, axis labels.
        for (t, l) in zip(yTicks, yLabels) {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(t)))\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(l)</text>\n"
        }
        for (t, l) in zip(xTicks, xLabels) {
            s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + plotH))\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(l)</text>\n"
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(H - 10))\" text-anchor=\"middle\">\(escape(fit(chart.x.label, plotW, charWidth)))</text>\n"
        let midY = top + plotH / 2
        s += "<text x=\"14\" y=\"\(f(midY))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(midY)))\">\(escape(fit(chart.y.label, plotH, charWidth)))</text>\n"

        // Markers: dashed verticals, labels staggered so that neighbours do not overlap.
        var lastLabelX = -Double.infinity, row = 0
        for m in chart.markers.sorted(by: { $0.x < $1.x }) where chart.x.scale == .linear || m.x > 0 {
            let x = px(m.x)
            s += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" stroke=\"\(m.color)\" stroke-dasharray=\"4,3\"/>"
            row = x - lastLabelX < Double(m.label.count) * charWidth + 6 ? (row + 1) % 4 : 0
            lastLabelX = x
            s += "<text x=\"\(f(x + 3))\" y=\"\(f(top + 12 + Double(row) * 13))\" fill=\"\(m.color)\" font-size=\"11\">\(escape(m.label))</text>\n"
        }

        // Series, clipped to the plot area.
        let clip = "clip\(abs(chart.title.hashValue % 1_000_000))"
        s += "<clipPath id=\"\(clip)\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/></clipPath>\n<g clip-path=\"url(#\(clip))\">\n"
        for (i, series) in chart.series.enumerated() where !drawable[i].isEmpty {
            let color = series.color ?? palette[i % palette.count]
            if series.style != .markers {
                let dash = series.dashed ? " stroke-dasharray=\"6,4\"" : ""
                let pts = drawable[i].map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(series.strokeWidth)\"\(dash) points=\"\(pts)\"/>\n"
            }
            if series.style != .line || drawable[i].count == 1 {
                for p in drawable[i] { s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(series.style == .markers ? 5 : 3)\" fill=\"\(color)\"/>" }
                s += "\n"
            }
        }
        s += "</g>\n"

        // Legend: one row per named series, in the right margin.
        let rowsFit = max(1, Int((plotH - 8) / 16))
        for (k, (i, series)) in named.enumerated() where k < rowsFit {
            let y = top + 10 + Double(k) * 16, x = left + plotW + 14
            let color = series.color ?? palette[i % palette.count]
            if k == rowsFit - 1 && named.count > rowsFit {
                s += "<text x=\"\(f(x))\" y=\"\(f(y + 4))\" fill=\"#555\">+\(named.count - k) more</text>\n"
                break
            }
            if series.style == .markers {
                s += "<circle cx=\"\(f(x + 9))\" cy=\"\(f(y))\" r=\"5\" fill=\"\(color)\"/>"
            } else {
                s += "<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + 18))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"\(min(series.strokeWidth, 3.5))\"\(series.dashed ? " stroke-dasharray=\"4,3\"" : "")/>"
            }
            s += "<text x=\"\(f(x + 24))\" y=\"\(f(y + 4))\">\(escape(legendNames[k]))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// `text` cut with an ellipsis to fit `width` pixels at `perChar` pixels a character.
    static func fit(_ text: String, _ width: Double, _ perChar: Double) -> String {
        let n = max(4, Int(width / perChar))
        return text.count <= n ? text : String(text.prefix(n - 1)) + "…"
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
