/// `.gcloudignore` / `.gitignore` rules: which files of a package stay out of it.
///
/// Supports what those files use: blank lines and `#` comments; `!` to re-include; a trailing `/`
/// for folders only; a `/` at the start or in the middle anchors the pattern at the package root
/// (otherwise it matches at any depth); `*`, `?`, `[…]` within a name, `**` across folders; and
/// gcloud's `#!include:.gitignore`. The last matching rule wins. Pure: the caller reads the files.
public struct IgnoreRules: Sendable, Equatable {
    /// One segment of a compiled pattern: `**` (any number of folders), a plain name, or a glob.
    enum Segment: Sendable, Equatable {
        case anyFolders
        case name(Substring)
        case glob([Character])

        init(_ text: Substring) {
            if text == "**" { self = .anyFolders }
            else if text.contains(where: { "*?[\\".contains($0) }) { self = .glob(Array(text)) }
            else { self = .name(text) }
        }

        func matches(_ name: Substring) -> Bool {
            switch self {
            case .anyFolders: return true
            case .name(let n): return n == name
            case .glob(let p): return IgnoreRules.glob(p, Array(name))
            }
        }
    }

    /// A rule compiled to its segments. A pattern that matches at any depth starts with `**`, so
    /// every rule is matched against the whole path the same way.
    struct Rule: Sendable, Equatable {
        var segments: [Segment]
        var negated: Bool
        var directoryOnly: Bool
    }

    private var rules: [Rule] = []

    public init() {}

    /// Parses a rules file. `include` resolves `#!include:FILE` lines (gcloudignore) to their text.
    /// Lines may end in LF, CRLF or CR alike.
    public init(parsing text: String, include: (String) -> String? = { _ in nil }) {
        // "\r\n" is one Character in Swift, so a split on "\n" alone would keep CRLF files in one line.
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            var line = raw
            if line.hasPrefix("#!include:") {
                if let included = include(String(line.dropFirst("#!include:".count)).trimmedSpaces) {
                    rules += IgnoreRules(parsing: included).rules
                }
                continue
            }
            if line.hasPrefix("#") { continue }
            while line.last == " " && !line.hasSuffix("\\ ") { line = line.dropLast() }
            if line.isEmpty { continue }
            var negated = false
            if line.hasPrefix("!") { negated = true; line = line.dropFirst() }
            if line.hasPrefix("\\") { line = line.dropFirst() }
            var directoryOnly = false
            if line.hasSuffix("/") { directoryOnly = true; line = line.dropLast() }
            var anchored = line.dropLast().contains("/")
            if line.hasPrefix("/") { anchored = true; line = line.dropFirst() }
            guard !line.isEmpty else { continue }
            var segments: [Segment] = []
            for part in line.split(separator: "/") {
                let segment = Segment(part)
                // `a/**/**/b` is `a/**/b`: consecutive `**` add nothing.
                if segment == .anyFolders && segments.last == .anyFolders { continue }
                segments.append(segment)
            }
            if !anchored && segments.first != .anyFolders { segments.insert(.anyFolders, at: 0) }
            rules.append(Rule(segments: segments, negated: negated, directoryOnly: directoryOnly))
        }
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Whether the file or folder at `path` (relative to the package root, `/`-separated) is ignored.
    /// A file inside an ignored folder is ignored too (as git does, a later `!` cannot bring it back).
    ///
    /// Time: at most (rules × pattern segments × path segments²) segment comparisons, whatever
    /// the patterns; no backtracking.
    public func ignores(_ path: String, isDirectory: Bool) -> Bool {
        let parts = path.split(separator: "/")
        for depth in 1..<max(1, parts.count) {
            if decide(parts[..<depth], isDirectory: true) { return true }
        }
        return decide(parts[...], isDirectory: isDirectory)
    }

    private func decide(_ parts: ArraySlice<Substring>, isDirectory: Bool) -> Bool {
        var ignored = false
        for rule in rules where !(rule.directoryOnly && !isDirectory) {
            if IgnoreRules.match(rule.segments, parts) { ignored = !rule.negated }
        }
        return ignored
    }

    /// Whole-path match of pattern segments against path segments (`**` spans any number), as a
    /// simulation of the pattern's automaton: the set of pattern positions reachable after each
    /// path segment. Linear in the path's length for a given pattern.
    static func match(_ pattern: [Segment], _ path: ArraySlice<Substring>) -> Bool {
        var states = [Bool](repeating: false, count: pattern.count + 1)
        var next = states
        func close(_ s: inout [Bool]) {
            // `**` may also match no folder at all: its position reaches the next one.
            for i in 0..<pattern.count where s[i] && pattern[i] == .anyFolders { s[i + 1] = true }
        }
        states[0] = true
        close(&states)
        for name in path {
            for i in next.indices { next[i] = false }
            var any = false
            for i in 0..<pattern.count where states[i] {
                switch pattern[i] {
                case .anyFolders: next[i] = true; any = true
                default: if pattern[i].matches(name) { next[i + 1] = true; any = true }
                }
            }
            guard any else { return false }
            close(&next)
            swap(&states, &next)
        }
        return states[pattern.count]
    }

    /// `*`, `?` and `[abc]`/`[a-z]`/`[!x]` within one name.
    static func glob(_ p: [Character], _ s: [Character]) -> Bool {
        var pi = 0, si = 0, star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == "*" { star = pi; mark = si; pi += 1; continue }
            if pi < p.count, let (matched, next) = single(p, pi, s[si]), matched { pi = next; si += 1; continue }
            if star >= 0 { pi = star + 1; mark += 1; si = mark; continue }
            return false
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    private static func single(_ p: [Character], _ i: Int, _ c: Character) -> (Bool, Int)? {
        switch p[i] {
        case "?": return (true, i + 1)
        case "[":
            guard let close = p[(i + 1)...].firstIndex(of: "]") else { return (c == "[", i + 1) }
            var set = Array(p[(i + 1)..<close])
            var negate = false
            if set.first == "!" || set.first == "^" { negate = true; set.removeFirst() }
            var hit = false
            var k = 0
            while k < set.count {
                if k + 2 < set.count, set[k + 1] == "-" {
                    if set[k] <= c && c <= set[k + 2] { hit = true }
                    k += 3
                } else {
                    if set[k] == c { hit = true }
                    k += 1
                }
            }
            return (hit != negate, close + 1)
        case "\\" where i + 1 < p.count: return (p[i + 1] == c, i + 2)
        default: return (p[i] == c, i + 1)
        }
    }
}

extension StringProtocol {
    var trimmedSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
