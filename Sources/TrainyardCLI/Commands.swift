import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard`'s command table and entry point: each command parses its argv, calls an engine in
/// TrainyardLaunch and prints. `--help` anywhere before `--` prints the page of the (sub)command named.
public enum TrainyardCommand {
    public static let version = "0.2.0"

    struct Command {
        var name: String
        var summary: String
        var help: HelpPage
        var run: @Sendable ([String]) throws -> ExitCode
    }

    static let commands: [Command] = [
        Command(name: "train", summary: "run a training job locally: chief, workers and parameter servers as processes", help: TrainCommand.help, run: TrainCommand.run),
        Command(name: "cluster-spec", summary: "print the TF_CONFIG each task of a topology gets", help: ClusterSpecCommand.help, run: ClusterSpecCommand.run),
        Command(name: "scenario", summary: "run failure scenarios: faults on a timeline, expectations checked", help: ScenarioCommand.help, run: ScenarioCommand.run),
        Command(name: "tiers", summary: "scale tiers and machine types: list, show TIER, machine-types", help: TiersCommand.help, run: TiersCommand.run),
        Command(name: "calibrate", summary: "measure this machine for the cost model", help: CalibrateCommand.help, run: CalibrateCommand.run),
        Command(name: "cost", summary: "predict a job's time and price on a tier; compare, validate", help: CostCommand.help, run: CostCommand.run),
        Command(name: "jobs", summary: "jobs like a cloud service: submit training, list, describe, stream-logs, cancel, templates", help: JobsCommand.help, run: JobsCommand.run),
        Command(name: "storage", summary: "emulated buckets: ls, cp, cat, rm on gs:// URIs", help: StorageCommand.help, run: StorageCommand.run),
        Command(name: "sweep", summary: "hyperparameter sweeps with early termination: run, list, describe", help: SweepCommand.help, run: SweepCommand.run),
        Command(name: "models", summary: "the model registry: register, list, show", help: ModelsCommand.help, run: ModelsCommand.run),
        Command(name: "report", summary: "write a self-contained HTML report of a job, scenario run or sweep", help: ReportCommand.help, run: ReportCommand.run),
        Command(name: "export", summary: "export a job to Kubernetes: a Kubeflow TFJob manifest, checked; --check validates one", help: ExportCommand.help, run: ExportCommand.run),
        Command(name: "bench", summary: "benchmarks against same-run references: kernel (vs numpy), cluster (vs the compute bound), transport (vs a socket copy)", help: BenchCommand.help, run: BenchCommand.run),
        Command(name: "version", summary: "print the version (also --version)", help: HelpPage(usage: "trainyard version", summary: "Prints Trainyard's version and the kernel build in use."),
                run: { argv in
                    var args = Arguments(argv)
                    try args.finish()
                    print(versionLine)
                    return .success
                }),
    ]

    static var versionLine: String { "trainyard \(version) (kernel \(KernelBackendName.current))" }

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
        guard let name = argv.first else {
            print(usage)
            return .success
        }
        switch name {
        case "help", "--help", "-h":
            if argv.count > 1, let topic = commands.first(where: { $0.name == argv[1] }) {
                print(topic.help.render(words: Array(argv.dropFirst(2))))
            } else {
                print(usage)
            }
            return .success
        case "--version", "-V":
            try KernelBackendName.check()
            print(versionLine)
            return .success
        case "_shim": return try Shim.run(Array(argv.dropFirst()))
        case "_supervise": return try JobSupervisor.run(Array(argv.dropFirst()))
        case "_bench-echo": return try TransportBench.echoServer(Array(argv.dropFirst()))
        default: break
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            let suggestion = commands.map(\.name).min { editDistance($0, name) < editDistance($1, name) }
            throw UsageError("unknown command \"\(name)\"" + (suggestion.map { " (did you mean \($0)?)" } ?? ""))
        }
        let rest = Array(argv.dropFirst())
        if Help.isRequested(rest) {
            print(command.help.render(words: Help.words(rest)))
            return .success
        }
        // A TRAINYARD_KERNEL this CPU cannot honour stops every command here, before a kernel call
        // or a child process (which would inherit it), with exit code 3.
        try KernelBackendName.check()
        return try command.run(rest)
    }

    static var usage: String {
        var lines = ["usage: trainyard COMMAND [OPTIONS]", "", "Trainyard runs a parameter-server training cluster on this machine as real processes.", "", "commands:"]
        for c in commands { lines.append("  " + c.name.padding(toLength: 14, withPad: " ", startingAt: 0) + c.summary) }
        lines += ["", "`trainyard COMMAND --help` shows a command's options; `trainyard --version` the version. Exit codes: 0 success,",
                  "1 job failed, 2 usage, 3 invalid input, 4 system error, 5 cluster error, 130 interrupted (README, Docs/cli.md)."]
        return lines.joined(separator: "\n")
    }
}

enum ClusterSpecCommand {
    static let help = HelpPage(
        usage: "trainyard cluster-spec [--workers N] [--ps M] [--start-port P] [--task TYPE:INDEX] [--host HOST] [--master]",
        summary: "Prints the TF_CONFIG each task of a topology gets, one JSON document per line.", options: options)

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
    static let help = HelpPage(
        usage: "trainyard train [OPTIONS]",
        summary: "Runs a training job locally in the foreground: chief, workers and parameter servers as processes (as gcloud ai-platform local train does for a distributed job).",
        options: LaunchSettings.help + TrainSettings.help)

    static func run(_ argv: [String]) throws -> ExitCode {
        var settings = try LaunchSettings.parse(argv)
        var plan: ClusterPlan?
        if settings.scaleTier != nil {
            plan = try Catalog.plan(for: settings, catalog: try Catalog.load(settings.tiersDirectory))
            settings.topology = plan!.topology
            try settings.topology.checkTrainable(hint: "--parameter-server-count N --parameter-server-machine-type TYPE")
        }
        let launcher = try Launcher(settings: settings, plan: plan)
        let summary = try launcher.run()
        print(describe(summary, jobDirectory: launcher.jobDirectory, maxSteps: settings.training.maxSteps))
        if let report = try? Report.write(for: launcher.jobDirectory) { print("  report: \(report)") }
        return summary.outcome.exitCode
    }

    static func describe(_ s: JobSummary, jobDirectory: String, maxSteps: Int) -> String {
        func f(_ d: Double?, _ format: String) -> String { d.map { String(format: format, $0) } ?? "–" }
        var lines = ["Job \(s.outcome.status.rawValue) in \(String(format: "%.1f", s.wallSeconds)) s: \(s.outcome.reason)"]
        if s.stepsTrained == 0, s.firstLoss == nil, let start = s.startStep, start >= maxSteps {
            // A job folder whose checkpoint is already at the end: this run took no step.
            lines.append("  already at step \(start) of \(maxSteps): nothing to train · eval accuracy \(f(s.evalAccuracy, "%.4f"))")
        } else {
            let resumed = (s.startStep ?? 0) > 0 ? " (\(s.stepsTrained) this run, from step \(s.startStep!))" : ""
            lines.append("  steps \(s.steps)\(resumed) · loss \(f(s.firstLoss, "%.4f")) → \(f(s.finalLoss, "%.4f")) · eval accuracy \(f(s.evalAccuracy, "%.4f")) · \(Int(s.examplesPerSecond.rounded())) examples/s")
        }
        if let peak = s.tasks.compactMap(\.peakRSSBytes).max() {
            lines.append(String(format: "  largest resident memory of a task: %.1f MiB", Double(peak) / 1_048_576))
        }
        let failed = s.tasks.filter { ($0.exitCode ?? 0) != 0 }
        for t in failed { lines.append("  \(t.task): \(t.exit ?? "?") — see logs/\(t.task).log") }
        lines.append("  job dir: \(jobDirectory)  (summary.json, metrics.jsonl, logs/, checkpoints/, model/)")
        return lines.joined(separator: "\n")
    }
}
