import TrainyardCore
import TrainyardLaunch

/// `trainyard report PATH [-o FILE]`: one self-contained HTML page about a job (Docs/observability.md).
enum ReportCommand {
    static let help = HelpPage(
        usage: "trainyard report PATH [-o FILE]",
        summary: "Writes one self-contained HTML file (inline SVG and CSS, nothing fetched from elsewhere) about a job directory: the outcome and why, loss and held-out accuracy against step and time per task, throughput, parameter-server update rates, CPU and memory of every task, each task's restarts, and for a scenario run its faults on the time axis and its expectations. PATH may also be a sweep folder ($TRAINYARD_HOME/sweeps/ID). `train` and `scenario run` write the report of their job at the end.",
        options: [
            ("PATH", "a job directory (metrics.jsonl, summary.json), a scenario run's job directory, a submitted job's folder ($TRAINYARD_HOME/jobs/NAME), or a sweep folder (sweep.json)"),
            ("-o, --output FILE", "where to write the HTML (default PATH/report.html)"),
        ])

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        let output = try args.value("--output") ?? args.value("-o")
        let path = args.positional()
        try args.finish()
        guard let path else { throw UsageError("report needs PATH: a job directory, a scenario run's job directory or a sweep folder") }
        print(try Report.write(for: path, to: output))
        return .success
    }
}
