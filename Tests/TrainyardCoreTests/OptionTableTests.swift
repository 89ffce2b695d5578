import XCTest
@testable import TrainyardCore

/// The option tables drive help, argv, role arguments and file keys; these tests fail when one of
/// them disagrees with the others for any entry.
final class OptionTableTests: XCTestCase {
    /// Training settings with every field away from its default.
    static let changed: TrainSettings = {
        var s = TrainSettings()
        s.maxSteps = 77; s.batchSize = 3; s.learningRate = 0.125; s.optimizer = .adam; s.momentum = 0.5
        s.hidden = []; s.dataset = .idx(images: "a b.idx", labels: "l.idx"); s.features = 5; s.classes = 3; s.examples = 99
        s.evalFraction = 0.25; s.labelColumn = "y"; s.csvHeader = .no; s.seed = 42; s.checkpointEvery = 7; s.keepCheckpoints = 2
        s.evalEvery = 11; s.logEvery = 1; s.sync = true; s.replicasToAggregate = 2; s.rpcTimeout = 1.5; s.startupTimeout = 0.5; s.allowDivergence = true
        return s
    }()

    func testTheFixtureChangesEveryTrainingOption() {
        // Otherwise the round trips below would not cover a newly added option.
        for o in TrainSettings.options.options {
            XCTAssertNotEqual(o.get(Self.changed), o.get(TrainSettings()), "\(o.flag): give OptionTableTests.changed a non-default value")
        }
    }

    func testEveryOptionIsInHelpOnce() {
        func check<R>(_ table: OptionTable<R>, _ help: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
            for o in table.options {
                let lines = help.filter { $0.0 == o.flag || $0.0.hasPrefix(o.flag + " ") }
                XCTAssertEqual(lines.count, o.isHidden ? 0 : 1, "\(o.flag) in help", file: file, line: line)
                if !o.isHidden { XCTAssertEqual(lines.first?.0, o.flag + (o.placeholder.map { " " + $0 } ?? ""), file: file, line: line) }
            }
            XCTAssertEqual(help.count, table.options.filter { !$0.isHidden }.count, file: file, line: line)
        }
        check(TrainSettings.options, TrainSettings.help)
        check(LaunchSettings.options, LaunchSettings.help)
        check(CustomClusterFlags.options, Array(CustomClusterFlags.help.dropFirst()))
        XCTAssertEqual(CustomClusterFlags.help.first?.0, "--scale-tier TIER")
        check(JobSpec.options, Array(JobSpec.help.dropLast(3)))
        XCTAssertEqual(JobSpec.help.suffix(3).map(\.0), ["--config FILE", "--env K=V", "-- USER_ARGS"])
        XCTAssertEqual(JobSpec.options.options.filter(\.isHidden).map(\.name), ["region", "workers", "ps"])
    }

    func testJobFlagsWinOverTheBase() throws {
        var base = JobSpec()
        base.command = "python3 t.py"; base.jobDir = "/base"; base.custom.workerCount = 4; base.backoffLimit = 9
        var args = Arguments(["--module-name", "trainer.task", "--worker-count=2", "--use-chief-in-tf-config=false", "--env", "A=1",
                              "--restart-policy", "never", "--", "--epochs", "2"])
        let s = try JobSpec.parse(&args, over: base)
        XCTAssertNoThrow(try args.finish())
        XCTAssertEqual(s.moduleName, "trainer.task")
        XCTAssertNil(s.command)
        XCTAssertEqual(s.jobDir, "/base")
        XCTAssertEqual(s.custom.workerCount, 2)
        XCTAssertEqual(s.scaleTier, "CUSTOM")
        XCTAssertFalse(s.useChiefInTFConfig)
        XCTAssertEqual(s.restartPolicy, .never)
        XCTAssertEqual(s.backoffLimit, 9)
        XCTAssertEqual(s.environment, ["A": "1"])
        XCTAssertEqual(s.userArgs, ["--epochs", "2"])
        var bad = Arguments(["--use-chief-in-tf-config", "maybe"])
        XCTAssertThrowsError(try JobSpec.parse(&bad)) {
            XCTAssertEqual(($0 as? UsageError)?.message, "--use-chief-in-tf-config takes true or false, got \"maybe\"")
        }
    }

    func testHelpShowsDefaultsFromTheDefaultValue() {
        let help = Dictionary(uniqueKeysWithValues: TrainSettings.help)
        XCTAssertEqual(help["--max-steps S"], "stop when the global step reaches S (default 2000)")
        XCTAssertEqual(help["--hidden A,B,…"], "hidden layer widths, or none (default 256,128)")
        XCTAssertEqual(help["--sync"], "synchronous training: each step averages gradients from several tasks (SyncReplicasOptimizer)")
        XCTAssertEqual(help["--replicas-to-aggregate K"]?.hasSuffix("(default: every training task)"), true)
        let launch = Dictionary(uniqueKeysWithValues: LaunchSettings.help)
        XCTAssertEqual(launch["--workers N"], "worker tasks besides the chief (default 2)")
        XCTAssertEqual(launch["--restart-policy POLICY"], "Never, OnFailure, Always or ExitCode, as Kubeflow TFJob (default OnFailure)")
    }

    func testRoleArgumentsRoundTrip() throws {
        for s in [TrainSettings(), Self.changed] {
            var args = Arguments(s.roleArguments)
            XCTAssertEqual(try TrainSettings.parse(&args), s)
            XCTAssertNoThrow(try args.finish())
        }
        // Each option alone, so that one option's text cannot be read by another.
        for o in TrainSettings.options.options {
            var one = TrainSettings()
            var args = Arguments(TrainSettings.options.arguments(for: Self.changed, only: [o.name]))
            try TrainSettings.options.parse(&args, into: &one)
            XCTAssertNoThrow(try args.finish())
            XCTAssertEqual(o.get(one), o.get(Self.changed), o.flag)
        }
    }

    func testLaunchAndCustomTablesRoundTrip() throws {
        var l = LaunchSettings()
        l.topology = Topology(workers: 5, parameterServers: 3); l.jobDirectory = "/j"; l.startPort = 4000; l.restartPolicy = .always
        l.backoffLimit = 0; l.scaleTier = "CUSTOM"; l.custom.masterMachineType = "n1-standard-4"; l.custom.workerCount = 2
        l.custom.workerMachineType = "n1-standard-8"; l.custom.parameterServerCount = 1; l.custom.parameterServerMachineType = "n1-highmem-2"
        l.bandwidthScale = 0.5; l.emulateBandwidth = false; l.localSockets = false; l.sharedMemory = false; l.tiersDirectory = "/t"
        for o in LaunchSettings.options.options {
            XCTAssertNotEqual(o.get(l), o.get(LaunchSettings()), "\(o.flag): give the fixture a non-default value")
        }
        var args = Arguments(LaunchSettings.options.arguments(for: l))
        var back = LaunchSettings()
        try LaunchSettings.options.parse(&args, into: &back)
        XCTAssertNoThrow(try args.finish())
        XCTAssertEqual(back, l)

        var c = Arguments(CustomClusterFlags.options.arguments(for: l.custom))
        XCTAssertEqual(try CustomClusterFlags.parse(&c), l.custom)
    }

    func testEveryOptionIsAFileKey() throws {
        // Every option as its snake_case key, with its text (a boolean for bare flags).
        var fields: [(String, JSONValue)] = []
        for o in TrainSettings.options.options {
            let text = o.get(Self.changed)!
            fields.append((o.key, o.takesValue ? .string(text) : .bool(true)))
        }
        let decoded = try TrainSettings(decoding: JSONField(.object(fields), path: "training", source: "f.json"))
        XCTAssertEqual(decoded, Self.changed)

        // Numbers as JSON numbers, through a scenario file.
        let scenario = try Scenario(parsing: #"""
            {"name": "s", "cluster": {"workers": 1, "ps": 1},
             "training": {"max_steps": 77, "learning_rate": 0.125, "seed": 42, "sync": true, "replicas_to_aggregate": 2, "hidden": "none"}}
            """#, source: "s.json")
        var expected = TrainSettings()
        expected.maxSteps = 77; expected.learningRate = 0.125; expected.seed = 42; expected.sync = true; expected.replicasToAggregate = 2
        expected.hidden = []
        XCTAssertEqual(scenario.training, expected)
    }

    func testArgvAndFilesGiveTheSameReasonNamedTheirOwnWay() {
        for o in TrainSettings.options.options where o.takesValue {
            for bad in ["-1", "bogus:", ""] {
                var s = TrainSettings()
                var args = Arguments([o.flag, bad])
                let argvError: String
                do { try TrainSettings.options.parse(&args, into: &s); argvError = "ok" } catch { argvError = error.message }
                let fileError: String
                do {
                    try TrainSettings.options.decode(JSONField(.object([(o.key, .string(bad))]), path: "training", source: "f.json"), into: &s)
                    fileError = "ok"
                } catch { fileError = error.description }
                if argvError == "ok" { XCTAssertEqual(fileError, "ok", "\(o.flag) \(bad)"); continue }
                XCTAssertTrue(argvError.hasPrefix(o.flag + " "), argvError)
                XCTAssertEqual(fileError, "f.json: training.\(o.key): " + argvError.dropFirst(o.flag.count + 1), "\(o.flag) \(bad)")
            }
        }
    }

    func testAllowedRangesAreTheParsersRanges() throws {
        XCTAssertEqual(TrainSettings.options["max-steps"]?.allowed, "1...")
        XCTAssertEqual(TrainSettings.options["batch-size"]?.allowed, "1...65536")
        XCTAssertEqual(TrainSettings.options["rpc-timeout"]?.allowed, "0.05 to 3600")
        XCTAssertEqual(TrainSettings.options["optimizer"]?.allowed, "sgd, momentum or adam")
        func accepts(_ o: OptionSpec<TrainSettings>, _ text: String) -> Bool {
            var s = TrainSettings()
            return (try? o.set(&s, text)) != nil
        }
        var checked = 0
        for o in TrainSettings.options.options {
            guard let allowed = o.allowed else { continue }
            if let r = allowed.range(of: "..."), let low = Int(allowed[..<r.lowerBound]) {
                XCTAssertTrue(accepts(o, String(low)), o.flag)
                XCTAssertFalse(accepts(o, String(low - 1)), o.flag)
                if let high = Int(allowed[r.upperBound...]) {
                    XCTAssertTrue(accepts(o, String(high)), o.flag)
                    XCTAssertFalse(accepts(o, String(high + 1)), o.flag)
                }
                checked += 1
            } else if let r = allowed.range(of: " to "), let low = Double(allowed[..<r.lowerBound]), let high = Double(allowed[r.upperBound...]) {
                XCTAssertTrue(accepts(o, JSONValue.format(low)) && accepts(o, JSONValue.format(high)), o.flag)
                XCTAssertFalse(accepts(o, JSONValue.format(low - 0.01)) || accepts(o, JSONValue.format(high + 0.01)), o.flag)
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 15)
    }

    func testFileErrorsNameTheKey() {
        func message(_ fields: [(String, JSONValue)]) -> String {
            do { _ = try TrainSettings(decoding: JSONField(.object(fields), path: "training", source: "f.json")); return "ok" } catch { return error.description }
        }
        XCTAssertEqual(message([("max_stepz", 5)]), "f.json: training.max_stepz: is not a known option (did you mean max_steps?)")
        XCTAssertEqual(message([("max-steps", 5)]), "f.json: training.max-steps: is not a known option (did you mean max_steps?)")
        XCTAssertTrue(message([("zzzzzzzzzz", 5)]).hasPrefix("f.json: training.zzzzzzzzzz: is not a known option (expected one of: allow_divergence, batch_size, "))
        XCTAssertEqual(message([("batch_size", 0)]), "f.json: training.batch_size: must be in 1...65536, got 0")
        XCTAssertEqual(message([("optimizer", "rmsprop")]), "f.json: training.optimizer: must be sgd, momentum or adam, got \"rmsprop\"")
        XCTAssertEqual(message([("sync", 1)]), "f.json: training.sync: expected true or false, got a number")
        XCTAssertEqual(message([("hidden", [16, 8])]), "f.json: training.hidden: expected a number or a string, got an array")
        XCTAssertEqual(message([("replicas_to_aggregate", 2)]), "f.json: training.replicas_to_aggregate: needs sync")
        XCTAssertEqual(message([("replicas_to_aggregate", 2), ("sync", false)]), "f.json: training.replicas_to_aggregate: needs sync")
        XCTAssertEqual(message([("replicas_to_aggregate", 2), ("sync", true), ("label_column", .null)]), "ok")
    }

    func testArgvErrorsNameTheFlag() {
        func message(_ argv: [String]) -> String {
            do { _ = try LaunchSettings.parse(argv); return "ok" } catch { return error.description }
        }
        XCTAssertEqual(message(["--replicas-to-aggregate", "2"]), "--replicas-to-aggregate needs --sync")
        XCTAssertEqual(message(["--optimizer", "rmsprop"]), "--optimizer must be sgd, momentum or adam, got \"rmsprop\"")
        XCTAssertEqual(message(["--csv-header", "maybe"]), "--csv-header must be auto, true or false, got \"maybe\"")
        XCTAssertEqual(message(["--restart-policy", "sometimes"]), "--restart-policy must be Never, OnFailure, Always or ExitCode, got \"sometimes\"")
        XCTAssertEqual(message(["--label-column="]), "--label-column needs a value (NAME|INDEX)")
        XCTAssertEqual(message(["--seed", "-3"]), "--seed takes a whole number ≥ 0, got \"-3\"")
        XCTAssertEqual(message(["--sync=maybe"]), "--sync takes true or false, got \"maybe\"")
        XCTAssertEqual(message(["--workers", "1", "--scale-tier", "BASIC"]).prefix(55), "--workers and --ps cannot be combined with --scale-tier")
        XCTAssertEqual(message(["--worker-count", "2", "--scale-tier", "BASIC"]).prefix(40), "--master-machine-type, --worker-count an")
        XCTAssertEqual(message(["--no-bandwidth-emulation", "--sync=false"]), "ok")
        XCTAssertEqual(try LaunchSettings.parse(["--no-bandwidth-emulation"]).emulateBandwidth, false)
    }

    func testShortFlagsAreOptionsNotPositionals() {
        var a = Arguments(["-r", "file", "-", "-5"])
        XCTAssertEqual(a.positional(), "file")
        XCTAssertEqual(a.positional(), "-")
        XCTAssertEqual(a.positional(), "-5")
        XCTAssertNil(a.positional())
        XCTAssertThrowsError(try a.finish()) { XCTAssertEqual(($0 as? UsageError)?.message, "unknown option -r") }
        XCTAssertEqual((try? LaunchSettings.parse(["-w", "3"])).map { _ in "ok" } ?? "error", "error")
        do { _ = try LaunchSettings.parse(["-w"]) } catch { XCTAssertEqual(error.message, "unknown option -w") }
    }

    /// A command's own flags, on a plain struct: the table is not tied to settings.
    func testACommandCanDeclareItsOwnTable() throws {
        struct Follow: Equatable { var interval = 2.0; var json = false; var task: String? }
        let table = OptionTable<Follow>([
            .double("interval", \.interval, in: 0.1...60, placeholder: "S", help: "seconds between polls"),
            .flag("json", \.json, help: "print JSON lines"),
            .string("task", \.task, placeholder: "TASK", help: "one task's log", default: "all tasks"),
        ], defaults: Follow())
        XCTAssertEqual(table.helpLines.map(\.0), ["--interval S", "--json", "--task TASK"])
        XCTAssertEqual(table.helpLines.map(\.1), ["seconds between polls (default 2)", "print JSON lines", "one task's log (default: all tasks)"])
        var args = Arguments(["job-1", "--json", "--interval=0.5"])
        var f = Follow()
        XCTAssertEqual(try table.parse(&args, into: &f), ["json", "interval"])
        XCTAssertEqual(f, Follow(interval: 0.5, json: true, task: nil))
        XCTAssertEqual(args.positional(), "job-1")
        XCTAssertEqual(table.arguments(for: f), ["--interval", "0.5", "--json"])
    }
}
