/// The cluster half of TF_CONFIG: the address of every task, by type.
///
/// Holds exactly what TensorFlow's `ClusterSpec` takes. Evaluators are never part of it (as on
/// AI Platform and in TFJob).
public struct ClusterSpec: Sendable, Equatable {
    /// Addresses by task type; an absent type has no tasks.
    public private(set) var jobs: [TaskType: [HostPort]]

    public init(_ jobs: [TaskType: [HostPort]] = [:]) {
        self.jobs = jobs.filter { !$0.value.isEmpty }
    }

    public func addresses(of type: TaskType) -> [HostPort] { jobs[type] ?? [] }
    public func count(of type: TaskType) -> Int { jobs[type]?.count ?? 0 }
    public func address(of task: TaskID) -> HostPort? {
        let list = addresses(of: task.type)
        return list.indices.contains(task.index) ? list[task.index] : nil
    }

    /// Every task, in the order chief, master, worker, ps.
    public var tasks: [TaskID] {
        TaskType.allCases.flatMap { type in addresses(of: type).indices.map { TaskID(type, $0) } }
    }

    /// The chief's task: `chief:0`, else `master:0`, else nil.
    public var chiefTask: TaskID? {
        if count(of: .chief) > 0 { return .chief(0) }
        if count(of: .master) > 0 { return TaskID(.master, 0) }
        return nil
    }

    /// The tasks that train, chief first: each gets its own data shard.
    public var trainingTasks: [TaskID] { tasks.filter { $0.type.trains } }

    public mutating func set(_ type: TaskType, _ addresses: [HostPort]) {
        jobs[type] = addresses.isEmpty ? nil : addresses
    }

    var json: JSONValue {
        .object(TaskType.allCases.compactMap { type in
            guard let list = jobs[type] else { return nil }
            return (type.rawValue, .array(list.map { .string($0.description) }))
        })
    }
}

/// TensorFlow's TF_CONFIG environment variable, modelled exactly:
/// `{"cluster": {...}, "task": {"type": "worker", "index": 1}, "environment": ..., "job": ..., "rpc_layer": ...}`.
///
/// `environment`, `job`, `rpc_layer` and the task's `trial` are optional and kept on a round trip.
public struct TFConfig: Sendable, Equatable {
    public struct Task: Sendable, Equatable {
        public var type: TaskType
        public var index: Int
        /// The hyperparameter-tuning trial id, in tuning jobs.
        public var trial: String?

        public init(type: TaskType, index: Int, trial: String? = nil) {
            self.type = type
            self.index = index
            self.trial = trial
        }

        public var id: TaskID { TaskID(type, index) }
    }

    public var cluster: ClusterSpec
    public var task: Task
    public var environment: String?
    public var job: JSONValue?
    public var rpcLayer: String?

    public init(cluster: ClusterSpec, task: Task, environment: String? = nil, job: JSONValue? = nil, rpcLayer: String? = nil) {
        self.cluster = cluster
        self.task = task
        self.environment = environment
        self.job = job
        self.rpcLayer = rpcLayer
    }

    /// This task's own address.
    public var ownAddress: HostPort? { cluster.address(of: task.id) }

    /// Parses and validates TF_CONFIG text. Errors name the field: `task.index`, `cluster.worker[1]`.
    public init(parsing text: String, source: String = "TF_CONFIG") throws(FieldError) {
        let root = try JSONField.parseJSON(text, source: source)
        guard case .object = root.value else { throw root.fail("expected a JSON object, got \(root.value.kindName)") }

        // cluster
        var cluster = ClusterSpec()
        var seen: [HostPort: String] = [:]
        if let clusterField = try root.optional("cluster") {
            for (name, list) in try clusterField.entries() {
                guard let type = TaskType(rawValue: name) else {
                    throw FieldError(source: source, path: list.path, "unknown task type \"\(name)\" (expected chief, master, worker, ps or evaluator)")
                }
                var addresses: [HostPort] = []
                for item in try list.array() {
                    let text = try item.string()
                    let address: HostPort
                    do { address = try HostPort(parsing: text) } catch { throw item.fail(error.message) }
                    if let other = seen[address] {
                        throw item.fail("duplicate address \(address): already used by \(other)")
                    }
                    seen[address] = item.path
                    addresses.append(address)
                }
                cluster.set(type, addresses)
            }
        }
        if cluster.count(of: .chief) > 1 { throw FieldError(source: source, path: "cluster.chief", "a cluster has at most one chief") }
        if cluster.count(of: .master) > 1 { throw FieldError(source: source, path: "cluster.master", "a cluster has at most one master") }
        if cluster.count(of: .chief) > 0 && cluster.count(of: .master) > 0 {
            throw FieldError(source: source, path: "cluster", "has both chief and master; use one name for the chief")
        }

        // task
        let taskField = try root.required("task")
        let typeField = try taskField.required("type")
        let typeName = try typeField.string()
        guard let type = TaskType(rawValue: typeName) else {
            throw typeField.fail("unknown task type \"\(typeName)\" (expected chief, master, worker, ps or evaluator)")
        }
        let indexField = try taskField.required("index")
        let index: Int
        if case .string(let s) = indexField.value, let i = Int(s) { index = i } else { index = try indexField.int() }
        if type != .evaluator {
            let count = cluster.count(of: type)
            guard count > 0 else {
                throw typeField.fail("task type \"\(typeName)\" has no addresses in cluster")
            }
            guard (0..<count).contains(index) else {
                throw indexField.fail("\(index) is out of range: the cluster has \(count) \(typeName) task\(count == 1 ? "" : "s") (0...\(count - 1))")
            }
        } else if index < 0 {
            throw indexField.fail("\(index) is out of range: an index is ≥ 0")
        }
        var trial: String?
        if let t = try taskField.optional("trial") {
            if case .number = t.value { trial = JSONValue.format(try t.double()) } else { trial = try t.string() }
        }

        self.cluster = cluster
        self.task = Task(type: type, index: index, trial: trial)
        self.environment = try root.optional("environment")?.string()
        self.job = try root.optional("job")?.value
        self.rpcLayer = try root.optional("rpc_layer")?.string()
    }

    /// The TF_CONFIG JSON on one line, keys in TensorFlow's order.
    public func serialized() -> String { json.serialized() }

    public var json: JSONValue {
        var task: [(String, JSONValue)] = [("type", .string(task.type.rawValue)), ("index", JSONValue(task.index))]
        if let trial = self.task.trial { task.append(("trial", .string(trial))) }
        var fields: [(String, JSONValue)] = [("cluster", cluster.json), ("task", .object(task))]
        if let job { fields.append(("job", job)) }
        if let environment { fields.append(("environment", .string(environment))) }
        if let rpcLayer { fields.append(("rpc_layer", .string(rpcLayer))) }
        return .object(fields)
    }
}
