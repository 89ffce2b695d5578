import Foundation
import TrainyardCore
import TrainyardPlatform
import TrainyardLaunch

/// `trainyard scenario run FILE` and `trainyard scenario run-all DIR`.
enum ScenarioCommand {
    static let help = HelpPage(
        usage: "trainyard scenario COMMAND",
        summary: "Failure scenarios: a cluster, faults on a timeline, and expectations checked at the end (Docs/scenarios.md).",
        options: [("--json", "print the result as JSON"), ("--progress", "show the job's progress line while it runs")],
        subcommands: [
            .init(words: ["run"], usage: "trainyard scenario run FILE [--job-dir DIR] [--json] [--progress]",
                  summary: "Runs one scenario: its timeline and pass/fail per expectation.",
                  options: [("--job-dir DIR", "where the job's evidence goes (default: a new folder under ./trainyard-jobs/)")]),
            .init(words: ["run-all"], usage: "trainyard scenario run-all DIR [--jobs-dir DIR] [--json] [--progress]",
                  summary: "Runs every scenario (*.json, *.yaml, *.yml) in DIR and prints a summary table.",
                  options: [("--jobs-dir DIR", "the folder for every scenario's job folder (default ./trainyard-jobs)")]),
            .init(words: ["validate"], usage: "trainyard scenario validate FILE…", summary: "Checks scenario files without running them."),
        ])

    static let options: [(String, String)] = [
        ("run FILE", "run one scenario: its timeline and pass/fail per expectation"),
        ("run-all DIR", "run every scenario in DIR and print a summary table"),
        ("validate FILE…", "check scenario files without running them"),
        ("--json", "print the result as JSON"),
        ("--job-dir DIR", "run: where the job's evidence goes (default: a new folder under ./trainyard-jobs/)"),
        ("--jobs-dir DIR", "run-all: the folder for every scenario's job folder (default ./trainyard-jobs)"),
        ("--progress", "show the job's progress line while it runs"),
    ]

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        guard let sub = args.positional() else { throw UsageError("scenario needs a subcommand: run FILE, run-all DIR or validate FILE") }
        let json = try args.flag("--json")
        let progress = try args.flag("--progress")
        switch sub {
        case "run":
            let jobDir = try args.value("--job-dir")
            guard let file = args.positional() else { throw UsageError("scenario run needs a scenario file") }
            try args.finish()
            let scenario = try ScenarioRunner.load(file)
            let result = try runOne(scenario, file: file, jobDirectory: jobDir ?? ScenarioRunner.newJobDirectory(parent: "trainyard-jobs", scenario), progress: progress)
            print(json ? ScenarioRunner.json(result).prettySerialized() : ScenarioRunner.text(result))
            if !json, let report = try? Report.write(for: result.jobDirectory) { print("report: \(report)") }
            // Ctrl-C or SIGTERM stopped the scenario's job: 130 or 143, as `run-all` and `train` say it.
            if result.interrupted, let code = result.observations.outcome?.exitCode { return code }
            return result.passed ? .success : .failure
        case "run-all":
            let parent = try args.value("--jobs-dir") ?? "trainyard-jobs"
            guard let dir = args.positional() else { throw UsageError("scenario run-all needs a folder of scenario files") }
            try args.finish()
            let files = Files.list(dir).filter(SpecFile.isSpec).sorted().map { dir + "/" + $0 }
            guard !files.isEmpty else { throw UsageError("\(dir) holds no scenario files (*.json, *.yaml, *.yml)") }
            let scenarios = try files.map { ($0, try ScenarioRunner.load($0)) }  // validate them all before running any
            var results: [ScenarioRunner.Result] = []
            for (file, scenario) in scenarios {
                if !json { Posix.write("running \(scenario.name) … ", to: 2) }
                let r = try runOne(scenario, file: file, jobDirectory: ScenarioRunner.newJobDirectory(parent: parent, scenario), progress: progress)
                if !json { Posix.write("\(r.interrupted ? "interrupted after" : r.passed ? "passed in" : "FAILED in") \(String(format: "%.1f", r.wallSeconds)) s\n", to: 2) }
                if !r.passed && !json { print(ScenarioRunner.text(r)) }
                results.append(r)
                // Ctrl-C or SIGTERM stopped that scenario's job: stop the whole run, too.
                if r.interrupted, let code = r.observations.outcome?.exitCode {
                    Posix.write("interrupted: the remaining scenarios were not run\n", to: 2)
                    if json {
                        print(JSONValue.object([("passed", .bool(false)), ("interrupted", .bool(true)),
                                                ("scenarios", .array(results.map(ScenarioRunner.json)))]).prettySerialized())
                    } else {
                        print(table(results))
                    }
                    return code
                }
            }
            if json {
                print(JSONValue.object([("passed", .bool(results.allSatisfy(\.passed))), ("interrupted", .bool(false)), ("scenarios", .array(results.map(ScenarioRunner.json)))]).prettySerialized())
            } else {
                print(table(results))
            }
            return results.allSatisfy(\.passed) ? .success : .failure
        case "validate":
            var files: [String] = []
            while let f = args.positional() { files.append(f) }
            try args.finish()
            guard !files.isEmpty else { throw UsageError("scenario validate needs at least one file") }
            for f in files {
                let s = try ScenarioRunner.load(f)
                print("\(f): \(s.name) — valid (\(s.faults.count) fault\(s.faults.count == 1 ? "" : "s"), \(s.topology))")
            }
            return .success
        default:
            throw UsageError("unknown scenario subcommand \"\(sub)\" (expected run, run-all or validate)")
        }
    }

    static func runOne(_ scenario: Scenario, file: String, jobDirectory: String, progress: Bool) throws -> ScenarioRunner.Result {
        try ScenarioRunner(scenario: scenario, file: file, jobDirectory: Files.absolute(jobDirectory), showProgress: progress).run()
    }

    static func table(_ results: [ScenarioRunner.Result]) -> String {
        func f(_ d: Double?, _ fmt: String = "%.2f") -> String { d.map { String(format: fmt, $0) } ?? "–" }
        var rows = [["scenario", "result", "state", "wall s", "faults", "max recovery s", "steps lost", "restarts", "rate ratio"]]
        for r in results {
            let recovery = r.reports.compactMap(\.recoverySeconds).max()
            let lost = r.reports.map(\.stepsLost).reduce(0, +)
            let restarts = r.observations.restartCounts.values.reduce(0, +)
            let ratio = r.reports.compactMap(\.rateRatio).min()
            let verdict = r.interrupted ? "INTERRUPTED" : r.passed ? "PASS" : "FAIL"
            rows.append([r.scenario.name, verdict, r.observations.outcome?.status.rawValue ?? "–", f(r.wallSeconds, "%.1f"),
                         String(r.reports.count), f(recovery), String(lost), String(restarts), f(ratio)])
        }
        let passed = results.filter(\.passed).count
        return TextTable.render(rows) + "\n\(passed)/\(results.count) scenarios passed"
    }
}
