/// One hyperparameter's distribution, with Azure ML's semantics.
public enum Distribution: Sendable, Equatable {
    case choice([JSONValue])
    /// An integer in [0, upper).
    case randint(upper: Int)
    case uniform(min: Double, max: Double)
    /// round(uniform(min, max) / q) · q
    case quniform(min: Double, max: Double, q: Double)
    /// exp(uniform(min, max)): log(x) is uniform.
    case loguniform(min: Double, max: Double)
    /// round(exp(uniform(min, max)) / q) · q
    case qloguniform(min: Double, max: Double, q: Double)
    case normal(mu: Double, sigma: Double)
    case qnormal(mu: Double, sigma: Double, q: Double)
    /// exp(normal(mu, sigma))
    case lognormal(mu: Double, sigma: Double)
    case qlognormal(mu: Double, sigma: Double, q: Double)

    public var typeName: String {
        switch self {
        case .choice: return "choice"
        case .randint: return "randint"
        case .uniform: return "uniform"
        case .quniform: return "quniform"
        case .loguniform: return "loguniform"
        case .qloguniform: return "qloguniform"
        case .normal: return "normal"
        case .qnormal: return "qnormal"
        case .lognormal: return "lognormal"
        case .qlognormal: return "qlognormal"
        }
    }

    static func quantize(_ x: Double, _ q: Double) -> Double { (x / q).rounded() * q }

    /// Draws one value.
    public func sample(_ rng: inout SplitMix64) -> JSONValue {
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.nextUnit() }
        switch self {
        case .choice(let values): return values[Int(rng.next() % UInt64(values.count))]
        case .randint(let upper): return JSONValue(Int(rng.next() % UInt64(upper)))
        case .uniform(let a, let b): return JSONValue(uniform(a, b))
        case .quniform(let a, let b, let q): return JSONValue(Distribution.quantize(uniform(a, b), q))
        case .loguniform(let a, let b): return JSONValue(Math.exp(uniform(a, b)))
        case .qloguniform(let a, let b, let q): return JSONValue(Distribution.quantize(Math.exp(uniform(a, b)), q))
        case .normal(let mu, let sigma): return JSONValue(mu + sigma * rng.nextGaussian())
        case .qnormal(let mu, let sigma, let q): return JSONValue(Distribution.quantize(mu + sigma * rng.nextGaussian(), q))
        case .lognormal(let mu, let sigma): return JSONValue(Math.exp(mu + sigma * rng.nextGaussian()))
        case .qlognormal(let mu, let sigma, let q): return JSONValue(Distribution.quantize(Math.exp(mu + sigma * rng.nextGaussian()), q))
        }
    }

    /// Parses `{"type": "loguniform", "min_value": -6, "max_value": -1}` and its kin.
    public init(parsing f: JSONField) throws(FieldError) {
        let typeField = try f.required("type")
        let type = try typeField.string().lowercased()
        func number(_ key: String) throws(FieldError) -> Double { try f.required(key).double() }
        func q() throws(FieldError) -> Double {
            let field = try f.required("q")
            let v = try field.double()
            guard v > 0 else { throw field.fail("must be positive") }
            return v
        }
        func range() throws(FieldError) -> (Double, Double) {
            let a = try number("min_value"), b = try number("max_value")
            guard a < b else { throw FieldError(source: f.source, path: f.childPath("max_value"), "must be greater than min_value (\(JSONValue.format(a)))") }
            return (a, b)
        }
        func sigma() throws(FieldError) -> Double {
            let field = try f.required("sigma")
            let v = try field.double()
            guard v > 0 else { throw field.fail("must be positive") }
            return v
        }
        switch type {
        case "choice":
            let values = try f.required("values")
            let list = try values.array().map(\.value)
            guard !list.isEmpty else { throw values.fail("needs at least one value") }
            self = .choice(list)
        case "randint":
            let u = try f.required("upper").int()
            guard u >= 1 else { throw FieldError(source: f.source, path: f.childPath("upper"), "must be at least 1") }
            self = .randint(upper: u)
        case "uniform": let (a, b) = try range(); self = .uniform(min: a, max: b)
        case "quniform": let (a, b) = try range(); self = .quniform(min: a, max: b, q: try q())
        case "loguniform": let (a, b) = try range(); self = .loguniform(min: a, max: b)
        case "qloguniform": let (a, b) = try range(); self = .qloguniform(min: a, max: b, q: try q())
        case "normal": self = .normal(mu: try number("mu"), sigma: try sigma())
        case "qnormal": self = .qnormal(mu: try number("mu"), sigma: try sigma(), q: try q())
        case "lognormal": self = .lognormal(mu: try number("mu"), sigma: try sigma())
        case "qlognormal": self = .qlognormal(mu: try number("mu"), sigma: try sigma(), q: try q())
        default:
            throw typeField.fail("unknown type \"\(type)\" (expected choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, lognormal, qlognormal)")
        }
    }

    public var json: JSONValue {
        switch self {
        case .choice(let v): return ["type": "choice", "values": .array(v)]
        case .randint(let u): return ["type": "randint", "upper": JSONValue(u)]
        case .uniform(let a, let b): return ["type": "uniform", "min_value": JSONValue(a), "max_value": JSONValue(b)]
        case .quniform(let a, let b, let q): return ["type": "quniform", "min_value": JSONValue(a), "max_value": JSONValue(b), "q": JSONValue(q)]
        case .loguniform(let a, let b): return ["type": "loguniform", "min_value": JSONValue(a), "max_value": JSONValue(b)]
        case .qloguniform(let a, let b, let q): return ["type": "qloguniform", "min_value": JSONValue(a), "max_value": JSONValue(b), "q": JSONValue(q)]
        case .normal(let m, let s): return ["type": "normal", "mu": JSONValue(m), "sigma": JSONValue(s)]
        case .qnormal(let m, let s, let q): return ["type": "qnormal", "mu": JSONValue(m), "sigma": JSONValue(s), "q": JSONValue(q)]
        case .lognormal(let m, let s): return ["type": "lognormal", "mu": JSONValue(m), "sigma": JSONValue(s)]
        case .qlognormal(let m, let s, let q): return ["type": "qlognormal", "mu": JSONValue(m), "sigma": JSONValue(s), "q": JSONValue(q)]
        }
    }
}

/// How trials' parameters are chosen.
public enum SamplingAlgorithm: String, Sendable {
    case random
    case grid
}

/// The parameters of every trial, in order: random draws from a seed, or the grid of every choice.
public enum Sampler {
    public static func random(_ space: [(String, Distribution)], seed: UInt64, count: Int) -> [[(String, JSONValue)]] {
        var rng = SplitMix64(seed: seed, stream: 0x5EE9)
        return (0..<count).map { _ in space.map { ($0.0, $0.1.sample(&rng)) } }
    }

    /// Every combination of the choice values, the first parameter varying slowest.
    public static func grid(_ space: [(String, Distribution)]) throws(FieldError) -> [[(String, JSONValue)]] {
        var combos: [[(String, JSONValue)]] = [[]]
        for (name, d) in space {
            guard case .choice(let values) = d else {
                throw FieldError(path: "search_space.\(name)", "grid sampling supports only choice parameters; \(name) is \(d.typeName) (use random sampling, or make it a choice)")
            }
            combos = combos.flatMap { c in values.map { c + [(name, $0)] } }
        }
        return combos
    }
}
