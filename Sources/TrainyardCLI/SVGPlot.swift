import Foundation

/// The frame every chart Trainyard draws shares: canvas, title, axes and their labels.
enum SVGPlot {
    struct Frame {
        var width = 720.0, height = 440.0, left = 80.0, right = 30.0, top = 50.0, bottom = 60.0
        var plotWidth: Double { width - left - right }
        var plotHeight: Double { height - top - bottom }
    }

    /// The opening of an SVG document with the title, both axes and their labels (close with `</svg>`).
    static func begin(_ f: Frame, title: String, xLabel: String, yLabel: String) -> String {
        let middleX = Int(f.left + f.plotWidth / 2), middleY = Int(f.top + f.plotHeight / 2)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(f.width))\" height=\"\(Int(f.height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(middleX)\" y=\"25\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        s += "<line x1=\"\(f.left)\" y1=\"\(f.height - f.bottom)\" x2=\"\(f.width - f.right)\" y2=\"\(f.height - f.bottom)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(f.left)\" y1=\"\(f.top)\" x2=\"\(f.left)\" y2=\"\(f.height - f.bottom)\" stroke=\"black\"/>\n"
        s += "<text x=\"\(middleX)\" y=\"\(Int(f.height - 12))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text x=\"18\" y=\"\(middleY)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(middleY))\">\(escape(yLabel))</text>\n"
        return s
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
