/// Plain-text tables for terminals: columns padded to their widest cell, a rule under the header,
/// no trailing spaces.
public enum TextTable {
    /// Renders `rows` (the first is the header; every row has the header's number of cells).
    public static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        var lines = rows.map { row in
            header.indices.map { c in pad(c < row.count ? row[c] : "", widths[c]) }.joined(separator: "  ")
        }
        lines.insert(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "), at: 1)
        return lines.map { line in String(line.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
