/// The lifecycle of a job, as AI Platform's `Job.State`.
public enum JobState: String, Sendable, CaseIterable {
    case queued = "QUEUED"
    case preparing = "PREPARING"
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case cancelling = "CANCELLING"
    case cancelled = "CANCELLED"

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }

    /// The states a job may move to from this one.
    public var next: Set<JobState> {
        switch self {
        case .queued: return [.preparing, .failed, .cancelling]
        case .preparing: return [.running, .failed, .cancelling]
        case .running: return [.succeeded, .failed, .cancelling]
        case .cancelling: return [.cancelled, .failed]
        case .succeeded, .failed, .cancelled: return []
        }
    }
}

/// A refused state change.
public struct JobStateError: TrainyardError, Equatable {
    public var from: JobState
    public var to: JobState
    public var exitCode: ExitCode { .failure }
    public var description: String { "a job cannot go from \(from.rawValue) to \(to.rawValue)" }
}

/// Everything known about one job, kept on disk (`$TRAINYARD_HOME/jobs/<name>/job.json`) so it
/// outlives the command that submitted it.
public struct JobRecord: Sendable, Equatable {
    public var name: String
    public var spec: JobSpec
    public private(set) var state: JobState
    /// Each state the job reached, with the Unix time it did.
    public private(set) var history: [(state: JobState, time: Double)]
    public var errorMessage: String?
    /// The supervisor process running the job, while it runs.
    public var supervisorPID: Int32?
    /// When that process started, in clock ticks after boot (Linux `/proc/PID/stat` field 22), so
    /// that another process given the same pid later is not mistaken for the supervisor.
    public var supervisorStartTicks: Int?
    /// The job folder on this machine (a gs:// job dir mapped to its bucket's folder).
    public var jobDirectory: String
    public var cluster: String
    public var mlUnitsPerHour: Double?
    public var dollarsPerUnit: Double
    public var package: PackageInfo?
    /// The template this job is a run of, if any.
    public var template: String?
    /// The interpreter a `--module-name` job runs (resolved at submit).
    public var interpreter: String?
    /// What submit told the user about how the job runs here (an interpreter standing in for the
    /// one asked for, images that do not run locally); the supervisor repeats them in the log.
    public var notes: [String] = []
    /// The extra packages (`--packages`) as staged, in the order given.
    public var stagedPackages: [String] = []

    public struct PackageInfo: Sendable, Equatable {
        public var uri: String
        public var hash: String
        public var cacheHit: Bool
        public var bytes: Int
        public init(uri: String, hash: String, cacheHit: Bool, bytes: Int) {
            self.uri = uri
            self.hash = hash
            self.cacheHit = cacheHit
            self.bytes = bytes
        }
    }

    public static func == (a: JobRecord, b: JobRecord) -> Bool {
        a.json == b.json
    }

    public init(name: String, spec: JobSpec, createdAt: Double, jobDirectory: String, cluster: String, mlUnitsPerHour: Double?,
                dollarsPerUnit: Double = 0.49, template: String? = nil) {
        self.name = name
        self.spec = spec
        state = .queued
        history = [(.queued, createdAt)]
        self.jobDirectory = jobDirectory
        self.cluster = cluster
        self.mlUnitsPerHour = mlUnitsPerHour
        self.dollarsPerUnit = dollarsPerUnit
        self.template = template
    }

    /// Moves to `next`, refusing a change the lifecycle does not allow.
    public mutating func transition(to next: JobState, at time: Double, error: String? = nil) throws(JobStateError) {
        guard state.next.contains(next) else { throw JobStateError(from: state, to: next) }
        state = next
        history.append((next, time))
        if let error { errorMessage = error }
    }

    public func time(of s: JobState) -> Double? { history.last { $0.state == s }?.time }
    public var createTime: Double { history.first!.time }
    public var startTime: Double? { time(of: .running) }
    public var endTime: Double? { state.isTerminal ? history.last!.time : nil }

    /// Hours the cluster has run (billed from RUNNING to the end, or to `now`).
    public func runningHours(now: Double) -> Double {
        guard let start = startTime else { return 0 }
        return max(0, ((endTime ?? now) - start) / 3600)
    }

    /// ML units consumed so far at the tier's rate (no billing minimum: what has been used).
    public func consumedMLUnits(now: Double) -> Double? { mlUnitsPerHour.map { $0 * runningHours(now: now) } }

    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [
            ("name", .string(name)), ("state", .string(state.rawValue)),
            ("history", .array(history.map { .object([("state", .string($0.state.rawValue)), ("time", JSONValue($0.time))]) })),
            ("error_message", errorMessage.map { JSONValue($0) } ?? .null),
            ("supervisor_pid", supervisorPID.map { JSONValue(Int($0)) } ?? .null),
            ("supervisor_start_ticks", supervisorStartTicks.map { JSONValue($0) } ?? .null),
            ("job_directory", .string(jobDirectory)), ("cluster", .string(cluster)),
            ("ml_units_per_hour", mlUnitsPerHour.map { JSONValue($0) } ?? .null), ("dollars_per_ml_unit", JSONValue(dollarsPerUnit)),
            ("template", template.map { JSONValue($0) } ?? .null),
            ("interpreter", interpreter.map { JSONValue($0) } ?? .null), ("notes", JSONValue(notes)),
            ("staged_packages", JSONValue(stagedPackages)),
        ]
        if let p = package {
            fields.append(("package", .object([("uri", .string(p.uri)), ("sha256", .string(p.hash)), ("cache_hit", .bool(p.cacheHit)), ("bytes", JSONValue(p.bytes))])))
        }
        fields.append(("spec", spec.json))
        return .object(fields)
    }

    public init(parsing text: String, source: String) throws(FieldError) {
        let r = try JSONField.parse(text, source: source)
        name = try r.required("name").string()
        let stateField = try r.required("state")
        guard let s = JobState(rawValue: try stateField.string()) else { throw stateField.fail("unknown job state") }
        state = s
        var history: [(JobState, Double)] = []
        for h in try r.required("history").array() {
            guard let hs = JobState(rawValue: try h.required("state").string()) else { throw h.fail("unknown job state") }
            history.append((hs, try h.required("time").double()))
        }
        guard !history.isEmpty else { throw FieldError(source: source, path: "history", "is empty") }
        self.history = history
        errorMessage = try r.optional("error_message")?.string()
        supervisorPID = (try r.optional("supervisor_pid")?.int()).map { Int32($0) }
        supervisorStartTicks = try r.optional("supervisor_start_ticks")?.int()
        jobDirectory = try r.required("job_directory").string()
        cluster = try r.optional("cluster")?.string() ?? ""
        mlUnitsPerHour = try r.optional("ml_units_per_hour")?.double()
        dollarsPerUnit = try r.optional("dollars_per_ml_unit")?.double() ?? 0.49
        template = try r.optional("template")?.string()
        interpreter = try r.optional("interpreter")?.string()
        notes = try (r.optional("notes")?.array() ?? []).map { (x) throws(FieldError) in try x.string() }
        stagedPackages = try (r.optional("staged_packages")?.array() ?? []).map { (x) throws(FieldError) in try x.string() }
        if let p = try r.optional("package") {
            package = PackageInfo(uri: try p.required("uri").string(), hash: try p.required("sha256").string(),
                                  cacheHit: try p.required("cache_hit").bool(), bytes: try p.optional("bytes")?.int() ?? 0)
        }
        spec = try JobSpec(json: try r.required("spec"))
    }
}
