/// Checks, before any trial starts, that every value a sweep's search space can produce is one
/// its trial accepts: a sweep whose trials would all fail on their arguments is invalid input
/// (exit 3), not a sweep of failed trials.
///
/// - Trainyard's trainer: each parameter name is a `TrainSettings` option key (`learning_rate`),
///   and each value the distribution can produce parses as that option: every `choice` value (of
///   the option's JSON type), `randint`'s 0 and upper − 1, the bounds of the bounded continuous
///   distributions (after `exp` and quantizing), and for the unbounded normal family the values
///   the seeded sampler actually draws. Errors name the field (`search_space.lr.values[1]`).
/// - A command or module trial: every `${{search_space.NAME}}` reference names a parameter.
public enum TrialParameterCheck {
    /// `${{search_space.NAME}}`, the one reference form a trial's command and args may hold.
    static let referencePrefix = "${{search_space."

    /// Checks the parameter names and the values each distribution can produce against `table`.
    public static func builtIn(_ space: [(String, Distribution)], table: OptionTable<TrainSettings>, source: String) throws(FieldError) {
        for (name, distribution) in space {
            let path = "search_space.\(name)"
            let key = String(name.map { $0 == "-" ? "_" : $0 })
            guard let option = table.options.first(where: { $0.key == key }) else {
                let keys = table.options.map(\.key)
                let near = keys.min { editDistance($0, key) < editDistance($1, key) }
                if let near, editDistance(near, key) <= 3 {
                    throw FieldError(source: source, path: path, "is not an option of Trainyard's trainer (did you mean \(near)?)")
                }
                throw FieldError(source: source, path: path, "is not an option of Trainyard's trainer (expected one of: \(keys.sorted().joined(separator: ", ")))")
            }
            try check(distribution, for: option, path: path, source: source)
        }
    }

    /// The values `distribution` can produce, as (field path, value) pairs to try, after its
    /// shape has been checked against the option's kind.
    static func check(_ distribution: Distribution, for option: OptionSpec<TrainSettings>, path: String, source: String) throws(FieldError) {
        let defaults = TrainSettings()
        func fail(_ at: String, _ message: String) -> FieldError { FieldError(source: source, path: at, message) }
        func tryValue(_ value: JSONValue, at: String) throws(FieldError) {
            if let reason = option.rejection(of: SweepSpec.argumentText(value), on: defaults) {
                throw fail(at, "\(SweepSpec.argumentText(value)) is not a value of \(option.key): \(reason)")
            }
        }
        // Continuous distributions draw numbers; whole numbers only with an integral q.
        func numeric(quantum q: Double?) throws(FieldError) {
            switch option.kind {
            case .number: return
            case .integer:
                if let q, q.rounded() == q { return }
                throw fail(path, "\(option.key) takes \(option.kind.described), but \(distribution.typeName) draws fractions "
                           + "(use randint, choice, or a q-distribution with a whole q)")
            case .text, .flag:
                throw fail(path, "\(option.key) takes \(option.kind.described), but \(distribution.typeName) draws numbers (use choice)")
            }
        }
        func bound(_ x: Double, _ q: Double?, at: String) throws(FieldError) {
            try tryValue(JSONValue(q.map { Distribution.quantize(x, $0) } ?? x), at: at)
        }
        switch distribution {
        case .choice(let values):
            for (i, v) in values.enumerated() {
                let at = "\(path).values[\(i)]"
                let fits: Bool
                switch (option.kind, v) {
                case (.integer, .number(let d)): fits = d.rounded() == d
                case (.number, .number), (.flag, .bool), (.text, .string), (.text, .number): fits = true
                default: fits = false
                }
                if fits {
                    try tryValue(v, at: at)
                } else {
                    throw fail(at, "\(option.key) takes \(option.kind.described), got \(v.kindName) \(v.serialized())")
                }
            }
        case .randint(let upper):
            guard option.kind != .flag else { throw fail(path, "\(option.key) takes true or false, but randint draws whole numbers (use choice)") }
            try tryValue(JSONValue(0), at: path)
            try tryValue(JSONValue(upper - 1), at: "\(path).upper")
        case .uniform(let a, let b):
            try numeric(quantum: nil)
            try bound(a, nil, at: "\(path).min_value")
            try bound(b, nil, at: "\(path).max_value")
        case .quniform(let a, let b, let q):
            try numeric(quantum: q)
            try bound(a, q, at: "\(path).min_value")
            try bound(b, q, at: "\(path).max_value")
        case .loguniform(let a, let b):
            try numeric(quantum: nil)
            try bound(Math.exp(a), nil, at: "\(path).min_value")
            try bound(Math.exp(b), nil, at: "\(path).max_value")
        case .qloguniform(let a, let b, let q):
            try numeric(quantum: q)
            try bound(Math.exp(a), q, at: "\(path).min_value")
            try bound(Math.exp(b), q, at: "\(path).max_value")
        case .normal(let mu, _):
            try numeric(quantum: nil)
            try bound(mu, nil, at: "\(path).mu")
        case .qnormal(let mu, _, let q):
            try numeric(quantum: q)
            try bound(mu, q, at: "\(path).mu")
        case .lognormal(let mu, _):
            try numeric(quantum: nil)
            try bound(Math.exp(mu), nil, at: "\(path).mu")
        case .qlognormal(let mu, _, let q):
            try numeric(quantum: q)
            try bound(Math.exp(mu), q, at: "\(path).mu")
        }
    }

    /// Checks every trial's full settings (the trial object's options, then the sampled values) as
    /// the trainer will read them: this catches the draws of unbounded distributions and options
    /// that do not fit together.
    public static func trials(_ trials: [[(String, JSONValue)]], spec: SweepSpec, base: [String], trainers: Int, source: String) throws(FieldError) {
        for (index, params) in trials.enumerated() {
            var args = Arguments(base + params.map { spec.argument($0.0, $0.1) })
            do throws(UsageError) {
                let settings = try TrainSettings.parse(&args)
                try settings.validate(spelling: .key)
                if let k = ResourceCheck.tooManyToAggregate(settings, trainers: trainers) {
                    throw UsageError("replicas_to_aggregate \(k): the trial's cluster has \(trainers) training task\(trainers == 1 ? "" : "s") (the chief and trial.workers), and \(ResourceCheck.aggregationLimit): use \(trainers) or less, or more trial.workers")
                }
            } catch {
                let drawn = params.map { "\($0.0)=\(SweepSpec.argumentText($0.1))" }.joined(separator: ", ")
                throw FieldError(source: source, path: "search_space", "trial \(index) (\(drawn)) would not start: \(error.message)")
            }
        }
    }

    /// The names inside `${{search_space.NAME}}` references in `text`, in order. Throws for any
    /// other `${{…}}` form or an unclosed one; `path` names the field.
    public static func references(in text: String, path: String, source: String) throws(FieldError) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw FieldError(source: source, path: path, "has an unclosed ${{ (expected ${{search_space.NAME}})")
            }
            let inner = rest[open.upperBound..<close.lowerBound]
            guard inner.hasPrefix("search_space."), inner.count > "search_space.".count else {
                throw FieldError(source: source, path: path, "${{\(inner)}} is not supported: a trial's command may refer only to ${{search_space.NAME}}")
            }
            names.append(String(inner.dropFirst("search_space.".count)))
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// Checks that the references in a job trial's command and args name parameters of `space`.
    public static func job(_ spec: JobSpec, space: [(String, Distribution)], source: String) throws(FieldError) {
        var fields: [(String, String)] = spec.command.map { [("trial.command", $0)] } ?? []
        fields += spec.userArgs.enumerated().map { ("trial.args[\($0.offset)]", $0.element) }
        let known = space.map(\.0)
        for (path, text) in fields {
            for name in try references(in: text, path: path, source: source) where !known.contains(name) {
                let near = known.min { editDistance($0, name) < editDistance($1, name) }
                let hint = near.map { editDistance($0, name) <= 3 ? " (did you mean \($0)?)" : "" } ?? ""
                throw FieldError(source: source, path: path, "${{search_space.\(name)}} names no parameter of search_space\(hint) "
                                 + "(parameters: \(known.joined(separator: ", ")))")
            }
        }
    }

    /// `text` with each `${{search_space.NAME}}` replaced by the value, shell-quoted when `quoted`
    /// (a command runs through `/bin/sh -c`); nil when `text` holds no reference.
    public static func substitute(_ text: String, _ params: [(String, JSONValue)], quoted: Bool) -> String? {
        guard text.contains(referencePrefix) else { return nil }
        var out = text
        for (name, value) in params {
            let v = SweepSpec.argumentText(value)
            out = out.replacingOccurrences(of: "${{search_space.\(name)}}", with: quoted ? shellQuoted(v) : v)
        }
        return out
    }

    /// `text` as one shell word: as it is when it holds only safe characters, else single-quoted.
    public static func shellQuoted(_ text: String) -> String {
        let safe = !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "._-+/=:,".contains($0) }
        return safe ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
