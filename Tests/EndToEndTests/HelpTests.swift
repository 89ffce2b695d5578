import Foundation
import XCTest

/// `--help` works on every command and subcommand, before any required argument, and lists the
/// flags the (sub)command accepts; `--version` and `version` print the version.
final class HelpTests: XCTestCase {
    static let pages: [[String]] = [
        ["train"], ["cluster-spec"], ["scenario"], ["scenario", "run"], ["scenario", "run-all"], ["scenario", "validate"],
        ["tiers"], ["tiers", "show"], ["calibrate"], ["cost"], ["cost", "compare"], ["cost", "validate"],
        ["jobs"], ["jobs", "submit", "training"], ["jobs", "list"], ["jobs", "describe"], ["jobs", "stream-logs"], ["jobs", "cancel"],
        ["jobs", "create-template"], ["jobs", "run"], ["jobs", "templates"],
        ["storage"], ["storage", "ls"], ["storage", "cp"], ["storage", "cat"], ["storage", "rm"],
        ["sweep"], ["sweep", "run"], ["sweep", "list"], ["sweep", "describe"],
        ["models"], ["models", "register"], ["models", "list"], ["models", "show"], ["bench"], ["bench", "kernel"], ["bench", "cluster"], ["bench", "transport"], ["report"], ["export"], ["export", "tfjob"], ["version"],
    ]

    func testEveryCommandAndSubcommandHasHelp() throws {
        for words in Self.pages {
            for flag in ["--help", "-h"] {
                let r = try Harness.run(words + [flag])
                XCTAssertEqual(r.status, 0, "\(words.joined(separator: " ")) \(flag): \(r.stderr)")
                XCTAssertTrue(r.stdout.hasPrefix("usage: trainyard \(words[0])"), "\(words): \(r.stdout.prefix(200))")
            }
        }
        // Help wins over a missing required argument and over other options.
        let r = try Harness.run(["jobs", "submit", "training", "--scale-tier", "BASIC", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testSubmitHelpListsTheFlagsSubmitAccepts() throws {
        let help = try Harness.run(["jobs", "submit", "training", "--help"]).stdout
        for flag in ["--scale-tier", "--region", "--async", "--stream-logs", "--job-dir", "--package-path", "--module-name", "--config",
                     "--master-machine-type", "--worker-count", "--workers", "--ps", "--env", "--restart-policy"] {
            XCTAssertTrue(help.contains(flag), "jobs submit training --help does not list \(flag)")
        }
        for flag in ["--runtime-version", "--python-version", "--python ", "--labels", "--packages", "--master-image-uri", "--worker-image-uri"] {
            XCTAssertTrue(help.contains(flag), "jobs submit training --help does not list \(flag)")
        }
        XCTAssertTrue(try Harness.run(["jobs", "stream-logs", "--help"]).stdout.contains("--polling-interval"))
        XCTAssertTrue(try Harness.run(["jobs", "stream-logs", "--help"]).stdout.contains("master-replica-0"))
        XCTAssertTrue(try Harness.run(["jobs", "describe", "--help"]).stdout.contains("--format yaml|json"))
        let list = try Harness.run(["jobs", "list", "--help"]).stdout
        for flag in ["--filter", "--sort-by", "--limit"] { XCTAssertTrue(list.contains(flag), "jobs list --help does not list \(flag)") }
        XCTAssertTrue(try Harness.run(["jobs", "create-template", "--help"]).stdout.contains("--service"))
    }

    func testEveryFlagAHelpPageListsIsAccepted() throws {
        // Each flag a page shows must not be refused as unknown by the command it documents.
        // In a folder of its own: whatever a command does with "x", nothing lands in the checkout.
        let scratch = NSTemporaryDirectory() + "trainyard-help-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch + "/home", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for words in Self.pages {
            let page = try Harness.run(words + ["--help"]).stdout
            let flags = Self.optionColumn(page)
            for flag in flags.sorted() {
                let r = try Harness.run(words + [flag, "x", "--zz-not-an-option"], environment: ["TRAINYARD_HOME": scratch + "/home"], directory: scratch, timeout: 60)
                XCTAssertFalse(r.stderr.contains("unknown option \(flag)"), "\(words.joined(separator: " ")) lists \(flag) but refuses it: \(r.stderr)")
            }
        }
        // "--zz-not-an-option" is never taken for a value: no job was started with it as its folder.
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/--zz-not-an-option"))
    }

    func testAnOptionsValueIsNeverTakenForTheJobName() throws {
        let home = NSTemporaryDirectory() + "trainyard-jobname-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: home) }
        // `--job-dir DIR JOB`: the name is JOB, not DIR (gcloud takes flags before the positional, too).
        let r = try Harness.run(["jobs", "submit", "training", "--job-dir", home + "/out", "named_after_the_flags", "--stream-logs", "--", "--max-steps", "20"],
                                environment: ["TRAINYARD_HOME": home], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Job [named_after_the_flags] submitted"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/out/metrics.jsonl"), "the job dir is the --job-dir value")
    }

    /// The flags in the option column of a help page: the first word of each indented line of a
    /// list, split at `,` `|` `=` and brackets.
    static func optionColumn(_ page: String) -> Set<String> {
        var flags = Set<String>()
        for line in page.split(separator: "\n") where line.hasPrefix("  -") {
            let firstWords = line.dropFirst(2).components(separatedBy: "  ").first ?? ""
            for word in firstWords.split(whereSeparator: { " ,|[]()…=".contains($0) }) where word.hasPrefix("--") && word.count > 2 {
                flags.insert(String(word))
            }
        }
        flags.remove("--help")
        return flags
    }

    func testVersionFlagAndCommand() throws {
        for argv in [["--version"], ["version"]] {
            let r = try Harness.run(argv)
            XCTAssertEqual(r.status, 0)
            XCTAssertTrue(r.stdout.hasPrefix("trainyard "), r.stdout)
        }
    }
}
