/// One thing wrong with a manifest, at a field path as Kubernetes prints them
/// (`spec.tfReplicaSpecs.Worker.template.spec.containers[0].image: required`).
public struct ManifestProblem: Sendable, Equatable, CustomStringConvertible {
    /// The dotted field path; list items as `[i]`; empty for the document itself.
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// The part of OpenAPI v3 (with Kubernetes' structural-schema extensions) that CRD schemas use,
/// applied the way the API server applies it to a custom resource:
///
/// - `type` (object, array, string, integer, number, boolean) and `format` int32/int64 ranges;
/// - `properties` with "nothing unknown": a key the schema does not name is an error (`kubectl`
///   applies with server-side field validation `Strict` by default), unless the object has
///   `additionalProperties` (a map: every value checked against it) or
///   `x-kubernetes-preserve-unknown-fields: true`. An object schema with neither properties nor
///   additionalProperties takes anything (the API server treats the root `metadata` on its own;
///   `TFJobCheck` checks it);
/// - `required`, `enum`, `items`, `anyOf`, `x-kubernetes-int-or-string`;
/// - `pattern` for the one pattern CRDs embed, Kubernetes' resource quantity (any other pattern is
///   reported by `unknownPatterns`, so a schema update cannot skip a check silently);
/// - `x-kubernetes-list-type: map` (entries unique by their `x-kubernetes-list-map-keys`) and `set`.
///
/// Not applied: `default` (the server fills defaults; a check need not), `x-kubernetes-validations`
/// (CEL rules; the TFJob CRD has one, about updates), `format: date-time` (only in `status`).
public enum OpenAPISubset {
    /// Kubernetes' resource-quantity pattern, as controller-gen writes it into every CRD.
    public static let quantityPattern = #"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"#

    /// The problems of `value` under `schema`, in document order.
    public static func validate(_ value: JSONValue, against schema: JSONValue, path: String = "") -> [ManifestProblem] {
        var problems: [ManifestProblem] = []
        check(value, schema, path, &problems)
        return problems
    }

    /// Every `pattern` in `schema` that this validator does not implement (expected: none).
    public static func unknownPatterns(in schema: JSONValue) -> [String] {
        var found: [String] = []
        func walk(_ s: JSONValue) {
            switch s {
            case .object(let fields):
                for (k, v) in fields {
                    if k == "pattern", let p = v.stringValue, p != quantityPattern { found.append(p) }
                    walk(v)
                }
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        walk(schema)
        return found
    }

    static func child(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    private static func check(_ v: JSONValue, _ s: JSONValue, _ path: String, _ out: inout [ManifestProblem]) {
        if s["x-kubernetes-int-or-string"]?.boolValue == true {
            switch v {
            case .number(let d):
                if d.rounded() != d { out.append(.init(path, "must be an integer or a string, got \(JSONValue.format(d))")) }
            case .string(let text):
                if s["pattern"]?.stringValue == quantityPattern, !isQuantity(text) {
                    out.append(.init(path, "\"\(text)\" is not a Kubernetes quantity (such as 4, 500m, 7373Mi, 1.5Gi)"))
                }
            default:
                out.append(.init(path, "must be an integer or a string, got \(v.kindName)"))
            }
            return
        }
        if let branches = s["anyOf"]?.arrayValue, !branches.isEmpty {
            let results = branches.map { validate(v, against: $0, path: path) }
            if !results.contains(where: \.isEmpty) {
                out.append(contentsOf: results.min { $0.count < $1.count } ?? [])
                return
            }
        }
        if v == .null {
            if s["nullable"]?.boolValue != true, s["type"] != nil {
                out.append(.init(path, "must be \(describe(s["type"]?.stringValue)), got null (leave the field out instead)"))
            }
            return
        }
        if let type = s["type"]?.stringValue, !matches(v, type: type) {
            out.append(.init(path, "must be \(describe(type)), got \(v.kindName)"))
            return
        }
        if let allowed = s["enum"]?.arrayValue, !allowed.contains(v) {
            out.append(.init(path, "must be one of \(allowed.map { $0.serialized() }.joined(separator: ", ")), got \(v.serialized())"))
        }
        switch v {
        case .number(let d):
            let range: ClosedRange<Double>? = switch s["format"]?.stringValue {
            case "int32": -2_147_483_648...2_147_483_647
            case "int64": -9_223_372_036_854_775_808...9_223_372_036_854_775_807
            default: nil
            }
            if let range, !range.contains(d) { out.append(.init(path, "\(JSONValue.format(d)) does not fit in \(s["format"]!.stringValue!)")) }
        case .string(let text):
            if s["pattern"]?.stringValue == quantityPattern, !isQuantity(text) {
                out.append(.init(path, "\"\(text)\" is not a Kubernetes quantity"))
            }
        case .array(let items):
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() { check(item, itemSchema, "\(path)[\(i)]", &out) }
            }
            checkListType(items, s, path, &out)
        case .object(let fields):
            let properties = s["properties"]?.objectValue
            let additional = s["additionalProperties"]
            let preserve = s["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
            var seen = Set<String>()
            for (key, value) in fields {
                let at = child(path, key)
                if !seen.insert(key).inserted { out.append(.init(at, "appears twice")); continue }
                if let p = properties?.first(where: { $0.0 == key })?.1 {
                    check(value, p, at, &out)
                } else if let additional, additional != .bool(false) {
                    if case .object = additional { check(value, additional, at, &out) }
                } else if properties != nil || additional == .bool(false) {
                    if !preserve { out.append(.init(at, unknownFieldMessage(key, known: properties?.map(\.0) ?? []))) }
                }
            }
            for case .string(let name) in s["required"]?.arrayValue ?? [] where !fields.contains(where: { $0.0 == name && $0.1 != .null }) {
                out.append(.init(child(path, name), "required"))
            }
        default:
            break
        }
    }

    static func unknownFieldMessage(_ key: String, known: [String]) -> String {
        // No suggestion for a long key: edit distance costs its length times each name's.
        guard key.count <= 64 else { return "unknown field (the schema allows: \(known.sorted().joined(separator: ", ")))" }
        let near = known.min { editDistance($0.lowercased(), key.lowercased()) < editDistance($1.lowercased(), key.lowercased()) }
        if let near, editDistance(near.lowercased(), key.lowercased()) <= max(2, key.count / 3) {
            return "unknown field (did you mean \(near)?)"
        }
        return "unknown field (the schema allows: \(known.sorted().joined(separator: ", ")))"
    }

    private static func checkListType(_ items: [JSONValue], _ s: JSONValue, _ path: String, _ out: inout [ManifestProblem]) {
        switch s["x-kubernetes-list-type"]?.stringValue {
        case "map":
            let keys = (s["x-kubernetes-list-map-keys"]?.arrayValue ?? []).compactMap(\.stringValue)
            guard !keys.isEmpty else { return }
            // Hashed by their JSON text: a hostile list of many entries costs linear time.
            var seen = Set<String>()
            for (i, item) in items.enumerated() {
                let id = keys.map { item[$0] ?? .null }
                if !seen.insert(JSONValue.array(id).serialized()).inserted {
                    let shown = zip(keys, id).map { "\($0.0)=\($0.1.serialized())" }.joined(separator: ", ")
                    out.append(.init("\(path)[\(i)]", "duplicate entry (\(shown)): entries must be unique by \(keys.joined(separator: ", "))"))
                }
            }
        case "set":
            var seen = Set<String>()
            for (i, item) in items.enumerated() where !seen.insert(item.serialized()).inserted {
                out.append(.init("\(path)[\(i)]", "duplicate value \(item.serialized()) in a set"))
            }
        default:
            break
        }
    }

    private static func matches(_ v: JSONValue, type: String) -> Bool {
        switch (type, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number): return true
        case ("integer", .number(let d)): return d.rounded() == d && d.isFinite
        default: return false
        }
    }

    private static func describe(_ type: String?) -> String {
        switch type {
        case "object": return "an object"
        case "array": return "a list"
        case "string": return "a string"
        case "integer": return "an integer"
        case "number": return "a number"
        case "boolean": return "true or false"
        default: return type ?? "a value"
        }
    }

    /// Whether `text` is a Kubernetes resource quantity: `quantityPattern`, written out
    /// (sign, digits with an optional fraction, then a binary suffix `Ki`…`Ei`, a decimal suffix
    /// `n u m k M G T P E`, or an exponent `e3`/`E-2`).
    public static func isQuantity(_ text: String) -> Bool {
        var s = Substring(text)
        if s.first == "+" || s.first == "-" { s = s.dropFirst() }
        func digits(_ s: inout Substring) -> Int {
            var n = 0
            while let c = s.first, c.isASCII, c.isNumber { s = s.dropFirst(); n += 1 }
            return n
        }
        func number(_ s: inout Substring) -> Bool {
            let whole = digits(&s)
            if s.first == "." {
                s = s.dropFirst()
                let fraction = digits(&s)
                return whole > 0 || fraction > 0
            }
            return whole > 0
        }
        guard number(&s) else { return false }
        if s.isEmpty { return true }
        if s.count == 2, let f = s.first, "KMGTPE".contains(f), s.last == "i" { return true }
        if s.count == 1, let f = s.first, "numkMGTPE".contains(f) { return true }
        if s.first == "e" || s.first == "E" {
            s = s.dropFirst()
            if s.first == "+" || s.first == "-" { s = s.dropFirst() }
            return number(&s) && s.isEmpty
        }
        return false
    }
}
