import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard sweep run SPEC | list | describe SWEEP`: hyperparameter sweeps with early termination,
/// each trial a job (Docs/sweeps.md).
enum SweepCommand {
    static let help = HelpPage(
        usage: "trainyard sweep COMMAND",
        summary: "Hyperparameter sweeps with early termination, each trial a job (Docs/sweeps.md).",
        options: [("--json", "JSON output")],
        subcommands: [
            .init(words: ["run"], usage: "trainyard sweep run SPEC [--json]", summary: "Runs a sweep (Trainyard's spec or an Azure ML sweep job YAML): live progress, then trials sorted by the primary metric, the best, an SVG of the metric."),
            .init(words: ["list"], usage: "trainyard sweep list [--json]", summary: "Every sweep."),
            .init(words: ["describe"], usage: "trainyard sweep describe SWEEP [--json]", summary: "One sweep's trials, parameters, states and metrics."),
        ])

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        guard let sub = args.positional() else { throw UsageError("sweep needs a command: run, list or describe (`trainyard sweep --help`)") }
        let json = try args.flag("--json")
        switch sub {
        case "run":
            guard let file = args.positional() else { throw UsageError("sweep run needs a spec file") }
            try args.finish()
            let text: String
            do { text = try Files.readText(file) } catch { throw FieldError(source: file, path: "", "cannot read the sweep spec: \(error)") }
            let spec = try SweepSpec(parsing: text, source: file)
            let runner: SweepRunner
            // A mistake found in the spec is the spec file's; one in another file (a tier file) keeps its name.
            do { runner = try SweepRunner(spec: spec, specText: text, progress: !json) } catch let e as FieldError where e.source.isEmpty { throw e.from(file) }
            let record = try runner.run()
            print(json ? record.prettySerialized() : SweepRunner.describe(record))
            if let folder = record["folder"]?.stringValue, let report = try? Report.write(for: folder) {
                Posix.write("report: \(report)\n", to: 2)
            }
            return record["state"] == "COMPLETED" ? .success : .failure
        case "list":
            try args.finish()
            let sweeps = SweepStore.all()
            if json { print(JSONValue.array(sweeps).prettySerialized()); return .success }
            var rows = [["SWEEP", "STATE", "TRIALS", "BEST", "PRIMARY METRIC"]]
            for s in sweeps {
                let best = s["best_trial"]
                rows.append([s["id"]?.stringValue ?? "?", s["state"]?.stringValue ?? "?", String(s["trials"]?.arrayValue?.count ?? 0),
                             best?["job"]?.stringValue ?? "–",
                             "\(s["objective"]?["primary_metric"]?.stringValue ?? "?") = " + (best?["metric"]?.doubleValue.map { String(format: "%.4f", $0) } ?? "–")])
            }
            print(TextTable.render(rows))
            return .success
        case "describe":
            guard let id = args.positional() else { throw UsageError("sweep describe needs a sweep id (`trainyard sweep list`)") }
            try args.finish()
            let record = try SweepStore.load(id)
            print(json ? record.prettySerialized() : SweepRunner.describe(record))
            return .success
        default:
            throw UsageError("unknown sweep command \"\(sub)\" (expected run, list or describe)")
        }
    }
}

