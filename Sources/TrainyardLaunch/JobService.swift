import Foundation
import TrainyardCore
import TrainyardPlatform

/// Jobs as a cloud service runs them, on this machine: submit (validate, stage the package, record
/// the job QUEUED and start its detached supervisor), follow its logs, cancel it, and templates.
/// Each function is what one `trainyard jobs …` command does, without the printing.
public enum JobService {
    /// `over` wins where it says something.
    public static func merge(_ base: JobSpec, _ over: JobSpec) -> JobSpec {
        var s = base
        if over.scaleTier != nil { s.scaleTier = over.scaleTier }
        if !over.custom.isEmpty { s.custom = over.custom }
        if over.jobDir != nil { s.jobDir = over.jobDir }
        if over.moduleName != nil { s.moduleName = over.moduleName; s.command = nil }
        if !over.userArgs.isEmpty { s.userArgs = over.userArgs }
        if over.region != nil { s.region = over.region }
        if !over.useChiefInTFConfig { s.useChiefInTFConfig = false }
        if over.runtimeVersion != nil { s.runtimeVersion = over.runtimeVersion }
        if over.pythonVersion != nil { s.pythonVersion = over.pythonVersion }
        for (k, v) in over.labels { s.labels[k] = v }
        for (k, v) in over.environment { s.environment[k] = v }
        if !over.packages.isEmpty { s.packages = over.packages }
        if over.masterImageURI != nil { s.masterImageURI = over.masterImageURI }
        if over.workerImageURI != nil { s.workerImageURI = over.workerImageURI }
        if over.parameterServerImageURI != nil { s.parameterServerImageURI = over.parameterServerImageURI }
        if over.service != .aiPlatform { s.service = over.service }
        return s
    }

    /// Validates (`preflight`), stages the package, writes the record (QUEUED) and starts the
    /// supervisor. Nothing is written — no record, job folder or package — when the job is refused.
    public static func submit(name: String, spec: JobSpec, template: String?) throws -> JobRecord {
        try JobStore.validate(name: name)
        try spec.validate()
        guard !JobStore.exists(name) else { throw UsageError("a job named \(name) already exists") }
        let catalog = try Catalog.load()
        let plan = try check(spec, catalog: catalog)
        let jobDirectory = try Home.localPath(spec.jobDir!)
        // A submit that fails from here on (staging, or a race for the name) removes the folders it
        // made while they are empty, so no empty job folder is left in the bucket. Files are kept: a
        // submit that lost a race for the name may share its folder with the one that won.
        let madeJobDirectory = !Files.exists(jobDirectory)
        try Files.createDirectory(jobDirectory)
        var recorded = false
        defer { if !recorded && madeJobDirectory { Files.removeEmptyFolders(jobDirectory) } }
        let cluster = plan.map { "\($0.tierName): \($0)" } ?? "\(topology(spec, plan: nil))"
        var record = JobRecord(name: name, spec: spec, createdAt: MonotonicClock.wallNow(), jobDirectory: jobDirectory,
                               cluster: cluster, mlUnitsPerHour: plan?.mlUnitsPerHour,
                               dollarsPerUnit: plan?.master.priceList.flatMap { catalog.priceLists[$0]?.dollarsPerUnit } ?? 0.49, template: template)
        try describeHowItRuns(spec, into: &record)
        if let path = spec.packagePath { record.package = try stage(path, name: name, spec: spec) }
        record.stagedPackages = try stageExtraPackages(spec.packages, name: name, spec: spec)
        try Signals.checkInterrupted("submitting \(name)")
        try JobStore.create(record)
        recorded = true
        let executable = Executables.current
        var environment = ProcessInfo.processInfo.environment
        environment["TRAINYARD_HOME"] = Home.path
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: executable, arguments: ["_supervise", name], environment: environment,
                                                        outputPath: JobStore.folder(name) + "/supervisor.log", grouping: .newSession))
        // Our child until we exit, so its /proc entry (a zombie at worst) is still there to read.
        let ticks = ProcessTable.startTicks(of: pid)
        return try JobStore.update(name) { r in
            r.supervisorPID = pid
            if let ticks { r.supervisorStartTicks = ticks }
        }
    }

    /// What `submit` refuses before it writes anything, found without writing: the spec, its
    /// cluster plan, `preflight`, the job folder's URI, the `--packages` files and the package
    /// folder. (The interpreter is checked apart, by `PythonInterpreter.resolve`, which may start
    /// it.) A sweep runs this on every trial's job before it starts the first. Returns the
    /// cluster's tier plan.
    /// `limits`: this machine's available memory and descriptor limit (read now when nil; a sweep
    /// reads them once, so that trials refused alike are refused in the same words).
    @discardableResult
    public static func check(_ spec: JobSpec, catalog: TierCatalog, limits: (memoryBytes: Int, descriptors: Int)? = nil) throws -> ClusterPlan? {
        try spec.validate()
        let plan = try clusterPlan(spec, catalog: catalog)
        let limits = try limits ?? (MachineLimits.availableMemoryBytes(), MachineLimits.descriptorLimit())
        _ = try preflight(spec, plan: plan, availableMemoryBytes: limits.memoryBytes, descriptorLimit: limits.descriptors)
        _ = try Home.localPath(spec.jobDir!)
        for file in spec.packages where !StorageURI.isStorageURI(file) {
            guard Files.exists(file), !Files.isDirectory(file) else { throw UsageError("--packages: no such file: \(file)") }
        }
        if let path = spec.packagePath { try Packager.checkFolder(path) }
        return plan
    }

    /// Everything a job must pass before it is queued, and again before its supervisor launches
    /// it: the spec's own checks; for Trainyard's trainer, the arguments after `--` parsed and
    /// validated as `train` options; and `ResourceCheck` against this machine's memory and
    /// descriptor limit. Returns the launch settings the job runs with.
    ///
    /// - Throws: `UsageError` naming the flag or argument to change.
    public static func preflight(_ spec: JobSpec, plan: ClusterPlan?, availableMemoryBytes: Int, descriptorLimit: Int) throws(UsageError) -> LaunchSettings {
        try spec.validate()
        var settings = LaunchSettings()
        settings.topology = topology(spec, plan: plan)
        settings.scaleTier = plan == nil ? nil : (spec.scaleTier ?? "BASIC")
        settings.custom = spec.custom
        settings.restartPolicy = spec.effectiveRestartPolicy
        settings.backoffLimit = spec.backoffLimit
        if spec.builtIn {
            do {
                var a = Arguments(spec.userArgs)
                settings.training = try TrainSettings.parse(&a)
                try a.finish()
                try settings.training.validate()
            } catch {
                throw UsageError("the trainer's arguments after --: \(error.message) (`trainyard train --help` lists them)")
            }
            try settings.topology.checkTrainable()
        }
        try ResourceCheck.check(settings, topology: settings.topology, availableMemoryBytes: availableMemoryBytes, descriptorLimit: descriptorLimit)
        return settings
    }

    /// The cluster's tier plan; nil for a job given by plain counts (`--workers`, `--ps`).
    public static func clusterPlan(_ spec: JobSpec, catalog: TierCatalog) throws -> ClusterPlan? {
        if spec.scaleTier == nil && (spec.workers != nil || spec.parameterServers != nil) { return nil }
        var launch = LaunchSettings()
        launch.scaleTier = spec.scaleTier ?? "BASIC"
        launch.custom = spec.custom
        let plan = try Catalog.plan(for: launch, catalog: catalog)!
        if spec.builtIn { try plan.topology.checkTrainable(hint: "--parameter-server-count N and --parameter-server-machine-type TYPE") }
        return plan
    }

    /// Resolves the interpreter and notes what will not run as asked (an interpreter standing in
    /// for the version named, container images).
    static func describeHowItRuns(_ spec: JobSpec, into record: inout JobRecord) throws {
        if spec.moduleName != nil || !spec.packages.isEmpty {
            let (path, note) = try PythonInterpreter.resolve(spec, environment: ProcessInfo.processInfo.environment)
            record.interpreter = path
            if let note { record.notes.append(note) }
        }
        for (flag, uri) in spec.imageURIs {
            record.notes.append("\(flag) \(uri) is recorded, but images do not run here: every task runs "
                + (spec.builtIn ? "Trainyard's trainer" : "the program") + " on this machine.")
        }
        if let v = spec.runtimeVersion {
            record.notes.append("Runtime version \(v) is recorded: the program runs with the libraries installed here.")
        }
    }

    /// Uploads each `--packages` file to `STAGING/JOB/SHA256/FILE` (gcloud's layout; without a
    /// staging bucket, under `JOB_DIR/packages`); a gs:// URI is used where it is. Returns the URIs.
    static func stageExtraPackages(_ files: [String], name: String, spec: JobSpec) throws -> [String] {
        var seen = Set<String>()
        var uris: [String] = []
        for file in files {
            let base = (file as NSString).lastPathComponent
            guard seen.insert(base).inserted else { throw UsageError("--packages: two packages are named \(base) (gcloud refuses duplicate file names)") }
            if StorageURI.isStorageURI(file) {
                guard Files.exists(try Home.localPath(file)) else { throw UsageError("--packages: \(file) does not exist") }
                uris.append(file)
                continue
            }
            let bytes = try Files.read(file)
            let hash = SHA256.hex(bytes)
            let root = spec.stagingBucket.map { "\($0.hasSuffix("/") ? String($0.dropLast()) : $0)/\(name)" }
                ?? "\(spec.jobDir!.hasSuffix("/") ? String(spec.jobDir!.dropLast()) : spec.jobDir!)/packages"
            let target = "\(root)/\(hash)/\(base)"
            let local = try Home.localPath(target)
            try Files.createDirectory((local as NSString).deletingLastPathComponent)
            try Files.writeAtomically(bytes, to: local)
            uris.append(target)
        }
        return uris
    }

    /// Packages `path` and uploads it unless the same content is already staged.
    public static func stage(_ path: String, name: String, spec: JobSpec) throws -> JobRecord.PackageInfo {
        let package = try Packager.scan(path)
        let file = package.name + ".tar.gz"
        let target: String = spec.stagingBucket.map { "\($0.hasSuffix("/") ? String($0.dropLast()) : $0)/\(name)/\(package.hash)/\(file)" }
            ?? "\(spec.jobDir!.hasSuffix("/") ? String(spec.jobDir!.dropLast()) : spec.jobDir!)/packages/\(package.hash)/\(file)"
        // The cache: where each content hash was staged before.
        let cachePath = Home.path + "/package-cache.json"
        var cache: [(String, JSONValue)] = (try? JSONParser.parse(Files.readText(cachePath)))?.objectValue ?? []
        if let known = cache.first(where: { $0.0 == package.hash })?.1.stringValue, let local = try? Home.localPath(known), Files.exists(local) {
            return JobRecord.PackageInfo(uri: known, hash: package.hash, cacheHit: true, bytes: Files.size(local) ?? 0)
        }
        let local = try Home.localPath(target)
        try Packager.archive(package, from: path, to: local)
        cache.removeAll { $0.0 == package.hash }
        cache.append((package.hash, .string(target)))
        try Files.createDirectory(Home.path)
        try Files.writeAtomically(JSONValue.object(cache).prettySerialized() + "\n", to: cachePath)
        return JobRecord.PackageInfo(uri: target, hash: package.hash, cacheHit: false, bytes: Files.size(local) ?? 0)
    }

    /// The processes a job runs: the tier's, or the plain counts.
    public static func topology(_ spec: JobSpec, plan: ClusterPlan?) -> Topology {
        var t = plan?.topology ?? Topology(workers: spec.workers ?? 0, parameterServers: spec.parameterServers ?? (spec.workers ?? 0 > 0 ? 1 : 0))
        t.useMasterName = !spec.useChiefInTFConfig
        return t
    }

    /// Hands `emit` each new log line (`TIME TASK: line`, every task's lines merged in time order)
    /// until the job has ended and its
    /// logs are read; returns the final record. A supervisor that died without finishing the
    /// record fails the job (`JobStore.load`) rather than leaving the caller waiting forever.
    public static func follow(_ name: String, task: String?, interval: Double, emit: (String) -> Void) throws -> JobRecord {
        var offsets: [String: Int] = [:]
        var partial: [String: String] = [:]
        var lastTimes: [String: Double] = [:]
        while true {
            let record = try JobStore.load(name)
            let folder = JobStore.logFolder(name)
            var batch = LogMerge()
            let readAt = MonotonicClock.wallNow()
            for file in Files.list(folder).sorted() where file.hasSuffix(".log") {
                let t = String(file.dropLast(4))
                if let task, t != task { continue }
                let (bytes, next) = Files.readFrom(folder + "/" + file, offset: offsets[t] ?? 0)
                offsets[t] = next
                guard !bytes.isEmpty else { continue }
                var lines = ((partial[t] ?? "") + String(decoding: bytes, as: UTF8.self)).split(separator: "\n", omittingEmptySubsequences: false)
                partial[t] = String(lines.removeLast())
                if record.state.isTerminal, let rest = partial[t], !rest.isEmpty { lines.append(Substring(rest)); partial[t] = "" }
                batch.add(task: t, lines: lines, readAt: readAt, lastTime: &lastTimes[t])
            }
            for line in batch.ordered() { emit(line) }
            if record.state.isTerminal { return record }
            // Ctrl-C stops the streaming, not the job (it runs on under its supervisor).
            try Signals.checkInterrupted("streaming the logs of \(name) (the job runs on: `trainyard jobs cancel \(name)` stops it)")
            MonotonicClock.sleep(seconds: interval)
        }
    }

    /// Stops a job: asks its supervisor to cancel, waits up to 20 s, then kills whatever of the
    /// job still runs. Returns the final record (unchanged when the job had already ended).
    public static func cancel(_ name: String) throws -> JobRecord {
        var record = try JobStore.load(name)
        if record.state.isTerminal { return record }
        record = try JobStore.update(name) { r in if r.state != .cancelling { try r.transition(to: .cancelling, at: MonotonicClock.wallNow()) } }
        // Only the recorded process: a pid reused by another process since is left alone.
        if let pid = record.supervisorPID, !record.supervisorIsGone(JobStore.observe(record)) {
            Posix.kill(pid, Signals.terminate)
            let deadline = Deadline.after(seconds: 20)
            while !deadline.hasPassed, (try? JobStore.load(name))?.state.isTerminal != true { MonotonicClock.sleep(seconds: 0.1) }
            if (try? JobStore.load(name))?.state.isTerminal != true { Posix.kill(pid, Signals.kill) }
        }
        // Whatever happened to the supervisor, nothing of the job may keep running.
        for marker in [record.jobDirectory, JobStore.folder(name)] {
            for pid in ProcessTable.processes(mentioning: marker) { Posix.kill(pid, Signals.kill) }
        }
        // A supervisor killed mid-unpack cannot clean up after itself: its task folders go here.
        removeScratch(of: record)
        return try JobStore.update(name) { r in if !r.state.isTerminal { try r.transition(to: .cancelled, at: MonotonicClock.wallNow()) } }
    }

    /// What a job that did not succeed leaves behind and should not: its unpacked task folders,
    /// and its job folder in a bucket while that holds nothing but empty folders.
    static func removeScratch(of record: JobRecord) {
        Files.remove(JobStore.folder(record.name) + "/tasks")
        if let dir = record.spec.jobDir, StorageURI.isStorageURI(dir) { Files.removeEmptyFolders(record.jobDirectory) }
    }

    // MARK: templates

    public static var templateFolder: String { Home.path + "/templates" }


    /// Saves a job definition under `name` after checking it as a submit would (`preflight`).
    public static func saveTemplate(_ name: String, spec: JobSpec) throws {
        try JobStore.validate(name: name)
        try spec.validate()
        let plan = try clusterPlan(spec, catalog: try Catalog.load())
        _ = try preflight(spec, plan: plan, availableMemoryBytes: MachineLimits.availableMemoryBytes(), descriptorLimit: try MachineLimits.descriptorLimit())
        try Files.createDirectory(templateFolder)
        try Files.writeAtomically(spec.json.prettySerialized() + "\n", to: templateFolder + "/\(name).json")
    }

    /// The names of the saved templates.
    public static func templateNames() -> [String] {
        Files.list(templateFolder).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
    }

    public static func loadTemplate(_ name: String) throws -> JobSpec {
        let path = templateFolder + "/\(name).json"
        guard let text = try? Files.readText(path) else { throw UsageError("no template named \(name) (`trainyard jobs templates` lists them)") }
        return try JobSpec(json: try JSONField.parse(text, source: path))
    }

}

/// Times as the cloud services print them (ISO 8601, UTC).
public enum ISOTime {
    public static func format(_ t: Double?) -> String {
        guard let t else { return "–" }
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: t))
    }

}
