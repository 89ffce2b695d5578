import Foundation
import TrainyardCore
import TrainyardPlatform

/// Finds and loads the scale-tier catalog.
public enum Catalog {
    /// `--tiers-dir`, else `TRAINYARD_TIERS`, else the `ScaleTiers/` folder of the checkout the
    /// executable was built in, else `./ScaleTiers`. Files in `$TRAINYARD_HOME/tiers/` are added.
    public static func directory(_ explicit: String?) throws -> String {
        if let explicit { return explicit }
        if let env = Posix.environment("TRAINYARD_TIERS") { return env }
        var dir = Files.executableDirectory()
        while dir != "/" && !dir.isEmpty {
            if Files.exists(dir + "/ScaleTiers/machine-types.json") { return dir + "/ScaleTiers" }
            dir = (dir as NSString).deletingLastPathComponent
        }
        if Files.exists("ScaleTiers/machine-types.json") { return "ScaleTiers" }
        throw RuntimeFailure("cannot find the scale-tier catalog (ScaleTiers/machine-types.json): give --tiers-dir DIR or set TRAINYARD_TIERS", exitCode: .invalidInput)
    }

    public static func load(_ explicit: String? = nil) throws -> TierCatalog {
        let dir = try directory(explicit)
        var files: [(name: String, text: String)] = []
        var folders = [dir]
        let home = Posix.environment("TRAINYARD_HOME") ?? ((Posix.environment("HOME") ?? ".") + "/.trainyard")
        if Files.isDirectory(home + "/tiers") { folders.append(home + "/tiers") }
        for folder in folders {
            for name in Files.list(folder).sorted() where SpecFile.isSpec(name) {
                let path = folder + "/" + name
                files.append((path, try Files.readText(path)))
            }
        }
        guard !files.isEmpty else { throw RuntimeFailure("\(dir) holds no tier files", exitCode: .invalidInput) }
        return try TierCatalog(files: files)
    }

    /// The cluster a launch asks for: its tier (or CUSTOM flags) resolved against the catalog.
    public static func plan(for settings: LaunchSettings, catalog: TierCatalog) throws -> ClusterPlan? {
        guard let name = settings.scaleTier else { return nil }
        guard let tier = catalog.tier(named: name) else {
            throw UsageError("unknown scale tier \"\(name)\" (tiers: \(catalog.orderedTiers.map(\.name).joined(separator: ", ")))")
        }
        if tier.custom { return try settings.custom.plan(in: catalog) }
        return try catalog.plan(for: tier)
    }

    /// The factor that maps cloud bandwidth to this machine's: local cores over the cluster's cloud
    /// vCPUs, so compute and network shrink together (Docs/cost-model.md).
    public static func defaultBandwidthScale(_ plan: ClusterPlan, localCores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Double {
        Double(localCores) / Double(max(1, plan.totalVCPUs))
    }
}
