import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard`'s command table and entry point.
public enum TrainyardCommand {
    public static let version = "0.1.0"

    static let commands: [(name: String, summary: String, run: @Sendable ([String]) throws -> ExitCode)] = [
        ("train", "run a training job locally: chief, workers and parameter servers as processes", TrainCommand.run),
        ("cluster-spec", "print the TF_CONFIG each task of a topology gets", ClusterSpecCommand.run),
        ("scenario", "run failure scenarios: faults on a timeline, expectations checked", ScenarioCommand.run),
        ("tiers", "scale tiers and machine types: list, show TIER, machine-types", TiersCommand.run),
        ("calibrate", "measure this machine for the cost model", CalibrateCommand.run),
        ("cost", "predict a job's time and price on a tier; compare, validate", CostCommand.run),
        ("jobs", "jobs like a cloud service: submit training, list, describe, stream-logs, cancel, templates", JobsCommand.run),
        ("storage", "emulated buckets: ls, cp, cat, rm on gs:// URIs", StorageCommand.run),
        ("sweep", "hyperparameter sweeps with early termination: run, list, describe", SweepCommand.run),
        ("models", "the model registry: register, list, show", ModelsCommand.run),
        ("bench", "measure the training kernel: GEMM GFLOP/s and MLP examples/s, against numpy when present", BenchCommand.run),
        ("version", "print the version", { _ in print("trainyard \(version) (kernel \(KernelBackendName.current))"); return .success }),
    ]

    public static func main() -> Never {
        Signals.install()
        let argv = Array(CommandLine.arguments.dropFirst())
        let code: ExitCode
        do {
            code = try dispatch(argv)
        } catch let e as TrainyardError {
            Posix.write("trainyard: error: \(e)\n", to: 2)
            if e.exitCode == .usage { Posix.write("run `trainyard help` for usage\n", to: 2) }
            code = e.exitCode
        } catch {
            Posix.write("trainyard: error: \(error)\n", to: 2)
            code = .failure
        }
        exit(code.rawValue)
    }

    static func dispatch(_ argv: [String]) throws -> ExitCode {
        guard let name = argv.first, !["help", "--help", "-h"].contains(name) else {
            if argv.count > 1, let topic = commands.first(where: { $0.name == argv[1] }) {
                return try topic.run(["--help"])
            }
            print(usage)
            return .success
        }
        if name == "_shim" { return try Shim.run(Array(argv.dropFirst())) }
        if name == "_supervise" { return try JobSupervisor.run(Array(argv.dropFirst())) }
        guard let command = commands.first(where: { $0.name == name }) else {
            let suggestion = commands.map(\.name).min { editDistanceCLI($0, name) < editDistanceCLI($1, name) }
            throw UsageError("unknown command \"\(name)\"" + (suggestion.map { " (did you mean \($0)?)" } ?? ""))
        }
        return try command.run(Array(argv.dropFirst()))
    }

    static var usage: String {
        var lines = ["usage: trainyard COMMAND [OPTIONS]", "", "Trainyard runs a parameter-server training cluster on this machine as real processes.", "", "commands:"]
        for c in commands { lines.append("  " + c.name.padding(toLength: 14, withPad: " ", startingAt: 0) + c.summary) }
        lines += ["", "`trainyard COMMAND --help` shows a command's options. Exit codes: 0 success, 1 job failed, 2 usage,",
                  "3 invalid input, 4 system error, 5 cluster error, 130 interrupted (Docs/cli.md)."]
        return lines.joined(separator: "\n")
    }

    static func helpText(_ synopsis: String, _ options: [(String, String)]) -> String {
        var lines = ["usage: " + synopsis, "", "options:"]
        let width = min(40, (options.map(\.0.count).max() ?? 0) + 2)
        for (flag, meaning) in options {
            if flag.count + 2 > width {
                lines.append("  " + flag)
                lines.append("  " + String(repeating: " ", count: width) + meaning)
            } else {
                lines.append("  " + flag.padding(toLength: width, withPad: " ", startingAt: 0) + meaning)
            }
        }
        return lines.joined(separator: "\n")
    }
}

func editDistanceCLI(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var prev = Array(0...b.count)
    for i in 1...a.count {
        var cur = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count { cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)) }
        prev = cur
    }
    return prev[b.count]
}

enum ClusterSpecCommand {
    static let options: [(String, String)] = [
        ("--workers N", "worker tasks (default 2)"),
        ("--ps M", "parameter servers (default 2)"),
        ("--start-port P", "first port; tasks get consecutive ports in the order chief, workers, ps (default 27182)"),
        ("--task TYPE:INDEX", "print only this task's TF_CONFIG"),
        ("--host HOST", "host name in the addresses (default localhost)"),
        ("--master", "call the chief `master` (AI Platform's TF 1 naming) instead of `chief`"),
    ]

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if try args.flag("--help") {
            print(TrainyardCommand.helpText("trainyard cluster-spec [--workers N] [--ps M] [--start-port P] [--task TYPE:INDEX]", options))
            return .success
        }
        let workers = try args.int("--workers", in: 0...10_000) ?? 2
        let ps = try args.int("--ps", in: 0...10_000) ?? 2
        let start = try args.int("--start-port", in: 1...65535) ?? 27182
        let host = try args.value("--host") ?? "localhost"
        let master = try args.flag("--master")
        let only = try args.value("--task")
        try args.finish()
        let topology = Topology(workers: workers, parameterServers: ps, useMasterName: master)
        guard start + topology.taskCount - 1 <= 65535 else {
            throw UsageError("--start-port \(start) leaves no room for \(topology.taskCount) ports below 65536")
        }
        let cluster = topology.clusterSpec(host: host, startPort: start)
        var tasks = topology.tasks
        if let only {
            let wanted: TaskID
            do { wanted = try TaskID(parsing: only) } catch { throw UsageError("--task: \(error.message)") }
            guard tasks.contains(wanted) else {
                throw UsageError("--task \(only): the topology has no such task (it has \(tasks.map(\.description).joined(separator: ", ")))")
            }
            tasks = [wanted]
        }
        for task in tasks {
            print(TFConfig(cluster: cluster, task: .init(type: task.type, index: task.index)).serialized())
        }
        return .success
    }
}

enum TrainCommand {
    static func run(_ argv: [String]) throws -> ExitCode {
        if argv.contains("--help") {
            print(TrainyardCommand.helpText("trainyard train [OPTIONS]", LaunchSettings.help + TrainSettings.help))
            return .success
        }
        var settings = try LaunchSettings.parse(argv)
        var plan: ClusterPlan?
        if settings.scaleTier != nil {
            plan = try Catalog.plan(for: settings, catalog: try Catalog.load(settings.tiersDirectory))
            settings.topology = plan!.topology
            if settings.topology.workers > 0 && settings.topology.parameterServers == 0 {
                throw UsageError("Trainyard's trainer needs parameter servers when there are workers: add --parameter-server-count N --parameter-server-machine-type TYPE (only the master may train alone)")
            }
        }
        let launcher = try Launcher(settings: settings, plan: plan)
        let summary = try launcher.run()
        print(describe(summary, jobDirectory: launcher.jobDirectory))
        return summary.outcome.exitCode
    }

    static func describe(_ s: JobSummary, jobDirectory: String) -> String {
        func f(_ d: Double?, _ format: String) -> String { d.map { String(format: format, $0) } ?? "–" }
        var lines = ["Job \(s.outcome.status.rawValue) in \(String(format: "%.1f", s.wallSeconds)) s: \(s.outcome.reason)"]
        lines.append("  steps \(s.steps) · loss \(f(s.firstLoss, "%.4f")) → \(f(s.finalLoss, "%.4f")) · eval accuracy \(f(s.evalAccuracy, "%.4f")) · \(Int(s.examplesPerSecond)) examples/s")
        if let peak = s.tasks.compactMap(\.peakRSSBytes).max() {
            lines.append(String(format: "  largest resident memory of a task: %.1f MiB", Double(peak) / 1_048_576))
        }
        let failed = s.tasks.filter { ($0.exitCode ?? 0) != 0 }
        for t in failed { lines.append("  \(t.task): \(t.exit ?? "?") — see logs/\(t.task).log") }
        lines.append("  job dir: \(jobDirectory)  (summary.json, metrics.jsonl, logs/, checkpoints/, model/)")
        return lines.joined(separator: "\n")
    }
}
