import Foundation
import TrainyardCore
import TrainyardPlatform

/// `$TRAINYARD_HOME` (default `~/.trainyard`): buckets, jobs, templates, models, calibration.
public enum Home {
    public static var path: String {
        Files.absolute(Posix.environment("TRAINYARD_HOME") ?? ((Posix.environment("HOME") ?? ".") + "/.trainyard"))
    }

    /// A local path for `location`: a gs:// URI's bucket folder (checked to stay inside its bucket,
    /// `BucketStorage.localPath(of:home:)`), or the path itself.
    public static func localPath(_ location: String) throws -> String {
        if StorageURI.isStorageURI(location) { return try BucketStorage.localPath(of: try StorageURI(parsing: location), home: path) }
        return Files.absolute(location)
    }
}

/// Job records on disk: `$TRAINYARD_HOME/jobs/<name>/job.json`, changed under a file lock.
public enum JobStore {
    public static var root: String { Home.path + "/jobs" }
    public static func folder(_ name: String) -> String { root + "/" + name }
    public static func recordPath(_ name: String) -> String { folder(name) + "/job.json" }
    public static func logFolder(_ name: String) -> String { folder(name) + "/logs" }
    /// Where a user program appends JSON metric lines (`$TRAINYARD_METRICS_FILE`).
    public static func metricsFile(_ name: String) -> String { folder(name) + "/reported-metrics.jsonl" }

    /// What the job's program reported so far (`trainyard-metric` lines in its tasks' logs, JSON
    /// lines in its metrics file); nil when it reported nothing.
    public static func reportedMetrics(_ name: String) -> MetricsSummary? {
        let folder = logFolder(name)
        let logs = Files.list(folder).filter { $0.hasSuffix(".log") }.map { file in
            (task: String(file.dropLast(4)), text: String(decoding: Files.readFrom(folder + "/" + file, offset: 0).0, as: UTF8.self))
        }
        return MetricsSummary.collect(logs: logs, metricsFile: try? Files.readText(metricsFile(name)))
    }

    /// Job names as AI Platform takes them: letters, digits and underscores, starting with a letter, at most 128.
    public static func validate(name: String) throws {
        guard let first = name.first, first.isLetter, first.isASCII, name.count <= 128,
              name.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" }) else {
            throw UsageError("job name \"\(name)\" must start with a letter and hold only letters, digits and underscores (at most 128)")
        }
    }

    public static func exists(_ name: String) -> Bool { Files.exists(recordPath(name)) }

    /// The file a running supervisor rewrites every `heartbeatInterval` seconds with the Unix time.
    public static func heartbeatPath(_ name: String) -> String { folder(name) + "/supervisor.heartbeat" }
    public static let heartbeatInterval = 1.0

    /// The job's record as it stands, made true first: a job whose supervisor died without ending
    /// the record is ended (FAILED, at the supervisor's last heartbeat) and saved so, before it is
    /// returned (`JobRecord.reconciled(with:)`). Every record shown to a user comes from here.
    public static func load(_ name: String) throws -> JobRecord {
        let record = try read(name)
        guard record.reconciled(with: observe(record)) != record else { return record }
        return try FileLock.withLock(folder(name) + "/job.lock") {
            // Again under the lock: the supervisor may have ended the record meanwhile.
            let current = try read(name)
            let reconciled = current.reconciled(with: observe(current))
            if reconciled != current { try write(reconciled) }
            return reconciled
        }
    }

    /// What the machine says of the record's supervisor: its pid's process and last heartbeat.
    public static func observe(_ record: JobRecord) -> SupervisorObservation {
        SupervisorObservation(startTicksOfPID: record.supervisorPID.flatMap { ProcessTable.startTicks(of: $0) },
                              lastHeartbeat: (try? Files.readText(heartbeatPath(record.name))).flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
    }

    /// Records that this process supervises `name` and starts rewriting its heartbeat file every
    /// `heartbeatInterval` seconds for as long as the process lives.
    public static func startHeartbeat(_ name: String) {
        let path = heartbeatPath(name)
        let beat: @Sendable () -> Void = { _ = try? Files.writeAtomically(String(MonotonicClock.wallNow()) + "\n", to: path, durable: false) }
        beat()
        startThread(name: "heartbeat") {
            while true {
                MonotonicClock.sleep(seconds: heartbeatInterval)
                beat()
            }
        }
    }

    /// The record exactly as stored.
    static func read(_ name: String) throws -> JobRecord {
        guard exists(name) else { throw UsageError("no job named \(name) (`trainyard jobs list` shows the jobs)") }
        return try JobRecord(parsing: try Files.readText(recordPath(name)), source: recordPath(name))
    }

    static func write(_ record: JobRecord) throws {
        try Files.writeAtomically(record.json.prettySerialized() + "\n", to: recordPath(record.name))
    }

    public static func create(_ record: JobRecord) throws {
        try Files.createDirectory(folder(record.name))
        try FileLock.withLock(folder(record.name) + "/job.lock") {
            guard !exists(record.name) else { throw UsageError("a job named \(record.name) already exists") }
            try write(record)
        }
    }

    /// Changes a record under its lock (as stored: not reconciled, so the supervisor's own changes
    /// never wait on a check of itself); returns the new record.
    @discardableResult
    public static func update(_ name: String, _ change: (inout JobRecord) throws -> Void) throws -> JobRecord {
        try FileLock.withLock(folder(name) + "/job.lock") {
            var r = try read(name)
            try change(&r)
            try write(r)
            return r
        }
    }

    public static func all() -> [JobRecord] {
        Files.list(root).compactMap { try? load($0) }.sorted { $0.createTime < $1.createTime }
    }
}
