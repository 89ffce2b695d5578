import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard tiers list|show|machine-types`.
enum TiersCommand {
    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if try args.flag("--help") {
            print(TrainyardCommand.helpText("trainyard tiers list | show TIER | machine-types [--json] [--tiers-dir DIR]", [
                ("list", "every tier: topology, $/h, ML units/h"),
                ("show TIER", "one tier: its machines with their figures and sources"),
                ("machine-types", "the machine-type catalog"),
                ("--json", "JSON output"),
            ]))
            return .success
        }
        let json = try args.flag("--json")
        let dir = try args.value("--tiers-dir")
        let sub = args.positional() ?? "list"
        let catalog = try Catalog.load(dir)
        switch sub {
        case "list":
            try args.finish()
            if json {
                print(JSONValue.array(catalog.orderedTiers.map { tierJSON($0, catalog) }).prettySerialized())
            } else {
                var rows = [["tier", "topology", "$/hour", "ML units/hour", "price list"]]
                for t in catalog.orderedTiers {
                    let plan = t.custom ? nil : try? catalog.plan(for: t)
                    rows.append([t.name, plan?.description ?? "you choose (--master-machine-type …)",
                                 t.listedPricePerHour.map { String(format: "%.4f", $0) } ?? (plan?.pricePerHour.map { String(format: "%.4f", $0) } ?? "sum of machines"),
                                 t.listedMLUnitsPerHour.map { String(format: "%.4f", $0) } ?? "–", t.priceList.flatMap { catalog.priceLists[$0]?.date } ?? "–"])
                }
                print(TextTable.render(rows))
            }
        case "show":
            guard let name = args.positional() else { throw UsageError("tiers show needs a tier name") }
            try args.finish()
            guard let tier = catalog.tier(named: name) else {
                throw UsageError("unknown scale tier \"\(name)\" (tiers: \(catalog.orderedTiers.map(\.name).joined(separator: ", ")))")
            }
            if json { print(tierJSON(tier, catalog).prettySerialized()); return .success }
            var lines = ["\(tier.name) (gcloud: \(tier.gcloudName)) — \(tier.description)"]
            if tier.custom {
                lines.append("rules:")
                lines += tier.rules.map { "  - \($0)" }
            } else {
                let plan = try catalog.plan(for: tier)
                lines.append("cluster: \(plan.description)")
                var rows = [["role", "count", "machine type", "vCPUs", "memory GB", "network Gbps", "accelerators", "$/hour", "ML units/hour"]]
                for (role, m, n) in [("master", plan.master, 1)] + (plan.worker.map { [("worker", $0, plan.workerCount)] } ?? [])
                    + (plan.parameterServer.map { [("ps", $0, plan.parameterServerCount)] } ?? []) {
                    rows.append([role, String(n), m.name, String(m.vcpus), JSONValue.format(m.memoryGB), JSONValue.format(m.networkGbps),
                                 m.accelerators.map { "\($0.count)× \($0.type)" }.joined(separator: ", "),
                                 m.pricePerHour.map { JSONValue.format($0) } ?? "–", m.mlUnitsPerHour.map { JSONValue.format($0) } ?? "–"])
                }
                lines.append(TextTable.render(rows))
                lines.append(String(format: "price: listed $%@/h (%@ ML units/h); the machines add up to $%@/h", tier.listedPricePerHour.map { JSONValue.format($0) } ?? "–",
                                    tier.listedMLUnitsPerHour.map { JSONValue.format($0) } ?? "–", plan.pricePerHour.map { String(format: "%.4f", $0) } ?? "–"))
                if let list = tier.priceList, let l = catalog.priceLists[list] { lines.append("price list: \(l.description), \(l.date)") }
                if !tier.derived.isEmpty { lines.append("derived (not stated by the source): \(tier.derived.joined(separator: ", ")) — see \(tier.source)") }
                lines.append("locally: \(plan.topology) (\(plan.topology.taskCount) processes)")
            }
            print(lines.joined(separator: "\n"))
        case "machine-types":
            try args.finish()
            let types = catalog.machineTypes.values.sorted { ($0.family, $0.vcpus, $0.name) < ($1.family, $1.vcpus, $1.name) }
            if json {
                print(JSONValue.array(types.map(machineJSON)).prettySerialized())
            } else {
                var rows = [["machine type", "vCPUs", "memory GB", "network Gbps", "accelerators", "$/hour", "ML units/h", "derived / unverified"]]
                for m in types {
                    rows.append([m.name, String(m.vcpus), JSONValue.format(m.memoryGB), JSONValue.format(m.networkGbps),
                                 m.accelerators.map { "\($0.count)× \($0.type)" }.joined(separator: ", "), m.pricePerHour.map { JSONValue.format($0) } ?? "–",
                                 m.mlUnitsPerHour.map { JSONValue.format($0) } ?? "–", (m.derived.map { "d:" + $0 } + m.unverified.map { "u:" + $0 }).joined(separator: " ")])
                }
                print(TextTable.render(rows))
            }
        default:
            throw UsageError("unknown tiers subcommand \"\(sub)\" (expected list, show or machine-types)")
        }
        return .success
    }

    static func machineJSON(_ m: MachineType) -> JSONValue {
        .object([("name", .string(m.name)), ("family", .string(m.family)), ("vcpus", JSONValue(m.vcpus)), ("memory_gb", JSONValue(m.memoryGB)),
                 ("network_gbps", JSONValue(m.networkGbps)),
                 ("accelerators", .array(m.accelerators.map { .object([("type", .string($0.type)), ("count", JSONValue($0.count))]) })),
                 ("price_per_hour", m.pricePerHour.map { JSONValue($0) } ?? .null), ("ml_units_per_hour", m.mlUnitsPerHour.map { JSONValue($0) } ?? .null),
                 ("price_list", m.priceList.map { JSONValue($0) } ?? .null), ("derived", JSONValue(m.derived)), ("unverified", JSONValue(m.unverified)),
                 ("file", .string(m.source))])
    }

    static func tierJSON(_ t: ScaleTier, _ catalog: TierCatalog) -> JSONValue {
        var fields: [(String, JSONValue)] = [("name", .string(t.name)), ("gcloud_name", .string(t.gcloudName)), ("description", .string(t.description)),
                                             ("custom", .bool(t.custom))]
        if !t.custom, let plan = try? catalog.plan(for: t) {
            fields.append(("topology", .object([("master", .string(plan.master.name)), ("workers", JSONValue(plan.workerCount)),
                                                ("worker_type", plan.worker.map { JSONValue($0.name) } ?? .null),
                                                ("parameter_servers", JSONValue(plan.parameterServerCount)),
                                                ("parameter_server_type", plan.parameterServer.map { JSONValue($0.name) } ?? .null),
                                                ("local_processes", JSONValue(plan.topology.taskCount))])))
            fields.append(("machines_price_per_hour", plan.pricePerHour.map { JSONValue($0) } ?? .null))
            fields.append(("machines_ml_units_per_hour", plan.mlUnitsPerHour.map { JSONValue($0) } ?? .null))
        } else {
            fields.append(("rules", JSONValue(t.rules)))
        }
        fields.append(("listed_price_per_hour", t.listedPricePerHour.map { JSONValue($0) } ?? .null))
        fields.append(("listed_ml_units_per_hour", t.listedMLUnitsPerHour.map { JSONValue($0) } ?? .null))
        fields.append(("price_list", t.priceList.flatMap { l in catalog.priceLists[l].map { JSONValue.object([("id", .string(l)), ("date", .string($0.date))]) } } ?? .null))
        fields.append(("derived", JSONValue(t.derived)))
        fields.append(("file", .string(t.source)))
        return .object(fields)
    }
}
