/// A command line being read: each command takes the options it knows, then `finish()` rejects
/// whatever is left, naming it (with a suggestion when it looks like a typo).
///
/// Accepts `--name value` and `--name=value`; everything after a bare `--` is kept for the user
/// program (`passthrough`). A short flag (`-r`: a dash and a letter) is an option, never a
/// positional; a bare `-` (standard input) and a negative number are positionals.
public struct Arguments: Sendable {
    public private(set) var items: [String]
    public let passthrough: [String]
    private var known: [String] = []

    public init(_ argv: [String]) {
        if let dash = argv.firstIndex(of: "--") {
            items = Array(argv[..<dash])
            passthrough = Array(argv[(dash + 1)...])
        } else {
            items = argv
            passthrough = []
        }
    }

    public var isEmpty: Bool { items.isEmpty }

    /// Removes and returns the value of `--name`, or nil when it is absent. The last one wins.
    public mutating func value(_ name: String) throws(UsageError) -> String? {
        known.append(name)
        var result: String?
        var i = 0
        while i < items.count {
            let item = items[i]
            if item == name {
                result = try Arguments.valueAfter(name, in: items, at: i)
                items.removeSubrange(i...(i + 1))
            } else if item.hasPrefix(name + "=") {
                result = String(item.dropFirst(name.count + 1))
                items.remove(at: i)
            } else {
                i += 1
            }
        }
        return result
    }

    /// The word after `--name` at `i`, which must not itself be an option: `--job-dir --verbose` is a
    /// forgotten value, not a folder named "--verbose" (write `--job-dir=--verbose` for that).
    private static func valueAfter(_ name: String, in items: [String], at i: Int) throws(UsageError) -> String {
        guard i + 1 < items.count else { throw UsageError("\(name) needs a value") }
        let next = items[i + 1]
        if isOption(next) {
            throw UsageError("\(name) needs a value, but the next word is the option \(next) (write \(name)=VALUE for a value that starts with a dash)")
        }
        return next
    }

    /// Removes and returns every value of a repeatable option, in order.
    public mutating func values(_ name: String) throws(UsageError) -> [String] {
        known.append(name)
        var result: [String] = []
        var i = 0
        while i < items.count {
            if items[i] == name {
                result.append(try Arguments.valueAfter(name, in: items, at: i))
                items.removeSubrange(i...(i + 1))
            } else if items[i].hasPrefix(name + "=") {
                result.append(String(items[i].dropFirst(name.count + 1)))
                items.remove(at: i)
            } else {
                i += 1
            }
        }
        return result
    }

    /// Removes `--name` and reports whether it was there. `--name=false` and `--name=true` work too.
    public mutating func flag(_ name: String) throws(UsageError) -> Bool {
        known.append(name)
        var present = false
        var i = 0
        while i < items.count {
            if items[i] == name {
                present = true
                items.remove(at: i)
            } else if items[i].hasPrefix(name + "=") {
                let v = items[i].dropFirst(name.count + 1).lowercased()
                guard v == "true" || v == "false" else { throw UsageError("\(name) takes true or false, got \"\(v)\"") }
                present = v == "true"
                items.remove(at: i)
            } else {
                i += 1
            }
        }
        return present
    }

    public mutating func int(_ name: String, in range: ClosedRange<Int>? = nil) throws(UsageError) -> Int? {
        guard let text = try value(name) else { return nil }
        guard let v = Int(text) else { throw UsageError("\(name) takes a whole number, got \"\(text)\"") }
        if let range, !range.contains(v) {
            throw UsageError("\(name) must be in \(range.lowerBound)...\(range.upperBound == Int.max ? "" : String(range.upperBound)), got \(v)")
        }
        return v
    }

    public mutating func double(_ name: String, in range: ClosedRange<Double>? = nil) throws(UsageError) -> Double? {
        guard let text = try value(name) else { return nil }
        guard let v = Double(text), v.isFinite else { throw UsageError("\(name) takes a number, got \"\(text)\"") }
        if let range, !range.contains(v) {
            throw UsageError("\(name) must be between \(JSONValue.format(range.lowerBound)) and \(JSONValue.format(range.upperBound)), got \(text)")
        }
        return v
    }

    /// Removes and returns the first argument that is not an option.
    public mutating func positional() -> String? {
        guard let i = items.firstIndex(where: { !Arguments.isOption($0) }) else { return nil }
        return items.remove(at: i)
    }

    /// Whether `item` is an option: `--name…`, or a short flag `-x…` (a dash then a letter).
    public static func isOption(_ item: String) -> Bool {
        if item.hasPrefix("--") { return true }
        let chars = Array(item.prefix(2))
        return chars.count == 2 && chars[0] == "-" && chars[1].isLetter
    }

    /// Fails on anything not taken: an unknown option (with the nearest known one) or a stray word.
    public func finish() throws(UsageError) {
        guard let first = items.first else { return }
        if Arguments.isOption(first) {
            let name = String(first.split(separator: "=", maxSplits: 1)[0])
            let suggestion = known.min { editDistance($0, name) < editDistance($1, name) }
            if name.hasPrefix("--"), let suggestion, editDistance(suggestion, name) <= 3 {
                throw UsageError("unknown option \(name) (did you mean \(suggestion)?)")
            }
            throw UsageError("unknown option \(name)")
        }
        throw UsageError("unexpected argument \"\(first)\"")
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
