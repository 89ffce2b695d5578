import Foundation

/// The frame every chart Trainyard draws shares: canvas, title, axes and their labels.
public enum SVGPlot {
    public struct Frame {
        public var width = 720.0, height = 440.0, left = 80.0, right = 30.0, top = 50.0, bottom = 60.0
        public init(width: Double = 720, height: Double = 440, left: Double = 80, right: Double = 30, top: Double = 50, bottom: Double = 60) {
            (self.width, self.height, self.left, self.right, self.top, self.bottom) = (width, height, left, right, top, bottom)
        }
        public var plotWidth: Double { width - left - right }
        public var plotHeight: Double { height - top - bottom }
    }

    /// The opening of an SVG document with the title, both axes and their labels (close with `</svg>`).
    public static func begin(_ f: Frame, title: String, xLabel: String, yLabel: String) -> String {
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

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
