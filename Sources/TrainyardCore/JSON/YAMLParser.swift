/// A reader for the YAML that cloud job specs are written in, into the same `JSONValue` tree the
/// JSON reader makes (key order kept), so every spec file may be YAML or JSON.
///
/// Supported: block mappings and sequences (a sequence may sit at its key's indentation, as
/// `kubectl` and Azure write it), flow mappings and sequences (`{a: 1}`, `[1, 2]`, across lines),
/// plain, single- and double-quoted scalars, literal (`|`) and folded (`>`) block scalars with
/// chomping (`-`, `+`) and an indentation indicator, comments, `---` and `...` around one document.
/// Plain scalars are typed by YAML 1.2's core schema: null, booleans, integers (also `0x`, `0o`),
/// floats; everything else is a string. Refused with a clear error: anchors and aliases (`&`,
/// `*`), tags (`!`), several documents, duplicate keys, tabs in indentation, and `.inf`/`.nan`
/// (no spec value may be infinite). Errors give the line and column.
public struct YAMLParser {
    public struct SyntaxError: Error, CustomStringConvertible, Equatable {
        public var line: Int
        public var column: Int
        public var reason: String
        public var description: String { "not valid YAML at line \(line), column \(column): \(reason)" }
    }

    /// One line of the document: its number, indentation and text without the indentation and
    /// without a trailing comment (for lines that are not inside a block scalar).
    struct Line {
        var number: Int
        var indent: Int
        /// The text after the indentation, comment removed, trailing spaces trimmed.
        var text: Substring
        /// The text after the indentation, as written (block scalars keep `#`).
        var raw: Substring
    }

    private var lines: [Line] = []
    private var index = 0
    private var depth = 0
    private static let maxDepth = 256

    /// Parses one YAML document. An empty document is `null`.
    public static func parse(_ text: String) throws(SyntaxError) -> JSONValue {
        var parser = YAMLParser()
        try parser.split(text)
        parser.skipBlank()
        guard parser.index < parser.lines.count else { return .null }
        let value = try parser.parseNode(parentIndent: -1)
        parser.skipBlank()
        if parser.index < parser.lines.count {
            let line = parser.lines[parser.index]
            if line.text == "---" { throw SyntaxError(line: line.number, column: 1, reason: "a second document: a spec file holds one") }
            throw SyntaxError(line: line.number, column: line.indent + 1, reason: "unexpected text at this indentation")
        }
        return value
    }

    /// Whether `text` looks like JSON rather than YAML (its first non-space character opens an
    /// object or array and it has no YAML document marker).
    public static func looksLikeJSON(_ text: String) -> Bool {
        for c in text.unicodeScalars where !(c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{FEFF}") {
            return c == "{" || c == "["
        }
        return false
    }

    // MARK: Lines

    private mutating func split(_ text: String) throws(SyntaxError) {
        var body = Substring(text)
        if body.first == "\u{FEFF}" { body = body.dropFirst() }
        var number = 0
        var sawStart = false
        var ended = false
        // "\r\n" is one Character in Swift: split on it as well as on "\n".
        for piece in body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            var raw = piece
            if raw.last == "\r" { raw = raw.dropLast() }
            var indent = 0
            while let c = raw.first, c == " " { raw = raw.dropFirst(); indent += 1 }
            if raw.first == "\t" && !stripComment(raw).isEmpty {
                throw SyntaxError(line: number, column: indent + 1, reason: "a tab in the indentation (YAML indents with spaces)")
            }
            if indent == 0 && (raw == "---" || raw.hasPrefix("--- ") || raw.hasPrefix("---\t")) {
                if sawStart || lines.contains(where: { !$0.text.isEmpty }) {
                    throw SyntaxError(line: number, column: 1, reason: "a second document: a spec file holds one")
                }
                sawStart = true
                let rest = raw.dropFirst(3).drop { $0 == " " }
                if !stripComment(rest).isEmpty {
                    throw SyntaxError(line: number, column: 5, reason: "content on the `---` line is not supported: start it on the next line")
                }
                lines.append(Line(number: number, indent: 0, text: "", raw: ""))
                continue
            }
            if indent == 0 && raw.hasPrefix("%") && lines.allSatisfy({ $0.text.isEmpty }) {
                throw SyntaxError(line: number, column: 1, reason: "directives (%YAML, %TAG) are not supported")
            }
            if indent == 0 && raw == "..." { ended = true; continue }
            if ended && !stripComment(raw).isEmpty {
                throw SyntaxError(line: number, column: indent + 1, reason: "text after the end of the document (`...`)")
            }
            lines.append(Line(number: number, indent: indent, text: trimTrailing(stripComment(raw)), raw: raw))
        }
    }

    /// The text before a comment: `#` at the start or after a space, outside quotes.
    private func stripComment(_ s: Substring) -> Substring {
        var inSingle = false, inDouble = false, escaped = false
        var previous: Character = " "
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if inDouble {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inDouble = false }
            } else if inSingle {
                if c == "'" { inSingle = false }
            } else if c == "#" && (previous == " " || previous == "\t") {
                return s[..<i]
            } else if c == "\"" && (previous == " " || previous == "[" || previous == "{" || previous == "," || previous == ":" || previous == "-" || i == s.startIndex) {
                inDouble = true
            } else if c == "'" && (previous == " " || previous == "[" || previous == "{" || previous == "," || previous == ":" || previous == "-" || i == s.startIndex) {
                inSingle = true
            }
            previous = c
            i = s.index(after: i)
        }
        return s
    }

    private func trimTrailing(_ s: Substring) -> Substring {
        var s = s
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }

    private mutating func skipBlank() {
        while index < lines.count && lines[index].text.isEmpty { index += 1 }
    }

    private func fail(_ line: Line, _ column: Int, _ reason: String) -> SyntaxError {
        SyntaxError(line: line.number, column: column, reason: reason)
    }

    // MARK: Block structure

    /// The node starting at the current line, which must be indented more than `parentIndent`.
    private mutating func parseNode(parentIndent: Int) throws(SyntaxError) -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        skipBlank()
        guard index < lines.count else { return .null }
        let line = lines[index]
        guard depth < YAMLParser.maxDepth else { throw fail(line, line.indent + 1, "nested too deeply") }
        if isSequenceItem(line.text) { return try parseSequence(indent: line.indent) }
        if try mappingKey(line) != nil { return try parseMapping(indent: line.indent) }
        // A scalar or a flow collection standing alone.
        index += 1
        return try inlineValue(line.text, line: line, column: line.indent + 1, parentIndent: parentIndent)
    }

    private func isSequenceItem(_ text: Substring) -> Bool {
        text == "-" || text.hasPrefix("- ")
    }

    /// `(key, rest after ": ", column of rest)` when the line is a mapping entry.
    private func mappingKey(_ line: Line) throws(SyntaxError) -> (key: String, rest: Substring, restColumn: Int)? {
        try mappingKey(text: line.text, line: line, column: line.indent + 1)
    }

    private func mappingKey(text: Substring, line: Line, column: Int) throws(SyntaxError) -> (key: String, rest: Substring, restColumn: Int)? {
        guard let first = text.first else { return nil }
        var key: String
        var after: Substring
        if first == "\"" || first == "'" {
            var scanner = YAMLScanner(text: text, line: line, column: column)
            guard let quoted = try? scanner.quoted() else { return nil }
            key = quoted
            after = scanner.rest.drop { $0 == " " }
            guard after.first == ":" else { return nil }
            after = after.dropFirst()
        } else {
            if "[{&*!|>%@`".contains(first) || first == "-" && text.dropFirst().first == " " { return nil }
            // The first ": " (or a ":" ending the line) outside a flow collection.
            var i = text.startIndex
            var found: String.Index?
            while i < text.endIndex {
                if text[i] == ":" {
                    let next = text.index(after: i)
                    if next == text.endIndex || text[next] == " " { found = i; break }
                }
                i = text.index(after: i)
            }
            guard let colon = found else { return nil }
            key = String(trimTrailing(text[..<colon]))
            after = text[text.index(after: colon)...]
            if key.isEmpty { return nil }
        }
        if first != "\"" && first != "'" && (key.hasPrefix("&") || key.hasPrefix("*") || key.hasPrefix("!")) {
            throw fail(line, column, "anchors, aliases and tags are not supported")
        }
        let spaces = after.prefix { $0 == " " }.count
        let rest = after.dropFirst(spaces)
        let restColumn = column + (text.count - rest.count)
        return (key, rest, restColumn)
    }

    private mutating func parseMapping(indent: Int) throws(SyntaxError) -> JSONValue {
        var entries: [(String, JSONValue)] = []
        var seen = Set<String>()
        while true {
            skipBlank()
            guard index < lines.count else { break }
            let line = lines[index]
            if line.indent < indent { break }
            guard line.indent == indent else { throw fail(line, line.indent + 1, "unexpected indentation (the mapping above is at column \(indent + 1))") }
            if isSequenceItem(line.text) { throw fail(line, line.indent + 1, "a list item where a key of the mapping was expected") }
            guard let (key, rest, restColumn) = try mappingKey(line) else {
                throw fail(line, line.indent + 1, "expected `key: value` in the mapping")
            }
            guard seen.insert(key).inserted else { throw fail(line, line.indent + 1, "duplicate key \"\(key)\"") }
            index += 1
            let value: JSONValue
            if rest.isEmpty {
                // The value is the block below: more indented, or a sequence at the key's column.
                skipBlank()
                if index < lines.count, lines[index].indent > indent || (lines[index].indent == indent && isSequenceItem(lines[index].text)) {
                    value = try parseNode(parentIndent: lines[index].indent == indent ? indent - 1 : indent)
                } else {
                    value = .null
                }
            } else {
                value = try inlineValue(rest, line: line, column: restColumn, parentIndent: indent)
            }
            entries.append((key, value))
        }
        return .object(entries)
    }

    private mutating func parseSequence(indent: Int) throws(SyntaxError) -> JSONValue {
        var items: [JSONValue] = []
        while true {
            skipBlank()
            guard index < lines.count else { break }
            let line = lines[index]
            if line.indent < indent || (line.indent == indent && !isSequenceItem(line.text)) { break }
            guard line.indent == indent else { throw fail(line, line.indent + 1, "unexpected indentation (the list above is at column \(indent + 1))") }
            let after = line.text.dropFirst()
            let spaces = after.prefix { $0 == " " }.count
            let content = after.dropFirst(spaces)
            if content.isEmpty {
                index += 1
                skipBlank()
                if index < lines.count && lines[index].indent > indent {
                    items.append(try parseNode(parentIndent: indent))
                } else {
                    items.append(.null)
                }
                continue
            }
            // The item's content behaves as if it started its own line at its column.
            let column = indent + 1 + spaces
            let nested = Line(number: line.number, indent: column, text: content, raw: line.raw.dropFirst(1 + spaces))
            lines[index] = nested
            items.append(try parseNode(parentIndent: indent))
        }
        return .array(items)
    }

    /// A value given after `key: ` or `- `: a block scalar, a flow collection (which may go on
    /// over the next lines), or a scalar (a plain one may go on over more-indented lines).
    private mutating func inlineValue(_ text: Substring, line: Line, column: Int, parentIndent: Int) throws(SyntaxError) -> JSONValue {
        guard let first = text.first else { return .null }
        if first == "&" || first == "*" || first == "!" {
            throw fail(line, column, "anchors, aliases and tags are not supported: write the value out")
        }
        if first == "|" || first == ">" {
            return .string(try blockScalar(header: text, line: line, column: column, parentIndent: parentIndent))
        }
        if first == "[" || first == "{" {
            // Gather lines until the collection closes.
            var source = String(text)
            var positions = [(offset: 0, line: line.number, column: column)]
            while true {
                var scanner = YAMLScanner(text: Substring(source), line: line, column: column, positions: positions)
                do throws(SyntaxError) {
                    let value = try scanner.flowValue(depth: depth)
                    scanner.skipSpaces()
                    guard scanner.rest.isEmpty else { throw scanner.error("unexpected text after the closing bracket") }
                    return value
                } catch let e where e.reason == YAMLScanner.unterminated {
                    guard index < lines.count else { throw fail(line, column, "the \(first == "[" ? "[ list" : "{ mapping") is never closed") }
                    let next = lines[index]
                    index += 1
                    positions.append((source.utf8.count + 1, next.number, next.indent + 1))
                    source += " " + next.text
                }
            }
        }
        if first == "\"" || first == "'" {
            // A quoted scalar may continue over following lines.
            var source = String(text)
            while true {
                var scanner = YAMLScanner(text: Substring(source), line: line, column: column)
                do throws(SyntaxError) {
                    let s = try scanner.quoted()
                    scanner.skipSpaces()
                    guard scanner.rest.isEmpty else { throw scanner.error("unexpected text after the closing quote") }
                    return .string(s)
                } catch let e where e.reason == YAMLScanner.unterminated {
                    guard index < lines.count else { throw fail(line, column, "the quoted string is never closed") }
                    let next = lines[index]
                    index += 1
                    source += next.raw.isEmpty ? "\n" : " " + trimTrailing(next.raw)
                }
            }
        }
        // A plain scalar; continuation lines are more indented than the parent and not entries.
        var words = String(text)
        while index < lines.count {
            let next = lines[index]
            if next.text.isEmpty {
                // A blank line inside a multi-line plain scalar is a line break; at its end, nothing.
                var j = index
                while j < lines.count && lines[j].text.isEmpty { j += 1 }
                guard j < lines.count, lines[j].indent > parentIndent, !(try continuesAsEntry(lines[j])) else { break }
                words += "\n"
                index = j
                continue
            }
            guard next.indent > parentIndent, !(try continuesAsEntry(next)) else { break }
            words += (words.last == "\n" ? "" : " ") + next.text
            index += 1
        }
        return try YAMLScanner.plainScalar(Substring(words), line: line, column: column)
    }

    private func continuesAsEntry(_ line: Line) throws(SyntaxError) -> Bool {
        if isSequenceItem(line.text) { return true }
        return try mappingKey(line) != nil
    }

    /// A literal (`|`) or folded (`>`) block scalar: its header, then the lines indented more than
    /// the parent.
    private mutating func blockScalar(header: Substring, line: Line, column: Int, parentIndent: Int) throws(SyntaxError) -> String {
        let folded = header.first == ">"
        var chomp: Character = "c"  // clip
        var explicitIndent: Int?
        for c in header.dropFirst() {
            if c == "-" || c == "+" { chomp = c } else if let d = c.wholeNumberValue, d > 0 { explicitIndent = d } else if c == " " { break } else {
                throw fail(line, column, "a block scalar header is | or > with an optional - or + and indentation digit, got \"\(header)\"")
            }
        }
        // Lines belonging to the scalar: blank ones, and those indented more than the parent.
        var body: [(indent: Int, raw: Substring, blank: Bool)] = []
        while index < lines.count {
            let l = lines[index]
            let blank = l.raw.allSatisfy { $0 == " " || $0 == "\t" }
            if !blank && l.indent <= max(parentIndent, -1) { break }
            body.append((l.indent, l.raw, blank))
            index += 1
        }
        // Trailing blank lines are kept only by `+`.
        var trailingBlank = 0
        while let last = body.last, last.blank { body.removeLast(); trailingBlank += 1 }
        if body.isEmpty { return chomp == "+" ? String(repeating: "\n", count: trailingBlank) : "" }
        let indent = explicitIndent.map { max(0, parentIndent) + $0 } ?? body.first { !$0.blank }!.indent
        var out = ""
        var previousMoreIndented = false
        for (i, l) in body.enumerated() {
            if l.blank {
                out += "\n"
                continue
            }
            guard l.indent >= indent else {
                throw SyntaxError(line: line.number + i + 1, column: l.indent + 1, reason: "a line of the block scalar is indented less than its first line")
            }
            let text = String(repeating: " ", count: l.indent - indent) + l.raw
            if i > 0 {
                if folded {
                    let moreIndented = l.indent > indent
                    if out.last == "\n" || moreIndented || previousMoreIndented { if out.last != "\n" { out += "\n" } } else { out += " " }
                    previousMoreIndented = moreIndented
                } else {
                    out += "\n"
                }
            } else {
                previousMoreIndented = l.indent > indent
            }
            out += text
        }
        switch chomp {
        case "-": return out
        case "+": return out + "\n" + String(repeating: "\n", count: trailingBlank)
        default: return out + "\n"
        }
    }
}

/// Spec files: JSON or YAML, told apart by content, found in folders by these extensions.
public enum SpecFile {
    public static let extensions = [".json", ".yaml", ".yml"]
    public static func isSpec(_ name: String) -> Bool { extensions.contains { name.hasSuffix($0) } }
}

/// Reads flow collections and scalars within one logical line.
struct YAMLScanner {
    static let unterminated = "unterminated"
    var rest: Substring
    let start: Substring
    let line: YAMLParser.Line
    let column: Int
    /// Where each joined source line starts (UTF-8 offset), for error positions.
    var positions: [(offset: Int, line: Int, column: Int)]

    init(text: Substring, line: YAMLParser.Line, column: Int, positions: [(offset: Int, line: Int, column: Int)]? = nil) {
        rest = text
        start = text
        self.line = line
        self.column = column
        self.positions = positions ?? [(0, line.number, column)]
    }

    func error(_ reason: String) -> YAMLParser.SyntaxError {
        let offset = start.utf8.count - rest.utf8.count
        let p = positions.last { $0.offset <= offset } ?? positions[0]
        return YAMLParser.SyntaxError(line: p.line, column: p.column + offset - p.offset, reason: reason)
    }

    mutating func skipSpaces() { rest = rest.drop { $0 == " " || $0 == "\t" } }

    mutating func flowValue(depth: Int) throws(YAMLParser.SyntaxError) -> JSONValue {
        guard depth < 256 else { throw error("nested too deeply") }
        skipSpaces()
        guard let c = rest.first else { throw error(YAMLScanner.unterminated) }
        switch c {
        case "[":
            rest = rest.dropFirst()
            var items: [JSONValue] = []
            while true {
                skipSpaces()
                guard let d = rest.first else { throw error(YAMLScanner.unterminated) }
                if d == "]" { rest = rest.dropFirst(); return .array(items) }
                items.append(try flowValue(depth: depth + 1))
                skipSpaces()
                guard let e = rest.first else { throw error(YAMLScanner.unterminated) }
                if e == "," { rest = rest.dropFirst(); continue }
                if e == "]" { rest = rest.dropFirst(); return .array(items) }
                throw error("expected , or ] in the list")
            }
        case "{":
            rest = rest.dropFirst()
            var entries: [(String, JSONValue)] = []
            var seen = Set<String>()
            while true {
                skipSpaces()
                guard let d = rest.first else { throw error(YAMLScanner.unterminated) }
                if d == "}" { rest = rest.dropFirst(); return .object(entries) }
                let keyError = error("a key")
                let key: String
                if d == "\"" || d == "'" {
                    key = try quoted()
                } else {
                    let k = rest.prefix { $0 != ":" && $0 != "," && $0 != "}" }
                    key = String(k.reversed().drop { $0 == " " }.reversed())
                    rest = rest.dropFirst(k.count)
                }
                guard !key.isEmpty else { throw keyError }
                guard seen.insert(key).inserted else { throw YAMLParser.SyntaxError(line: keyError.line, column: keyError.column, reason: "duplicate key \"\(key)\"") }
                skipSpaces()
                var value = JSONValue.null
                if rest.first == ":" {
                    rest = rest.dropFirst()
                    skipSpaces()
                    if let e = rest.first, e != "," && e != "}" { value = try flowValue(depth: depth + 1) }
                }
                entries.append((key, value))
                skipSpaces()
                guard let e = rest.first else { throw error(YAMLScanner.unterminated) }
                if e == "," { rest = rest.dropFirst(); continue }
                if e == "}" { rest = rest.dropFirst(); return .object(entries) }
                throw error("expected , or } in the mapping")
            }
        case "\"", "'":
            return .string(try quoted())
        case "&", "*", "!":
            throw error("anchors, aliases and tags are not supported: write the value out")
        case "]", "}", ",":
            throw error("unexpected \"\(c)\"")
        default:
            let plain = rest.prefix { $0 != "," && $0 != "]" && $0 != "}" }
            let at = error("")
            rest = rest.dropFirst(plain.count)
            let text = plain.reversed().drop { $0 == " " }.reversed()
            return try YAMLScanner.plainScalar(Substring(String(text)), line: line, column: at.column, lineNumber: at.line)
        }
    }

    /// A single- or double-quoted scalar at the start of `rest`.
    mutating func quoted() throws(YAMLParser.SyntaxError) -> String {
        guard let q = rest.first, q == "\"" || q == "'" else { throw error("expected a quote") }
        rest = rest.dropFirst()
        var out = ""
        while let c = rest.first {
            rest = rest.dropFirst()
            if q == "'" {
                if c == "'" {
                    if rest.first == "'" { out.append("'"); rest = rest.dropFirst(); continue }
                    return out
                }
                out.append(c)
                continue
            }
            if c == "\"" { return out }
            guard c == "\\" else { out.append(c); continue }
            guard let e = rest.first else { throw error(YAMLScanner.unterminated) }
            rest = rest.dropFirst()
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "0": out.append("\0")
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "/": out.append("/")
            case " ": out.append(" ")
            case "u", "x", "U":
                let n = e == "x" ? 2 : (e == "u" ? 4 : 8)
                let hex = rest.prefix(n)
                guard hex.count == n, let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else { throw error("a bad \\\(e) escape") }
                out.unicodeScalars.append(scalar)
                rest = rest.dropFirst(n)
            default: throw error("an unknown escape \\\(e)")
            }
        }
        throw error(YAMLScanner.unterminated)
    }

    /// A plain scalar typed by YAML 1.2's core schema.
    static func plainScalar(_ text: Substring, line: YAMLParser.Line, column: Int, lineNumber: Int? = nil) throws(YAMLParser.SyntaxError) -> JSONValue {
        let s = String(text)
        func fail(_ r: String) -> YAMLParser.SyntaxError { YAMLParser.SyntaxError(line: lineNumber ?? line.number, column: column, reason: r) }
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
            throw fail("\(s) is not a finite number: spec values must be finite")
        default: break
        }
        if let first = s.first, first == "&" || first == "*" || first == "!" {
            throw fail("anchors, aliases and tags are not supported: write the value out")
        }
        if s.hasPrefix("0x"), let v = Int(s.dropFirst(2), radix: 16) { return .number(Double(v)) }
        if s.hasPrefix("0o"), let v = Int(s.dropFirst(2), radix: 8) { return .number(Double(v)) }
        if isNumber(s) {
            guard let d = Double(s), d.isFinite else { throw fail("\(s) is out of range") }
            return .number(d)
        }
        return .string(s)
    }

    /// `[-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
    static func isNumber(_ s: String) -> Bool {
        var u = Substring(s)
        if u.first == "-" || u.first == "+" { u = u.dropFirst() }
        let intDigits = u.prefix { $0.isASCII && $0.isNumber }
        u = u.dropFirst(intDigits.count)
        var fracDigits = 0
        if u.first == "." {
            u = u.dropFirst()
            let f = u.prefix { $0.isASCII && $0.isNumber }
            fracDigits = f.count
            u = u.dropFirst(f.count)
        }
        guard intDigits.count + fracDigits > 0 else { return false }
        if u.first == "e" || u.first == "E" {
            u = u.dropFirst()
            if u.first == "-" || u.first == "+" { u = u.dropFirst() }
            let e = u.prefix { $0.isASCII && $0.isNumber }
            guard !e.isEmpty else { return false }
            u = u.dropFirst(e.count)
        }
        return u.isEmpty
    }
}
