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

    /// gcloud's CUSTOM flags, declared once.
    public static let options = OptionTable<CustomClusterFlags>([
        .string("master-machine-type", \.masterMachineType, placeholder: "TYPE", help: "CUSTOM: the master's machine type (required)"),
        .int("worker-count", \.workerCount, placeholder: "N", help: "CUSTOM: workers (with --worker-machine-type, N ≥ 1)"),
        .string("worker-machine-type", \.workerMachineType, placeholder: "TYPE", help: "CUSTOM: the workers' machine type (with --worker-count)"),
        .int("parameter-server-count", \.parameterServerCount, placeholder: "N",
             help: "CUSTOM: parameter servers (with --parameter-server-machine-type, N ≥ 1)"),
        .string("parameter-server-machine-type", \.parameterServerMachineType, placeholder: "TYPE",
                help: "CUSTOM: the parameter servers' machine type (with --parameter-server-count)"),
    ], defaults: CustomClusterFlags())

    /// `--scale-tier`, for the settings that hold the tier's name beside these flags.
    public static func scaleTierOption<Root>(_ field: WritableKeyPath<Root, String?> & Sendable) -> OptionSpec<Root> {
        .string("scale-tier", field, placeholder: "TIER", help: "BASIC, STANDARD_1, PREMIUM_1, BASIC_GPU, BASIC_TPU or CUSTOM (any tier in ScaleTiers/)")
    }

    private struct Tier { var name: String? }

    /// `--scale-tier` and the CUSTOM flags, for help texts.
    public static var help: [(String, String)] {
        OptionTable<Tier>([scaleTierOption(\.name)], defaults: nil).helpLines + options.helpLines
    }

    public static func parse(_ args: inout Arguments) throws(UsageError) -> CustomClusterFlags {
        var f = CustomClusterFlags()
        try options.parse(&args, into: &f)
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
