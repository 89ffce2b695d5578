import Foundation
import TrainyardCore
import TrainyardPlatform

/// `$TRAINYARD_HOME` (default `~/.trainyard`): buckets, jobs, templates, models, calibration.
public enum Home {
    public static var path: String {
        Files.absolute(Posix.environment("TRAINYARD_HOME") ?? ((Posix.environment("HOME") ?? ".") + "/.trainyard"))
    }

    /// A local path for `location`: a gs:// URI's bucket folder, or the path itself.
    public static func localPath(_ location: String) throws -> String {
        if StorageURI.isStorageURI(location) { return try StorageURI(parsing: location).localPath(home: path) }
        return Files.absolute(location)
    }
}

/// Job records on disk: `$TRAINYARD_HOME/jobs/<name>/job.json`, changed under a file lock.
public enum JobStore {
    public static var root: String { Home.path + "/jobs" }
    public static func folder(_ name: String) -> String { root + "/" + name }
    public static func recordPath(_ name: String) -> String { folder(name) + "/job.json" }
    public static func logFolder(_ name: String) -> String { folder(name) + "/logs" }

    /// Job names as AI Platform takes them: letters, digits and underscores, starting with a letter, at most 128.
    public static func validate(name: String) throws {
        guard let first = name.first, first.isLetter, first.isASCII, name.count <= 128,
              name.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" }) else {
            throw UsageError("job name \"\(name)\" must start with a letter and hold only letters, digits and underscores (at most 128)")
        }
    }

    public static func exists(_ name: String) -> Bool { Files.exists(recordPath(name)) }

    public static func load(_ name: String) throws -> JobRecord {
        guard exists(name) else { throw UsageError("no job named \(name) (`trainyard jobs list` shows the jobs)") }
        return try JobRecord(parsing: try Files.readText(recordPath(name)), source: recordPath(name))
    }

    public static func create(_ record: JobRecord) throws {
        try Files.createDirectory(folder(record.name))
        try FileLock.withLock(folder(record.name) + "/job.lock") {
            guard !exists(record.name) else { throw UsageError("a job named \(record.name) already exists") }
            try Files.writeAtomically(record.json.prettySerialized() + "\n", to: recordPath(record.name))
        }
    }

    /// Changes a record under its lock; returns the new record.
    @discardableResult
    public static func update(_ name: String, _ change: (inout JobRecord) throws -> Void) throws -> JobRecord {
        try FileLock.withLock(folder(name) + "/job.lock") {
            var r = try load(name)
            try change(&r)
            try Files.writeAtomically(r.json.prettySerialized() + "\n", to: recordPath(name))
            return r
        }
    }

    public static func all() -> [JobRecord] {
        Files.list(root).compactMap { try? load($0) }.sorted { $0.createTime < $1.createTime }
    }
}
