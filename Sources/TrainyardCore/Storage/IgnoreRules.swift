/// `.gcloudignore` / `.gitignore` rules: which files of a package stay out of it.
///
/// Supports what those files use: blank lines and `#` comments; `!` to re-include; a trailing `/`
/// for folders only; a `/` at the start or in the middle anchors the pattern at the package root
/// (otherwise it matches at any depth); `*`, `?`, `[…]` within a name, `**` across folders; and
/// gcloud's `#!include:.gitignore`. The last matching rule wins. Pure: the caller reads the files.
public struct IgnoreRules: Sendable, Equatable {
    struct Rule: Sendable, Equatable {
        var pattern: [Substring]
        var negated: Bool
        var directoryOnly: Bool
        var anchored: Bool
    }

    private var rules: [Rule] = []

    public init() {}

    /// Parses a rules file. `include` resolves `#!include:FILE` lines (gcloudignore) to their text.
    public init(parsing text: String, include: (String) -> String? = { _ in nil }) {
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            var line = raw
            if line.last == "\r" { line = line.dropLast() }
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
            rules.append(Rule(pattern: line.split(separator: "/"), negated: negated, directoryOnly: directoryOnly, anchored: anchored))
        }
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Whether the file or folder at `path` (relative to the package root, `/`-separated) is ignored.
    /// A file inside an ignored folder is ignored too (as git does, a later `!` cannot bring it back).
    public func ignores(_ path: String, isDirectory: Bool) -> Bool {
        let parts = path.split(separator: "/")
        for depth in 1..<max(1, parts.count) {
            if decide(Array(parts.prefix(depth)), isDirectory: true) { return true }
        }
        return decide(parts, isDirectory: isDirectory)
    }

    private func decide(_ parts: [Substring], isDirectory: Bool) -> Bool {
        var ignored = false
        for rule in rules where !(rule.directoryOnly && !isDirectory) {
            let hit = rule.anchored
                ? IgnoreRules.match(rule.pattern[...], parts[...])
                : parts.indices.contains { IgnoreRules.match(rule.pattern[...], parts[$0...]) && (rule.pattern.count > 1 || $0 == parts.count - 1) }
            if hit { ignored = !rule.negated }
        }
        return ignored
    }

    /// Whole-path match of pattern segments against path segments (`**` spans any number).
    static func match(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            return (path.startIndex...path.endIndex).contains { match(rest, path[$0...]) }
        }
        guard let name = path.first, glob(Array(head), Array(name)) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
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
