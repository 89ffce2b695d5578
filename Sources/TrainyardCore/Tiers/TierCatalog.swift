/// One machine type of the catalog: its size, network, accelerators and price, each figure with
/// its source (in the file) and whether it is derived or unverified.
public struct MachineType: Sendable, Equatable {
    public struct Accelerator: Sendable, Equatable {
        public var type: String
        public var count: Int
    }

    public var name: String
    public var family: String
    public var vcpus: Int
    public var memoryGB: Double
    public var networkGbps: Double
    public var accelerators: [Accelerator]
    /// Dollars per hour; nil when no price list gives one.
    public var pricePerHour: Double?
    public var mlUnitsPerHour: Double?
    public var priceList: String?
    public var derived: [String]
    public var unverified: [String]
    public var source: String

    /// Egress bandwidth in bytes per second.
    public var bytesPerSecond: Double { networkGbps * 1e9 / 8 }
}

/// A scale tier: the cluster it gives, and its listed price.
public struct ScaleTier: Sendable, Equatable {
    public var name: String
    public var gcloudName: String
    public var description: String
    public var custom: Bool
    public var master: String?
    public var workerCount: Int
    public var workerType: String?
    public var parameterServerCount: Int
    public var parameterServerType: String?
    public var listedPricePerHour: Double?
    public var listedMLUnitsPerHour: Double?
    public var priceList: String?
    public var rules: [String]
    public var derived: [String]
    public var source: String
}

/// A concrete cluster: which machine type each role runs on, and how many. A tier gives one; so do
/// CUSTOM's flags.
public struct ClusterPlan: Sendable, Equatable, CustomStringConvertible {
    public var tierName: String
    public var master: MachineType
    public var workerCount: Int
    public var worker: MachineType?
    public var parameterServerCount: Int
    public var parameterServer: MachineType?

    /// Workers that are processes here: accelerator-only machines (a Cloud TPU) run nothing.
    public var processWorkers: Int { worker.map { $0.vcpus > 0 ? workerCount : 0 } ?? 0 }

    public var topology: Topology { Topology(workers: processWorkers, parameterServers: parameterServerCount) }

    /// Every machine of the cluster, with its count.
    public var machines: [(MachineType, Int)] {
        [(master, 1)] + (worker.map { [($0, workerCount)] } ?? []) + (parameterServer.map { [($0, parameterServerCount)] } ?? [])
    }

    public func machineType(of task: TaskID) -> MachineType? {
        switch task.type {
        case .chief, .master: return master
        case .worker: return worker
        case .ps: return parameterServer
        case .evaluator: return nil
        }
    }

    /// Dollars per hour from the machines' prices; nil when one has no price.
    public var pricePerHour: Double? {
        var total = 0.0
        for (m, n) in machines {
            guard let p = m.pricePerHour else { return nil }
            total += p * Double(n)
        }
        return total
    }

    public var mlUnitsPerHour: Double? {
        var total = 0.0
        for (m, n) in machines {
            guard let u = m.mlUnitsPerHour else { return nil }
            total += u * Double(n)
        }
        return total
    }

    public var totalVCPUs: Int { machines.reduce(0) { $0 + $1.0.vcpus * $1.1 } }

    public var description: String {
        var parts = ["master \(master.name)"]
        if let worker, workerCount > 0 { parts.append("\(workerCount) × worker \(worker.name)") }
        if let ps = parameterServer, parameterServerCount > 0 { parts.append("\(parameterServerCount) × ps \(ps.name)") }
        return parts.joined(separator: " + ")
    }
}

/// The machine types and tiers of `ScaleTiers/` (and any other folder), validated on load.
///
/// Every `*.json` file is read: `"kind": "machine_types"` files add machine types (a list under
/// `machine_types`), `"kind": "machine_type"` files add one, `"kind": "scale_tier"` files add a tier.
/// So a user adds a tier or a machine type by adding a file. Names must be unique; a tier may only
/// name machine types the catalog has.
public struct TierCatalog: Sendable {
    public private(set) var machineTypes: [String: MachineType] = [:]
    public private(set) var tiers: [String: ScaleTier] = [:]
    public private(set) var priceLists: [String: (description: String, date: String, dollarsPerUnit: Double)] = [:]
    public private(set) var billingMinimumMinutes = 10.0
    public private(set) var billingGranularityMinutes = 1.0
    public private(set) var files: [String] = []

    public init() {}

    /// Builds the catalog from (file name, contents) pairs.
    public init(files: [(name: String, text: String)]) throws(FieldError) {
        var pendingTiers: [(ScaleTier, JSONField)] = []
        for (name, text) in files.sorted(by: { $0.name < $1.name }) {
            let root = try JSONField.parse(text, source: name)
            let kind = try root.required("kind").string()
            switch kind {
            case "machine_types":
                try root.rejectUnknownKeys(["kind", "description", "price_lists", "billing", "machine_types"])
                if let lists = try root.optional("price_lists") {
                    for (id, list) in try lists.entries() {
                        priceLists[id] = (try list.optional("description")?.string() ?? "", try list.required("date").string(),
                                          try TierCatalog.nonNegative(list, "dollars_per_ml_unit") ?? 0.49)
                    }
                }
                if let billing = try root.optional("billing") {
                    billingMinimumMinutes = try billing.optional("minimum_minutes")?.double() ?? billingMinimumMinutes
                    billingGranularityMinutes = try billing.optional("granularity_minutes")?.double() ?? billingGranularityMinutes
                }
                for m in try root.required("machine_types").array() { try add(try TierCatalog.machineType(m)) }
            case "machine_type":
                try add(try TierCatalog.machineType(root))
            case "scale_tier":
                pendingTiers.append((try TierCatalog.tier(root), root))
            default:
                throw FieldError(source: name, path: "kind", "unknown kind \"\(kind)\" (expected machine_types, machine_type or scale_tier)")
            }
            self.files.append(name)
        }
        for (tier, field) in pendingTiers {
            guard tiers[tier.name] == nil else { throw field.fail("a second tier named \(tier.name)") }
            for (path, type) in [("master", tier.master), ("workers.type", tier.workerType), ("parameter_servers.type", tier.parameterServerType)] {
                if let type, machineTypes[type] == nil {
                    throw FieldError(source: field.source, path: path, "unknown machine type \"\(type)\" (the catalog has \(machineTypes.keys.sorted().joined(separator: ", ")))")
                }
            }
            if let list = tier.priceList, priceLists[list] == nil {
                throw FieldError(source: field.source, path: "price_list", "unknown price list \"\(list)\"")
            }
            tiers[tier.name] = tier
        }
    }

    private mutating func add(_ m: (MachineType, JSONField)) throws(FieldError) {
        guard machineTypes[m.0.name] == nil else { throw m.1.fail("a second machine type named \(m.0.name)") }
        if let list = m.0.priceList, !priceLists.isEmpty, priceLists[list] == nil {
            throw FieldError(source: m.1.source, path: m.1.path + ".price_list", "unknown price list \"\(list)\"")
        }
        machineTypes[m.0.name] = m.0
    }

    static func machineType(_ f: JSONField) throws(FieldError) -> (MachineType, JSONField) {
        try f.rejectUnknownKeys(["kind", "name", "family", "vcpus", "memory_gb", "network_gbps", "accelerators", "price_per_hour",
                                 "ml_units_per_hour", "price_list", "sources", "derived", "unverified", "note"])
        var accelerators: [MachineType.Accelerator] = []
        for a in try f.optional("accelerators")?.array() ?? [] {
            accelerators.append(.init(type: try a.required("type").string(), count: try a.required("count").int(in: 1...64)))
        }
        func nonNegative(_ key: String) throws(FieldError) -> Double? { try TierCatalog.nonNegative(f, key) }
        let sources = try f.required("sources")
        _ = try sources.entries()
        let m = MachineType(
            name: try f.required("name").string(), family: try f.optional("family")?.string() ?? "custom",
            vcpus: try f.required("vcpus").int(in: 0...1024), memoryGB: try nonNegative("memory_gb") ?? 0,
            networkGbps: try nonNegative("network_gbps") ?? 0, accelerators: accelerators,
            pricePerHour: try nonNegative("price_per_hour"), mlUnitsPerHour: try nonNegative("ml_units_per_hour"),
            priceList: try f.optional("price_list")?.string(),
            derived: try (f.optional("derived")?.array() ?? []).map { (x) throws(FieldError) in try x.string() },
            unverified: try (f.optional("unverified")?.array() ?? []).map { (x) throws(FieldError) in try x.string() },
            source: f.source)
        guard m.vcpus > 0 || !m.accelerators.isEmpty else { throw FieldError(source: f.source, path: f.childPath("vcpus"), "a machine type needs vCPUs or accelerators") }
        return (m, f)
    }

    /// The number at `key` of `f`, if present; a price, size or rate below 0 is an error naming the field.
    static func nonNegative(_ f: JSONField, _ key: String) throws(FieldError) -> Double? {
        guard let x = try f.optional(key) else { return nil }
        let v = try x.double()
        guard v >= 0 else { throw x.fail("must be ≥ 0 (got \(v))") }
        return v
    }

    static func tier(_ f: JSONField) throws(FieldError) -> ScaleTier {
        try f.rejectUnknownKeys(["kind", "name", "gcloud_name", "description", "custom", "master", "workers", "parameter_servers",
                                 "listed_price_per_hour", "listed_ml_units_per_hour", "price_list", "sources", "derived", "rules", "local_note"])
        let custom = try f.optional("custom")?.bool() ?? false
        var workerCount = 0, psCount = 0
        var workerType: String?, psType: String?
        if let w = try f.optional("workers") {
            workerCount = try w.required("count").int(in: 0...10_000)
            workerType = try w.required("type").string()
        }
        if let p = try f.optional("parameter_servers") {
            psCount = try p.required("count").int(in: 0...10_000)
            psType = try p.required("type").string()
        }
        let master = try f.optional("master")?.string()
        if !custom && master == nil { throw FieldError(source: f.source, path: "master", "is required (the master's machine type)") }
        return ScaleTier(
            name: try f.required("name").string(), gcloudName: try f.optional("gcloud_name")?.string() ?? "",
            description: try f.optional("description")?.string() ?? "", custom: custom, master: master,
            workerCount: workerCount, workerType: workerType, parameterServerCount: psCount, parameterServerType: psType,
            listedPricePerHour: try TierCatalog.nonNegative(f, "listed_price_per_hour"),
            listedMLUnitsPerHour: try TierCatalog.nonNegative(f, "listed_ml_units_per_hour"),
            priceList: try f.optional("price_list")?.string(),
            rules: try (f.optional("rules")?.array() ?? []).map { (x) throws(FieldError) in try x.string() },
            derived: try (f.optional("derived")?.array() ?? []).map { (x) throws(FieldError) in try x.string() },
            source: f.source)
    }

    /// The tier called `name` — its API name (`STANDARD_1`) or gcloud's (`standard-1`), any case.
    public func tier(named name: String) -> ScaleTier? {
        let key = name.uppercased().map { $0 == "-" ? "_" : $0 }
        return tiers[String(key)] ?? tiers.values.first { $0.gcloudName.lowercased() == name.lowercased() }
    }

    /// Tiers in the order people read them: BASIC, STANDARD_1, PREMIUM_1, BASIC_GPU, BASIC_TPU, then the rest, CUSTOM last.
    public var orderedTiers: [ScaleTier] {
        let order = ["BASIC", "STANDARD_1", "PREMIUM_1", "BASIC_GPU", "BASIC_TPU"]
        return tiers.values.sorted { a, b in
            let ia = a.custom ? 1000 : (order.firstIndex(of: a.name) ?? 100)
            let ib = b.custom ? 1000 : (order.firstIndex(of: b.name) ?? 100)
            return ia != ib ? ia < ib : a.name < b.name
        }
    }

    /// The cluster a (non-CUSTOM) tier gives.
    public func plan(for tier: ScaleTier) throws(UsageError) -> ClusterPlan {
        guard !tier.custom else {
            throw UsageError("--scale-tier CUSTOM needs --master-machine-type (and optionally --worker-count/--worker-machine-type, --parameter-server-count/--parameter-server-machine-type)")
        }
        return ClusterPlan(tierName: tier.name, master: machineTypes[tier.master!]!, workerCount: tier.workerCount,
                           worker: tier.workerType.flatMap { machineTypes[$0] }, parameterServerCount: tier.parameterServerCount,
                           parameterServer: tier.parameterServerType.flatMap { machineTypes[$0] })
    }
}
