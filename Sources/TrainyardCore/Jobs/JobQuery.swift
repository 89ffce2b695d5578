/// `jobs list --filter EXPR --sort-by [~]FIELD --limit N`, gcloud's list flags over job records.
///
/// A filter is terms joined by `AND` (or by spaces); a term is `FIELD=VALUE`, `FIELD:VALUE` (the
/// same here) or `FIELD!=VALUE`, `NOT` before a term negates it. Fields: `state` (AI Platform's
/// names, or OCI's for runs of an OCI template; any case), `jobId`, `template`, `labels.KEY`.
/// `--sort-by` takes `createTime`, `jobId` or `state`, `~` first for descending.
public struct JobQuery: Sendable, Equatable {
    public struct Term: Sendable, Equatable {
        public var field: String
        public var value: String
        public var negated: Bool
    }

    public var terms: [Term] = []
    public var sortField: String?
    public var descending = false
    public var limit: Int?

    public static let fields = ["state", "jobId", "template", "labels.KEY"]
    public static let sortFields = ["createTime", "jobId", "state"]

    public init(filter: String?, sortBy: String?, limit: Int?) throws(UsageError) {
        self.limit = limit
        if let filter {
            var negateNext = false
            for word in filter.split(separator: " ") where !word.isEmpty {
                if word == "AND" { continue }
                if word == "NOT" { negateNext = true; continue }
                let text = String(word)
                var term: Term
                if let bang = text.firstIndex(of: "!"), text[text.index(after: bang)...].hasPrefix("=") {
                    term = Term(field: String(text[..<bang]), value: String(text[text.index(bang, offsetBy: 2)...]), negated: true)
                } else if let i = text.firstIndex(where: { $0 == "=" || $0 == ":" }) {
                    term = Term(field: String(text[..<i]), value: String(text[text.index(after: i)...]), negated: false)
                } else {
                    throw UsageError("--filter: \"\(text)\" is not FIELD=VALUE (fields: \(JobQuery.fields.joined(separator: ", ")))")
                }
                guard ["state", "jobId", "template"].contains(term.field) || (term.field.hasPrefix("labels.") && term.field.count > 7) else {
                    throw UsageError("--filter: unknown field \"\(term.field)\" (fields: \(JobQuery.fields.joined(separator: ", ")))")
                }
                if negateNext { term.negated.toggle(); negateNext = false }
                term.value = term.value.trimmingQuotes
                terms.append(term)
            }
        }
        if var s = sortBy {
            if s.hasPrefix("~") { descending = true; s.removeFirst() }
            guard JobQuery.sortFields.contains(s) else { throw UsageError("--sort-by: must be \(JobQuery.sortFields.joined(separator: ", ")) (~ first to reverse), got \"\(sortBy!)\"") }
            sortField = s
        }
    }

    /// Whether `record` passes the filter.
    public func matches(_ record: JobRecord, stateName: String) -> Bool {
        terms.allSatisfy { t in
            let actual: String?
            switch t.field {
            case "state": actual = stateName
            case "jobId": actual = record.name
            case "template": actual = record.template
            default: actual = record.spec.labels[String(t.field.dropFirst(7))]
            }
            let equal = t.field == "state" ? actual?.uppercased() == t.value.uppercased() : actual == t.value
            return equal != t.negated
        }
    }

    /// The records that pass, sorted and limited.
    public func apply(_ records: [JobRecord], stateName: (JobRecord) -> String) -> [JobRecord] {
        var out = records.filter { matches($0, stateName: stateName($0)) }
        if let f = sortField {
            out.sort { a, b in
                switch f {
                case "jobId": return descending ? a.name > b.name : a.name < b.name
                case "state": return descending ? stateName(a) > stateName(b) : stateName(a) < stateName(b)
                default: return descending ? a.createTime > b.createTime : a.createTime < b.createTime
                }
            }
        }
        if let limit { out = Array(out.prefix(limit)) }
        return out
    }
}

extension String {
    fileprivate var trimmingQuotes: String {
        guard count >= 2, let f = first, f == last, f == "\"" || f == "'" else { return self }
        return String(dropFirst().dropLast())
    }
}
