/// A job as AI Platform's REST `Job` resource (`projects.jobs`), which `jobs describe` prints:
/// `jobId`, `state`, the times (RFC 3339, UTC), `labels`, `trainingInput` (camelCase, the counts
/// as strings as the API sends int64), `trainingOutput.consumedMLUnits` (a number) and
/// `errorMessage`. What gcloud has no field for (state history, local folders, the interpreter,
/// reported metrics, cost) is under `trainyard`, and a run of an OCI-shaped template also carries
/// `lifecycleState` in OCI's names.
public enum JobResource {
    public static func make(_ j: JobRecord, now: Double, metrics: MetricsSummary?, logFolder: String, supervisorDied: Bool = false) -> JSONValue {
        let s = j.spec
        func time(_ t: Double) -> JSONValue { .string(rfc3339(t)) }
        var input: [(String, JSONValue)] = [("scaleTier", .string(s.scaleTier ?? "BASIC"))]
        if let m = s.custom.masterMachineType { input.append(("masterType", .string(m))) }
        if let t = s.custom.workerMachineType { input.append(("workerType", .string(t))) }
        if let t = s.custom.parameterServerMachineType { input.append(("parameterServerType", .string(t))) }
        if let n = s.custom.workerCount { input.append(("workerCount", .string(String(n)))) }
        if let n = s.custom.parameterServerCount { input.append(("parameterServerCount", .string(String(n)))) }
        for (key, uri) in [("masterConfig", s.masterImageURI), ("workerConfig", s.workerImageURI), ("parameterServerConfig", s.parameterServerImageURI)] {
            if let uri { input.append((key, .object([("imageUri", .string(uri))]))) }
        }
        input.append(("region", .string(s.region ?? "us-central1")))
        let packageURIs = (j.package.map { [$0.uri] } ?? []) + j.stagedPackages
        if !packageURIs.isEmpty { input.append(("packageUris", JSONValue(packageURIs))) }
        if let m = s.moduleName { input.append(("pythonModule", .string(m))) }
        if !s.userArgs.isEmpty { input.append(("args", JSONValue(s.userArgs))) }
        if let d = s.jobDir { input.append(("jobDir", .string(d))) }
        if let v = s.runtimeVersion { input.append(("runtimeVersion", .string(v))) }
        if let v = s.pythonVersion { input.append(("pythonVersion", .string(v))) }
        if !s.useChiefInTFConfig { input.append(("useChiefInTfConfig", .bool(false))) } else { input.append(("useChiefInTfConfig", .bool(true))) }

        var fields: [(String, JSONValue)] = [("jobId", .string(j.name)), ("state", .string(j.state.rawValue)), ("createTime", time(j.createTime))]
        if let t = j.startTime { fields.append(("startTime", time(t))) }
        if let t = j.endTime { fields.append(("endTime", time(t))) }
        if !s.labels.isEmpty { fields.append(("labels", .object(s.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))) }
        if let e = j.errorMessage { fields.append(("errorMessage", .string(e))) }
        fields.append(("trainingInput", .object(input)))
        let units = j.consumedMLUnits(now: now)
        fields.append(("trainingOutput", .object([("consumedMLUnits", JSONValue(units ?? 0))])))
        if s.service == .oci { fields.append(("lifecycleState", .string(CloudService.oci.stateName(j.state, supervisorDied: supervisorDied)))) }

        var extra: [(String, JSONValue)] = [
            ("history", .array(j.history.map { .object([("state", .string($0.state.rawValue)), ("time", time($0.time)), ("unixTime", JSONValue($0.time))]) })),
            ("cluster", .string(j.cluster)), ("jobDirectory", .string(j.jobDirectory)), ("logs", .string(logFolder)),
            ("program", .string(s.moduleName.map { "\(j.interpreter ?? "python3") -m \($0)" } ?? s.command ?? "Trainyard's trainer")),
            ("restartPolicy", .string(s.effectiveRestartPolicy.rawValue)),
        ]
        if let u = units {
            extra.append(("mlUnitsPerHour", JSONValue(j.mlUnitsPerHour ?? 0)))
            extra.append(("consumedDollars", JSONValue(u * j.dollarsPerUnit)))
        }
        if let p = j.package { extra.append(("packageReused", .bool(p.cacheHit))) }
        if let t = j.template { extra.append(("template", .string(t))) }
        if s.service == .oci { extra.append(("service", .string(s.service.rawValue))) }
        if !j.notes.isEmpty { extra.append(("notes", JSONValue(j.notes))) }
        if let m = metrics { extra.append(("metrics", m.json)) }
        fields.append(("trainyard", .object(extra)))
        return .object(fields)
    }

    /// RFC 3339 in UTC as the API prints it (`2019-05-31T23:47:00Z`; fractions only when present).
    public static func rfc3339(_ t: Double) -> String {
        let iso = LogStamp.iso(t)
        return iso.hasSuffix(".000Z") ? String(iso.dropLast(5)) + "Z" : iso
    }
}

/// What a program reported while it ran (`trainyard-metric k=v …` lines on stdout, JSON lines in
/// `$TRAINYARD_METRICS_FILE`), over every task: how many reports, how many distinct steps they
/// name and the highest, and each metric's last value (in time order).
public struct MetricsSummary: Sendable, Equatable {
    public var reports: Int
    public var steps: Int
    public var lastStep: Int?
    public var last: [String: Double]

    public init(reports: [TrialMetrics.Report]) {
        self.reports = reports.count
        let steps = Set(reports.compactMap(\.step))
        self.steps = steps.count
        lastStep = steps.max()
        var last: [String: Double] = [:]
        for r in reports { for (k, v) in r.values { last[k] = v } }
        self.last = last
    }

    /// The reports in the tasks' logs (each task's lines in order, tasks by name) and the metrics file.
    public static func collect(logs: [(task: String, text: String)], metricsFile: String?) -> MetricsSummary? {
        var reports: [(Double, TrialMetrics.Report)] = []
        for (_, text) in logs.sorted(by: { $0.task < $1.task }) {
            for line in text.split(separator: "\n") {
                let (t, rest) = LogStamp.split(line)
                if let r = TrialMetrics.fromLogLine(rest) { reports.append((t ?? 0, r)) }
            }
        }
        for line in (metricsFile ?? "").split(separator: "\n") {
            if let r = TrialMetrics.fromJSONLine(line) { reports.append((Double.infinity, r)) }
        }
        guard !reports.isEmpty else { return nil }
        // In time order; lines without a time, and the file's, keep the order they were read in.
        let ordered = reports.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
        return MetricsSummary(reports: ordered.map(\.element.1))
    }

    public var json: JSONValue {
        .object([("reports", JSONValue(reports)), ("steps", JSONValue(steps)), ("lastStep", lastStep.map { JSONValue($0) } ?? .null),
                 ("last", .object(last.sorted { $0.key < $1.key }.map { ($0.key, JSONValue($0.value)) }))])
    }
}
