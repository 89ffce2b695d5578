/// A JSON value together with where it sits in its document, so that reading it can fail with an
/// error naming the field: `faults[2].at_step: expected an integer, got a string`.
public struct JSONField: Sendable {
    public var value: JSONValue
    public var path: String
    public var source: String

    public init(_ value: JSONValue, path: String = "", source: String = "") {
        self.value = value
        self.path = path
        self.source = source
    }

    /// Parses `text` as the root of a document named `source` (a file name, `TF_CONFIG`): JSON
    /// when it opens with `{` or `[`, else YAML (`YAMLParser`), so every spec file may be either.
    public static func parse(_ text: String, source: String) throws(FieldError) -> JSONField {
        if YAMLParser.looksLikeJSON(text) {
            do {
                return JSONField(try JSONParser.parse(text), source: source)
            } catch {
                throw FieldError(source: source, path: "", error.description)
            }
        }
        do {
            return JSONField(try YAMLParser.parse(text), source: source)
        } catch {
            throw FieldError(source: source, path: "", error.description)
        }
    }

    /// Parses `text` as JSON only (TF_CONFIG, wire payloads: formats that are JSON by definition).
    public static func parseJSON(_ text: String, source: String) throws(FieldError) -> JSONField {
        do {
            return JSONField(try JSONParser.parse(text), source: source)
        } catch {
            throw FieldError(source: source, path: "", error.description)
        }
    }

    public func fail(_ message: String) -> FieldError {
        FieldError(source: source, path: path, message)
    }

    private func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The path of this object's field `key` (for errors about a field that is absent or wrong together with others).
    public func childPath(_ key: String) -> String { child(key) }

    // MARK: Objects

    /// The field named `key`, which must be present and not null.
    public func required(_ key: String) throws(FieldError) -> JSONField {
        guard let field = try optional(key) else {
            throw FieldError(source: source, path: child(key), "is required")
        }
        return field
    }

    /// The field named `key`, or nil when it is absent or null.
    public func optional(_ key: String) throws(FieldError) -> JSONField? {
        guard case .object(let fields) = value else { throw fail("expected an object, got \(value.kindName)") }
        guard let v = fields.last(where: { $0.0 == key })?.1, v != .null else { return nil }
        return JSONField(v, path: child(key), source: source)
    }

    /// The object's keys in document order.
    public func keys() throws(FieldError) -> [String] {
        guard case .object(let fields) = value else { throw fail("expected an object, got \(value.kindName)") }
        return fields.map(\.0)
    }

    /// The object's fields in document order.
    public func entries() throws(FieldError) -> [(String, JSONField)] {
        guard case .object(let fields) = value else { throw fail("expected an object, got \(value.kindName)") }
        return fields.map { ($0.0, JSONField($0.1, path: child($0.0), source: source)) }
    }

    /// Fails when the object has a key outside `allowed`, naming it (catches typos in files).
    public func rejectUnknownKeys(_ allowed: Set<String>) throws(FieldError) {
        for key in try keys() where !allowed.contains(key) {
            throw FieldError(source: source, path: child(key), "is not a known field (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    // MARK: Arrays

    public func array() throws(FieldError) -> [JSONField] {
        guard case .array(let items) = value else { throw fail("expected an array, got \(value.kindName)") }
        return items.enumerated().map { JSONField($0.element, path: "\(path)[\($0.offset)]", source: source) }
    }

    // MARK: Scalars

    public func string() throws(FieldError) -> String {
        guard case .string(let s) = value else { throw fail("expected a string, got \(value.kindName)") }
        return s
    }

    public func int() throws(FieldError) -> Int {
        guard case .number(let d) = value else { throw fail("expected an integer, got \(value.kindName)") }
        guard let i = value.intValue else { throw fail("expected an integer, got \(JSONValue.format(d))") }
        return i
    }

    public func int(in range: ClosedRange<Int>) throws(FieldError) -> Int {
        let i = try int()
        guard range.contains(i) else { throw fail("\(i) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return i
    }

    public func double() throws(FieldError) -> Double {
        guard case .number(let d) = value else { throw fail("expected a number, got \(value.kindName)") }
        return d
    }

    public func bool() throws(FieldError) -> Bool {
        guard case .bool(let b) = value else { throw fail("expected true or false, got \(value.kindName)") }
        return b
    }
}
