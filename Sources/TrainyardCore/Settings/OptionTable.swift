/// One command-line option, declared once: its name, the text it takes, its help, its range and
/// the field of `Root` it sets. Help lines, argv parsing, role arguments and spec-file keys all come
/// from this entry, so they cannot drift apart (argument-parser's `@Option` is the model).
///
/// `name` is the dashed name without dashes (`max-steps`): the flag is `--max-steps`, the file key
/// `max_steps`. Value parsers throw a `UsageError` holding only the reason (`takes a whole number,
/// got "x"`); the table puts the flag or the file key in front.
public struct OptionSpec<Root>: Sendable {
    /// The dashed name without the leading dashes, e.g. `max-steps`.
    public let name: String
    /// What the value looks like in help (`S`, `NAME`); nil for a flag that takes no value.
    public let placeholder: String?
    public let help: String
    /// The default in words, shown as `(default: …)`; nil = the table's default value shown as
    /// text (`(default 2000)`), "" = none shown.
    public let defaultDescription: String?
    /// The values allowed, as text (`1...65536`, `sgd, momentum or adam`); nil = any the parser takes.
    public let allowed: String?
    /// The JSON type a file or a sweep's search space gives the value in.
    public let kind: OptionValueKind
    /// Left out of help (an option for scripts and Trainyard's own use); parsed like any other.
    public private(set) var isHidden = false
    /// Sets the field from the option's text.
    let set: @Sendable (inout Root, String) throws(UsageError) -> Void
    /// The field as the option's text; nil = the option is left out of role arguments.
    let get: @Sendable (Root) -> String?

    /// `--max-steps`.
    public var flag: String { "--" + name }
    /// `max_steps`: the key in scenario, sweep and job files.
    public var key: String { String(name.map { $0 == "-" ? "_" : $0 }) }
    /// Whether the option takes a value (`--max-steps 5`) or is a bare flag (`--sync`).
    public var takesValue: Bool { placeholder != nil }

    /// An option of any type: `parse` reads its text (throwing only the reason), `format` writes it
    /// back so that `parse(format(v)) == v`.
    public init<Value>(_ name: String, _ field: WritableKeyPath<Root, Value> & Sendable, placeholder: String, help: String,
                       default defaultDescription: String? = nil, allowed: String? = nil, kind: OptionValueKind = .text,
                       parse: @escaping @Sendable (String) throws(UsageError) -> Value,
                       format: @escaping @Sendable (Value) -> String?) {
        self.name = name
        self.kind = kind
        self.placeholder = placeholder
        self.help = help
        self.defaultDescription = defaultDescription
        self.allowed = allowed
        set = { (root: inout Root, text: String) throws(UsageError) in root[keyPath: field] = try parse(text) }
        get = { format($0[keyPath: field]) }
    }

    private init(name: String, placeholder: String?, help: String, defaultDescription: String?, allowed: String?, kind: OptionValueKind,
                 set: @escaping @Sendable (inout Root, String) throws(UsageError) -> Void, get: @escaping @Sendable (Root) -> String?) {
        self.name = name
        self.kind = kind
        self.placeholder = placeholder
        self.help = help
        self.defaultDescription = defaultDescription
        self.allowed = allowed
        self.set = set
        self.get = get
    }

    /// Why `text` is not a value of this option (the parser's reason), or nil when it is; `root`
    /// is left as it was.
    public func rejection(of text: String, on root: Root) -> String? {
        var copy = root
        do { try set(&copy, text) } catch { return error.message }
        return nil
    }

    /// The same option, left out of help.
    public func hidden() -> OptionSpec {
        var o = self
        o.isHidden = true
        return o
    }

    /// The same option on a struct that holds `Root` at `path` (a table nested in a bigger one).
    public func scoped<Outer>(_ path: WritableKeyPath<Outer, Root> & Sendable) -> OptionSpec<Outer> {
        let set = self.set, get = self.get
        var outer = OptionSpec<Outer>(name: name, placeholder: placeholder, help: help, defaultDescription: defaultDescription,
                                 allowed: allowed, kind: kind, set: { (outer: inout Outer, text: String) throws(UsageError) in try set(&outer[keyPath: path], text) },
                                 get: { get($0[keyPath: path]) })
        outer.isHidden = isHidden
        return outer
    }

    // MARK: Kinds of options

    /// A bare flag that sets `field` to `!inverted` when given (`--sync`; `--no-bandwidth-emulation`
    /// with `inverted: true`). `--flag=true` and `--flag=false` work too.
    public static func flag(_ name: String, _ field: WritableKeyPath<Root, Bool> & Sendable, inverted: Bool = false, help: String) -> OptionSpec {
        OptionSpec(name: name, placeholder: nil, help: help, defaultDescription: "", allowed: "true or false", kind: .flag,
                   set: { (root: inout Root, text: String) throws(UsageError) in
                       let on = try OptionParse.bool(text)
                       if on { root[keyPath: field] = !inverted }
                   },
                   get: { $0[keyPath: field] != inverted ? "true" : nil })
    }

    public static func int(_ name: String, _ field: WritableKeyPath<Root, Int> & Sendable, in range: ClosedRange<Int>, placeholder: String = "N",
                           help: String, default d: String? = nil) -> OptionSpec {
        OptionSpec(name, field, placeholder: placeholder, help: help, default: d, allowed: OptionParse.describe(range), kind: .integer,
                   parse: { (t: String) throws(UsageError) in try OptionParse.int(t, in: range) }, format: { String($0) })
    }

    public static func int(_ name: String, _ field: WritableKeyPath<Root, Int?> & Sendable, in range: ClosedRange<Int>? = nil, placeholder: String = "N",
                           help: String, default d: String? = nil) -> OptionSpec {
        OptionSpec(name, field, placeholder: placeholder, help: help, default: d, allowed: OptionParse.describe(range), kind: .integer,
                   parse: { (t: String) throws(UsageError) in try OptionParse.int(t, in: range) }, format: { $0.map { String($0) } })
    }

    public static func double(_ name: String, _ field: WritableKeyPath<Root, Double> & Sendable, in range: ClosedRange<Double>, placeholder: String = "X",
                              help: String, default d: String? = nil) -> OptionSpec {
        OptionSpec(name, field, placeholder: placeholder, help: help, default: d, allowed: OptionParse.describe(range), kind: .number,
                   parse: { (t: String) throws(UsageError) in try OptionParse.double(t, in: range) }, format: { JSONValue.format($0) })
    }

    public static func double(_ name: String, _ field: WritableKeyPath<Root, Double?> & Sendable, in range: ClosedRange<Double>? = nil,
                              placeholder: String = "X", help: String, default d: String? = nil) -> OptionSpec {
        OptionSpec(name, field, placeholder: placeholder, help: help, default: d, allowed: OptionParse.describe(range), kind: .number,
                   parse: { (t: String) throws(UsageError) in try OptionParse.double(t, in: range) }, format: { $0.map { JSONValue.format($0) } })
    }

    /// A text option; `nonEmpty` rejects `""` with "needs …" + `placeholder`.
    public static func string(_ name: String, _ field: WritableKeyPath<Root, String?> & Sendable, placeholder: String, help: String,
                              default d: String? = nil, nonEmpty: Bool = false) -> OptionSpec {
        OptionSpec(name, field, placeholder: placeholder, help: help, default: d,
                   parse: { (t: String) throws(UsageError) in
                       if nonEmpty && t.isEmpty { throw UsageError("needs a value (\(placeholder))") }
                       return t
                   }, format: { $0 })
    }

    /// One of an enum's raw values (`--optimizer adam`).
    public static func choice<E: RawRepresentable & CaseIterable & Sendable>(_ name: String, _ field: WritableKeyPath<Root, E> & Sendable,
                                                                           placeholder: String, help: String, default d: String? = nil) -> OptionSpec
    where E.RawValue == String {
        OptionSpec(name, field, placeholder: placeholder, help: help, default: d, allowed: OptionParse.orList(E.allCases.map(\.rawValue)),
                   parse: { (t: String) throws(UsageError) in
                       guard let v = E(rawValue: t) else {
                           throw UsageError("must be \(OptionParse.orList(E.allCases.map(\.rawValue))), got \"\(t)\"")
                       }
                       return v
                   }, format: { $0.rawValue })
    }

    // MARK: Help

    /// The left and right column of this option's help line, given the table's default value.
    func helpLine(defaults: Root?) -> (String, String) {
        let left = flag + (placeholder.map { " " + $0 } ?? "")
        if let described = defaultDescription {
            return (left, described.isEmpty ? help : help + " (default: \(described))")
        }
        guard let shown = defaults.flatMap(get) else { return (left, help) }
        return (left, help + " (default \(shown))")
    }
}

/// Options that a command or a settings struct understands, in the order help lists them.
///
/// `parse` reads argv, `arguments(for:)` writes the options back as argv (`parse(arguments(v)) == v`),
/// `decode` reads a JSON object whose keys are the options' snake_case names, and `helpLines`
/// gives the help text, all from the same entries.
public struct OptionTable<Root> {
    public let options: [OptionSpec<Root>]
    /// The value before any option is applied; help shows its fields as the defaults.
    public let defaults: Root?

    public init(_ options: [OptionSpec<Root>], defaults: Root?) {
        self.options = options
        self.defaults = defaults
        var seen = Set<String>()
        for o in options { precondition(seen.insert(o.name).inserted, "option --\(o.name) is declared twice") }
    }

    /// The entry for `name` (dashed, without the dashes).
    public subscript(name: String) -> OptionSpec<Root>? { options.first { $0.name == name } }

    // MARK: argv

    /// Takes this table's options out of `args` and applies them to `root`, leaving the rest for
    /// the caller. Returns the names of the options given.
    @discardableResult
    public func parse(_ args: inout Arguments, into root: inout Root) throws(UsageError) -> Set<String> {
        var given = Set<String>()
        for o in options {
            if o.takesValue {
                guard let text = try args.value(o.flag) else { continue }
                try apply(o, text, to: &root) { UsageError("\(o.flag) \($0)") }
            } else {
                guard try args.flag(o.flag) else { continue }
                try apply(o, "true", to: &root) { UsageError("\(o.flag) \($0)") }
            }
            given.insert(o.name)
        }
        return given
    }

    /// `root` as command-line options: every option whose field is set (bare flags only when on),
    /// in table order. `only` limits it to those option names.
    public func arguments(for root: Root, only names: Set<String>? = nil) -> [String] {
        var a: [String] = []
        for o in options where names?.contains(o.name) ?? true {
            guard let text = o.get(root) else { continue }
            // A value that looks like an option travels as `--flag=value`: `Arguments` never takes
            // the next word for a value when it starts with a dash and a letter.
            a += o.takesValue ? (Arguments.isOption(text) ? ["\(o.flag)=\(text)"] : [o.flag, text]) : [o.flag]
        }
        return a
    }

    /// The lines of a help text, hidden options left out: `("--max-steps S", "stop when … (default 2000)")`.
    public var helpLines: [(String, String)] {
        options.filter { !$0.isHidden }.map { $0.helpLine(defaults: defaults) }
    }

    // MARK: Files

    /// Applies the fields of the JSON object `object` to `root`: each key is an option's snake_case
    /// name (`max_steps` for `--max-steps`), each value a number, a string or (for a bare flag) a
    /// boolean. Keys in `skipping` are left for the caller; null counts as absent. Errors name the
    /// key as the file spells it. Returns the names (dashed) of the options set.
    @discardableResult
    public func decode(_ object: JSONField, into root: inout Root, skipping: Set<String> = []) throws(FieldError) -> Set<String> {
        var given = Set<String>()
        for (key, field) in try object.entries() where !skipping.contains(key) {
            guard let o = options.first(where: { $0.key == key }) else {
                let keys = options.map(\.key) + skipping
                let near = keys.min { editDistance($0, key) < editDistance($1, key) }
                if let near, editDistance(near, key) <= 3 { throw field.fail("is not a known option (did you mean \(near)?)") }
                throw field.fail("is not a known option (expected one of: \(keys.sorted().joined(separator: ", ")))")
            }
            let text: String
            switch field.value {
            case .null: continue
            case .bool(let b):
                text = b ? "true" : "false"
            case .number(let d) where o.takesValue: text = JSONValue.format(d)
            case .string(let s) where o.takesValue: text = s
            default:
                throw field.fail(o.takesValue ? "expected a number or a string, got \(field.value.kindName)" : "expected true or false, got \(field.value.kindName)")
            }
            do { try apply(o, text, to: &root) { UsageError($0) } } catch { throw field.fail(error.message) }
            given.insert(o.name)
        }
        return given
    }

    private func apply(_ o: OptionSpec<Root>, _ text: String, to root: inout Root, naming: (String) -> UsageError) throws(UsageError) {
        do { try o.set(&root, text) } catch { throw naming(error.message) }
    }
}

extension OptionTable: Sendable where Root: Sendable {}

/// What kind of JSON value an option takes in a file: a whole number, any number, text, or
/// true/false for a bare flag.
public enum OptionValueKind: String, Sendable {
    case integer
    case number
    case text
    case flag

    /// "a whole number", "a number", "text", "true or false".
    public var described: String {
        switch self {
        case .integer: return "a whole number"
        case .number: return "a number"
        case .text: return "text"
        case .flag: return "true or false"
        }
    }
}

/// How an option names another in a message: as a flag (`--sync`) or as a file key (`sync`).
public enum OptionSpelling: Sendable {
    case flag
    case key

    public func callAsFunction(_ name: String) -> String {
        switch self {
        case .flag: return "--" + name
        case .key: return String(name.map { $0 == "-" ? "_" : $0 })
        }
    }
}

/// The text parsers behind the option kinds; each throws only the reason.
public enum OptionParse {
    public static func int(_ text: String, in range: ClosedRange<Int>?) throws(UsageError) -> Int {
        guard let v = Int(text) else { throw UsageError("takes a whole number, got \"\(text)\"") }
        if let range, !range.contains(v) { throw UsageError("must be in \(describe(range)!), got \(v)") }
        return v
    }

    /// `1...65536`, `1...` (no upper bound).
    static func describe(_ range: ClosedRange<Int>?) -> String? {
        range.map { "\($0.lowerBound)...\($0.upperBound == Int.max ? "" : String($0.upperBound))" }
    }

    /// `0.05 to 3600`.
    static func describe(_ range: ClosedRange<Double>?) -> String? {
        range.map { "\(JSONValue.format($0.lowerBound)) to \(JSONValue.format($0.upperBound))" }
    }

    public static func double(_ text: String, in range: ClosedRange<Double>?) throws(UsageError) -> Double {
        guard let v = Double(text), v.isFinite else { throw UsageError("takes a number, got \"\(text)\"") }
        if let range, !range.contains(v) {
            throw UsageError("must be between \(JSONValue.format(range.lowerBound)) and \(JSONValue.format(range.upperBound)), got \(text)")
        }
        return v
    }

    public static func bool(_ text: String) throws(UsageError) -> Bool {
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw UsageError("takes true or false, got \"\(text)\"")
        }
    }

    /// `a, b or c`.
    static func orList(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " or " + items.last!
    }
}
