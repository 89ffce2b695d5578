/// Writes a `JSONValue` as block YAML the way gcloud's `--format yaml` prints a resource: keys
/// sorted, list items (`- `) at their key's indentation, strings plain unless YAML would read them
/// as something else (then single-quoted, `''` for a quote; double-quoted with escapes when they
/// hold a line break). `YAMLParser` reads the output back to the same value.
public enum YAMLWriter {
    public static func write(_ value: JSONValue) -> String {
        var out: [String] = []
        switch value {
        case .object(let fields) where !fields.isEmpty: object(fields, indent: "", into: &out)
        case .array(let items) where !items.isEmpty: array(items, indent: "", into: &out)
        default: out.append(scalar(value))
        }
        return out.joined(separator: "\n") + "\n"
    }

    private static func object(_ fields: [(String, JSONValue)], indent: String, into out: inout [String]) {
        for (key, v) in fields.sorted(by: { $0.0 < $1.0 }) {
            let k = indent + string(key) + ":"
            switch v {
            case .object(let f) where !f.isEmpty:
                out.append(k)
                object(f, indent: indent + "  ", into: &out)
            case .array(let items) where !items.isEmpty:
                out.append(k)
                array(items, indent: indent, into: &out)
            default:
                out.append(k + " " + scalar(v))
            }
        }
    }

    private static func array(_ items: [JSONValue], indent: String, into out: inout [String]) {
        for item in items {
            switch item {
            case .object(let f) where !f.isEmpty:
                var inner: [String] = []
                object(f, indent: indent + "  ", into: &inner)
                // The first key goes on the dash's line.
                inner[0] = indent + "- " + inner[0].dropFirst(indent.count + 2)
                out += inner
            case .array(let a) where !a.isEmpty:
                out.append(indent + "-")
                array(a, indent: indent + "  ", into: &out)
            default:
                out.append(indent + "- " + scalar(item))
            }
        }
    }

    private static func scalar(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return JSONValue.format(d)
        case .string(let s): return string(s)
        case .array: return "[]"
        case .object: return "{}"
        }
    }

    /// A string as YAML: plain when that reads back as the same string, else quoted.
    public static func string(_ s: String) -> String {
        if s.contains(where: { $0.isNewline || ($0.asciiValue.map { $0 < 0x20 && $0 != 9 } ?? false) }) {
            var e = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\\": e += "\\\\"
                case "\"": e += "\\\""
                case "\n": e += "\\n"
                case "\r": e += "\\r"
                case "\t": e += "\\t"
                default:
                    if c.value < 0x20 { e += "\\x" + (c.value < 16 ? "0" : "") + String(c.value, radix: 16) } else { e.unicodeScalars.append(c) }
                }
            }
            return e + "\""
        }
        return needsQuotes(s) ? "'" + s.replacingAll("'", with: "''") + "'" : s
    }

    private static func needsQuotes(_ s: String) -> Bool {
        guard let first = s.first, let last = s.last else { return true }
        if first == " " || last == " " || last == ":" { return true }
        if "-?:,[]{}#&*!|>'\"%@`~".contains(first) {
            // `-x` and `--flag` read back as strings; `- `, `-` alone and numbers do not.
            if first == "-", s.count > 1, !s.hasPrefix("- "), Double(s) == nil, !s.hasPrefix("---") { return false }
            return true
        }
        if s.contains(": ") || s.contains(" #") || s.contains("\t") { return true }
        let lower = s.lowercased()
        if ["null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"].contains(lower) { return true }
        if Double(s) != nil || s.hasPrefix(".") || Int(s, radix: 16) != nil && s.hasPrefix("0x") { return true }
        // Dates and times (YAML 1.1 timestamps), and anything numeric-looking such as 1_000 or 1:30.
        if first.isNumber && s.allSatisfy({ $0.isNumber || "-:._+TZtz ".contains($0) }) { return true }
        return false
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
