/// gcloud's CUSTOM-tier flags and their rules (`jobs_util.py`, `flags.py`):
/// - `--master-machine-type` is required when the tier is CUSTOM;
/// - `--worker-count` and `--worker-machine-type` come together, the count ≥ 1;
/// - `--parameter-server-count` and `--parameter-server-machine-type` come together, the count ≥ 1;
/// - every machine type must be in the catalog.
public struct CustomClusterFlags: Sendable, Equatable {
    public var masterMachineType: String?
    public var workerCount: Int?
    public var workerMachineType: String?
    public var parameterServerCount: Int?
    public var parameterServerMachineType: String?

    public init() {}

    public var isEmpty: Bool { self == CustomClusterFlags() }

    public static let help: [(String, String)] = [
        ("--scale-tier TIER", "BASIC, STANDARD_1, PREMIUM_1, BASIC_GPU, BASIC_TPU or CUSTOM (any tier in ScaleTiers/)"),
        ("--master-machine-type TYPE", "CUSTOM: the master's machine type (required)"),
        ("--worker-count N --worker-machine-type TYPE", "CUSTOM: workers (both or neither, N ≥ 1)"),
        ("--parameter-server-count N --parameter-server-machine-type TYPE", "CUSTOM: parameter servers (both or neither, N ≥ 1)"),
    ]

    public static func parse(_ args: inout Arguments) throws(UsageError) -> CustomClusterFlags {
        var f = CustomClusterFlags()
        f.masterMachineType = try args.value("--master-machine-type")
        f.workerCount = try args.int("--worker-count")
        f.workerMachineType = try args.value("--worker-machine-type")
        f.parameterServerCount = try args.int("--parameter-server-count")
        f.parameterServerMachineType = try args.value("--parameter-server-machine-type")
        return f
    }

    /// The CUSTOM cluster these flags give, checked against gcloud's rules and the catalog.
    public func plan(in catalog: TierCatalog) throws(UsageError) -> ClusterPlan {
        guard let masterName = masterMachineType else {
            throw UsageError("--master-machine-type is required when --scale-tier is CUSTOM")
        }
        func type(_ name: String, _ flag: String) throws(UsageError) -> MachineType {
            guard let m = catalog.machineTypes[name] else {
                let names = catalog.machineTypes.keys.sorted()
                let near = names.min { editDistance($0, name) < editDistance($1, name) }
                throw UsageError("\(flag): unknown machine type \"\(name)\"" + (near.map { " (did you mean \($0)?)" } ?? "") + "; `trainyard tiers machine-types` lists them")
            }
            return m
        }
        let master = try type(masterName, "--master-machine-type")
        guard master.vcpus > 0 else { throw UsageError("--master-machine-type \(masterName) has no vCPUs: the master must run the training program") }
        var worker: MachineType?
        switch (workerCount, workerMachineType) {
        case (nil, nil): break
        case (let n?, let t?):
            guard n >= 1 else { throw UsageError("--worker-count must be at least 1, got \(n)") }
            worker = try type(t, "--worker-machine-type")
        case (nil, _?): throw UsageError("--worker-machine-type needs --worker-count")
        case (_?, nil): throw UsageError("--worker-count needs --worker-machine-type")
        }
        var ps: MachineType?
        switch (parameterServerCount, parameterServerMachineType) {
        case (nil, nil): break
        case (let n?, let t?):
            guard n >= 1 else { throw UsageError("--parameter-server-count must be at least 1, got \(n)") }
            ps = try type(t, "--parameter-server-machine-type")
            guard ps!.vcpus > 0 else { throw UsageError("--parameter-server-machine-type \(t) has no vCPUs") }
        case (nil, _?): throw UsageError("--parameter-server-machine-type needs --parameter-server-count")
        case (_?, nil): throw UsageError("--parameter-server-count needs --parameter-server-machine-type")
        }
        return ClusterPlan(tierName: "CUSTOM", master: master, workerCount: worker == nil ? 0 : workerCount!, worker: worker,
                           parameterServerCount: ps == nil ? 0 : parameterServerCount!, parameterServer: ps)
    }
}
