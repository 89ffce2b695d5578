/// Writes a `JSONValue` as block-style YAML, the way `kubectl` (key order kept) and `gcloud …
/// --format yaml` (keys sorted) print resources: lists as `- ` items at their key's indentation,
/// strings quoted only when YAML would read them as something else. `YAMLParser` reads the output
/// back to the same value.
extension JSONValue {
    /// Block YAML with the mappings' keys in their order.
    public func yamlSerialized() -> String {
        var out = ""
        YAMLWriter.write(self, indent: 0, into: &out, inline: false)
        return out.hasSuffix("\n") ? out : out + "\n"
    }

    /// The same value with every mapping's keys sorted (gcloud's order).
    public var sortingKeys: JSONValue {
        switch self {
        case .object(let fields): return .object(fields.sorted { $0.0 < $1.0 }.map { ($0.0, $0.1.sortingKeys) })
        case .array(let items): return .array(items.map(\.sortingKeys))
        default: return self
        }
    }
}

public enum YAMLWriter {
    /// Block YAML as gcloud prints a resource: keys sorted.
    public static func write(_ value: JSONValue) -> String { value.sortingKeys.yamlSerialized() }

    static func write(_ v: JSONValue, indent: Int, into out: inout String, inline: Bool) {
        let pad = String(repeating: " ", count: indent)
        switch v {
        case .object(let entries) where !entries.isEmpty:
            var first = true
            for (key, value) in entries {
                if !(inline && first) { out += pad }
                first = false
                out += scalar(.string(key)) + ":"
                switch value {
                case .object(let e) where !e.isEmpty:
                    out += "\n"
                    write(value, indent: indent + 2, into: &out, inline: false)
                case .array(let a) where !a.isEmpty:
                    out += "\n"
                    write(value, indent: indent, into: &out, inline: false)
                default:
                    out += " " + scalar(value) + "\n"
                }
            }
        case .array(let items) where !items.isEmpty:
            for item in items {
                out += pad + "- "
                switch item {
                case .object(let e) where !e.isEmpty:
                    write(item, indent: indent + 2, into: &out, inline: true)
                case .array(let a) where !a.isEmpty:
                    out += "\n"
                    write(item, indent: indent + 2, into: &out, inline: false)
                default:
                    out += scalar(item) + "\n"
                }
            }
        default:
            out += (inline ? "" : pad) + scalar(v) + "\n"
        }
    }

    /// A scalar (or an empty collection) on one line.
    static func scalar(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number: return v.serialized()
        case .array: return "[]"
        case .object: return "{}"
        case .string(let s):
            return needsQuotes(s) ? quoted(s) : s
        }
    }

    static func needsQuotes(_ s: String) -> Bool {
        if s.isEmpty { return true }
        // YAML 1.1 readers (PyYAML, gcloud) take these as booleans, and digit-led text as numbers
        // or timestamps: quote them for every reader, as gcloud does.
        if ["y", "n", "yes", "no", "on", "off"].contains(s.lowercased()) { return true }
        if let f = s.first, f.isASCII && (f.isNumber || f == "." || f == "+") { return true }
        // Anything the reader would type differently, or that carries YAML syntax.
        if let parsed = try? YAMLScanner.plainScalar(Substring(s), line: .init(number: 0, indent: 0, text: "", raw: ""), column: 0), parsed != .string(s) {
            return true
        }
        if (try? YAMLScanner.plainScalar(Substring(s), line: .init(number: 0, indent: 0, text: "", raw: ""), column: 0)) == nil { return true }
        guard let first = s.first, let last = s.last else { return true }
        if ",[]{}#&*!|>'\"%@` ".contains(first) || last == " " || last == ":" { return true }
        // `-`, `?` and `:` start an indicator only when a space or the end follows.
        if "-?:".contains(first) && (s.count == 1 || s.dropFirst().first == " ") { return true }
        if s.contains(": ") || s.contains(" #") || s.contains("\n") || s.contains("\t") || s.contains("\r") { return true }
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return true }
        return false
    }

    /// Single quotes (a quote doubled) unless the text holds a line break or a control character,
    /// which only double quotes can escape.
    static func quoted(_ s: String) -> String {
        if !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            var out = "'"
            for c in s { out += c == "'" ? "''" : String(c) }
            return out + "'"
        }
        // A JSON string is a YAML double-quoted scalar: its escapes are YAML's too.
        var out = ""
        JSONValue.writeString(s, to: &out)
        return out
    }
}
