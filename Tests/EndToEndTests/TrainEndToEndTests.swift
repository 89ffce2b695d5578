import Foundation
import XCTest
@testable import TrainyardCore

/// `trainyard train` as a user runs it: real processes on kernel-chosen ports, torn down after.
final class TrainEndToEndTests: XCTestCase {
    var jobDir = ""

    override func setUp() { jobDir = Harness.temporaryDirectory("train") }

    override func tearDown() {
        for pid in Harness.processes(mentioning: jobDir) { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: jobDir)
    }

    func testChiefTwoWorkersTwoPsTrainToTheEnd() throws {
        let result = try Harness.run(["train", "--workers", "2", "--ps", "2", "--max-steps", "300", "--job-dir", jobDir] + Harness.smallJob)
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        XCTAssertTrue(result.stdout.contains("Job SUCCEEDED"), result.stdout)

        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["status"], "SUCCEEDED")
        XCTAssertEqual(summary["steps"]?.intValue, 300)
        let first = try XCTUnwrap(summary["first_loss"]?.doubleValue)
        let final = try XCTUnwrap(summary["final_loss"]?.doubleValue)
        XCTAssertLessThan(final, first / 2, "loss \(first) → \(final)")
        XCTAssertGreaterThan(summary["eval_accuracy"]?.doubleValue ?? 0, 0.7)
        for task in ["chief-0", "worker-0", "worker-1", "ps-0", "ps-1"] {
            XCTAssertEqual(summary["tasks"]?[task]?["exit_code"]?.intValue, 0, task)
            let log = try String(contentsOfFile: jobDir + "/logs/\(task).log", encoding: .utf8)
            XCTAssertFalse(log.isEmpty, task)
        }
        // Every training task took part.
        let records = try String(contentsOfFile: jobDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let trainers = Set(records.filter { $0["kind"] == "train" }.compactMap { $0["task"]?.stringValue })
        XCTAssertEqual(trainers, ["chief-0", "worker-0", "worker-1"])
        for r in records where r["kind"] == "train" {
            for key in ["time", "task", "step", "loss", "examples_per_sec"] { XCTAssertNotNil(r[key], key) }
        }
        // Tasks on one host talk over the local (Unix-domain) sockets: each ps was reached there by
        // every trainer, and TF_CONFIG still gives TCP addresses.
        for ps in ["ps-0", "ps-1"] {
            let profile = try XCTUnwrap(records.last { $0["kind"] == "profile" && $0["task"]?.stringValue == ps }, ps)
            XCTAssertGreaterThanOrEqual(profile["connections_local"]?.intValue ?? 0, 3, "\(ps): \(profile)")
            let log = try String(contentsOfFile: jobDir + "/logs/\(ps).log", encoding: .utf8)
            XCTAssertTrue(log.contains("and the local socket @"), log)
        }
        // Checkpoints with a pointer, and the model.
        let pointer = try String(contentsOfFile: jobDir + "/checkpoints/latest", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(pointer, "ckpt-00000300.tyckpt")
        let checkpoint = try Checkpoint(decoding: Array(FileManager.default.contents(atPath: jobDir + "/checkpoints/" + pointer)!))
        XCTAssertEqual(checkpoint.globalStep, 300)
        XCTAssertEqual(checkpoint.architecture, MLPArchitecture(inputs: 8, hidden: [16], classes: 3))
        let model = try Harness.json(jobDir + "/model/model.json")
        XCTAssertEqual(model["global_step"]?.intValue, 300)
        XCTAssertTrue(FileManager.default.fileExists(atPath: jobDir + "/model/weights.tyckpt"))

        XCTAssertEqual(Harness.processes(mentioning: jobDir), [], "no role process may outlive the run")
    }

    func testASynchronousJobCountsTheBatchesOfEveryReplicaItAggregates() throws {
        // Two training tasks, every step averaging both gradients: a step trains 2 × 32 examples.
        let result = try Harness.run(["train", "--workers", "1", "--ps", "1", "--sync", "--max-steps", "100", "--job-dir", jobDir] + Harness.smallJob)
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["steps_trained"]?.intValue, 100)
        let wall = try XCTUnwrap(summary["wall_seconds"]?.doubleValue)
        let rate = try XCTUnwrap(summary["examples_per_sec"]?.doubleValue)
        // (wall_seconds is rounded to the millisecond.)
        XCTAssertEqual(rate, 100 * 32 * 2 / wall, accuracy: rate * 0.0006 / wall + 1, "\(summary)")
        XCTAssertTrue(result.stdout.contains(String(format: "%.0f examples/s", rate)), result.stdout)
    }

    func testNoLocalSocketsKeepsEveryConnectionOnTCP() throws {
        let result = try Harness.run(["train", "--workers", "1", "--ps", "1", "--max-steps", "60", "--no-local-sockets", "--job-dir", jobDir] + Harness.smallJob)
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        let records = try String(contentsOfFile: jobDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let profile = try XCTUnwrap(records.last { $0["kind"] == "profile" && $0["task"]?.stringValue == "ps-0" })
        XCTAssertEqual(profile["connections_local"]?.intValue, 0, "\(profile)")
        XCTAssertGreaterThanOrEqual(profile["connections_tcp"]?.intValue ?? 0, 2, "\(profile)")
        let log = try String(contentsOfFile: jobDir + "/logs/ps-0.log", encoding: .utf8)
        XCTAssertFalse(log.contains("local socket"), log)
    }

    func testArraysGoThroughSharedMemoryOnOneHostUnlessTurnedOff() throws {
        // A model whose shard (8,771 values) is large enough to go through shared memory.
        let model = ["--features", "64", "--hidden", "128", "--classes", "3", "--examples", "3000", "--batch-size", "32",
                     "--learning-rate", "0.05", "--checkpoint-every", "100", "--eval-every", "100", "--log-every", "10"]
        // Synchronous with both trainers' gradients per step, the run is deterministic (a sum of two
        // is the same in either order): the ps's update from a region must give the socket path's bits.
        var syncLosses: [Bool: [Double]] = [:]
        for (shared, sync) in [(true, false), (false, false), (true, true), (false, true)] {
            let dir = jobDir + (shared ? "-shm" : "-socket") + (sync ? "-sync" : "")
            let result = try Harness.run(["train", "--workers", "1", "--ps", "1", "--max-steps", "200", "--job-dir", dir] + (shared ? [] : ["--no-shared-memory"]) + (sync ? ["--sync"] : []) + model)
            XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
            let summary = try Harness.json(dir + "/summary.json")
            XCTAssertEqual(summary["status"], "SUCCEEDED")
            let first = try XCTUnwrap(summary["first_loss"]?.doubleValue), final = try XCTUnwrap(summary["final_loss"]?.doubleValue)
            XCTAssertLessThan(final, first, "loss \(first) → \(final)")
            let records = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
            let profile = try XCTUnwrap(records.last { $0["kind"] == "profile" && $0["task"]?.stringValue == "ps-0" })
            XCTAssertGreaterThanOrEqual(profile["connections_local"]?.intValue ?? 0, 2, "\(profile)")
            let frames = profile["frames_shared_memory"]?.intValue ?? -1
            // Every push and its reply (200 steps: at least 400 frames) when on; none when off.
            if shared { XCTAssertGreaterThanOrEqual(frames, 400, "\(profile)") } else { XCTAssertEqual(frames, 0, "\(profile)") }
            // This job's optimizer is momentum: applied where they lie only when synchronous (the
            // accumulation), every push then (200 steps of two), none through the socket.
            let inPlace = profile["pushes_applied_in_place"]?.intValue ?? -1
            if shared && sync { XCTAssertEqual(inPlace, profile["updates"]?.intValue, "\(profile)"); XCTAssertGreaterThanOrEqual(inPlace, 400) } else { XCTAssertEqual(inPlace, 0, "\(profile)") }
            if sync {
                syncLosses[shared] = records.filter { $0["kind"] == "eval" }.compactMap { $0["loss"]?.doubleValue } + [final]
            }
            XCTAssertEqual(Harness.processes(mentioning: dir), [], "no role process may outlive the run")
            try? FileManager.default.removeItem(atPath: dir)
        }
        XCTAssertGreaterThan(syncLosses[true]?.count ?? 0, 1, "\(syncLosses)")
        XCTAssertEqual(syncLosses[true], syncLosses[false], "a synchronous job through shared memory and through the socket")
    }

    func testAJobWhoseModelCannotBeWrittenFails() throws {
        // A file where the model folder should go: the export cannot succeed.
        try FileManager.default.createDirectory(atPath: jobDir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: jobDir + "/model", contents: Data())
        let result = try Harness.run(["train", "--workers", "1", "--ps", "1", "--max-steps", "100", "--job-dir", jobDir] + Harness.smallJob)
        XCTAssertEqual(result.status, 1, result.stderr + result.stdout)
        XCTAssertTrue(result.stdout.contains("Job FAILED"), result.stdout)
        XCTAssertTrue(result.stdout.contains("model not exported to \(jobDir)/model"), result.stdout)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["status"], "FAILED")
        XCTAssertTrue(summary["reason"]?.stringValue?.contains("chief-0 failed (exit 6: model not exported to \(jobDir)/model: mkdir") ?? false, "\(summary)")
        XCTAssertEqual(summary["tasks"]?["chief-0"]?["restarts"]?.intValue, 0, "exit 6 is not retried")
        let log = try String(contentsOfFile: jobDir + "/logs/chief-0.log", encoding: .utf8)
        XCTAssertTrue(log.hasSuffix("error: model not exported to \(jobDir)/model: mkdir \(jobDir)/model (a file is in the way): Not a directory\n"), log)
        XCTAssertEqual(Harness.processes(mentioning: jobDir), [])
    }

    func testAJobWhoseCheckpointsFillTheDiskFails() throws {
        // checkpoints/ on a 64 KiB tmpfs: the default model's checkpoint (≈ 500 KB) cannot fit.
        let checkpoints = jobDir + "/checkpoints"
        try FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", checkpoints]
        mount.standardError = FileHandle.nullDevice
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { throw XCTSkip("cannot mount a tmpfs here (needs root): not testing a full disk") }
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [checkpoints]
            try? umount.run()
            umount.waitUntilExit()
        }
        let result = try Harness.run(["train", "--workers", "1", "--ps", "1", "--max-steps", "60", "--checkpoint-every", "30", "--job-dir", jobDir])
        XCTAssertEqual(result.status, 1, result.stderr + result.stdout)
        XCTAssertTrue(result.stdout.contains("Job FAILED"), result.stdout)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["status"], "FAILED")
        let reason = summary["reason"]?.stringValue ?? ""
        XCTAssertTrue(reason.contains("final checkpoint at step 60 not saved") && reason.contains("No space left on device"), reason)
    }

    func testADivergingJobFailsUnlessDivergenceIsAllowed() throws {
        // The default model with learning rate 10, trained by the chief alone over one ps: one trainer
        // applies its pushes in a fixed order, so the run is the same every time and reaches a NaN
        // loss within a few steps whatever the machine's load (with several trainers the order
        // depends on scheduling, and a busy machine once kept the loss finite).
        let result = try Harness.run(["train", "--workers", "0", "--ps", "1", "--max-steps", "300", "--learning-rate", "10", "--job-dir", jobDir])
        XCTAssertEqual(result.status, 1, result.stderr + result.stdout)
        XCTAssertTrue(result.stdout.contains("Job FAILED"), result.stdout)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["status"], "FAILED")
        let reason = summary["reason"]?.stringValue ?? ""
        XCTAssertTrue(reason.contains("diverged at step ") && reason.contains(": loss is nan"), reason)

        let allowed = try Harness.run(["train", "--workers", "0", "--ps", "1", "--max-steps", "100", "--learning-rate", "10",
                                       "--allow-divergence", "--job-dir", jobDir + "-allowed"])
        defer { try? FileManager.default.removeItem(atPath: jobDir + "-allowed") }
        XCTAssertEqual(allowed.status, 0, allowed.stderr + allowed.stdout)
        let log = try String(contentsOfFile: jobDir + "-allowed/logs/chief-0.log", encoding: .utf8)
        XCTAssertTrue(log.contains("training on (--allow-divergence)"), log)
    }

    func testARerunIntoAFinishedJobHasNothingToTrainAndReportsOnlyItself() throws {
        let args = ["train", "--workers", "1", "--ps", "1", "--max-steps", "200", "--job-dir", jobDir] + Harness.smallJob
        let first = try Harness.run(args)
        XCTAssertEqual(first.status, 0, first.stderr + first.stdout)
        let again = try Harness.run(args)
        XCTAssertEqual(again.status, 0, again.stderr + again.stdout)
        XCTAssertTrue(again.stdout.contains("Job SUCCEEDED"), again.stdout)
        XCTAssertTrue(again.stdout.contains("already at step 200 of 200: nothing to train"), again.stdout)
        XCTAssertFalse(again.stdout.contains("examples/s"), again.stdout)
        XCTAssertFalse(again.stdout.contains("loss"), again.stdout)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["steps_trained"]?.intValue, 0)
        XCTAssertEqual(summary["examples_per_sec"]?.intValue, 0)
        XCTAssertEqual(summary["first_loss"], .null)
        XCTAssertEqual(summary["final_loss"], .null)
        let log = try String(contentsOfFile: jobDir + "/logs/chief-0.log", encoding: .utf8)
        XCTAssertTrue(log.contains("already at step 200 of 200: nothing to train"), log)
        XCTAssertEqual(Harness.processes(mentioning: jobDir), [])
    }

    func testBasicTiersChiefClaimsNoParameterServers() throws {
        let result = try Harness.run(["train", "--scale-tier", "BASIC", "--max-steps", "100", "--job-dir", jobDir] + Harness.smallJob)
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["topology"]?["ps"]?.intValue, 0)
        XCTAssertEqual(summary["topology"]?["workers"]?.intValue, 0)
        let log = try String(contentsOfFile: jobDir + "/logs/chief-0.log", encoding: .utf8)
        XCTAssertTrue(log.contains("initialized the variables in this process from fresh variables"), log)
        XCTAssertTrue(log.contains("no other task to shut down"), log)
        XCTAssertFalse(log.contains(" ps "), log)
        XCTAssertFalse(log.contains(" ps)"), log)
    }

    func testStandard1RunsAllEightTasksWithEmulatedLinks() throws {
        let result = try Harness.run(["train", "--scale-tier", "STANDARD_1", "--max-steps", "400", "--job-dir", jobDir] + Harness.smallJob)
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        XCTAssertTrue(result.stderr.contains("STANDARD_1: master complex_model_s + 4 × worker complex_model_s + 3 × ps standard → 1 chief + 4 workers + 3 ps"), result.stderr)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["status"], "SUCCEEDED")
        let tasks = summary["tasks"]?.objectValue?.map(\.0) ?? []
        XCTAssertEqual(Set(tasks), ["chief-0", "worker-0", "worker-1", "worker-2", "worker-3", "ps-0", "ps-1", "ps-2"])
        for t in tasks { XCTAssertEqual(summary["tasks"]?[t]?["exit_code"]?.intValue, 0, t) }
        // Every training task trained, and every ps served a shard.
        let records = try String(contentsOfFile: jobDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        XCTAssertEqual(Set(records.filter { $0["kind"] == "train" }.compactMap { $0["task"]?.stringValue }), ["chief-0", "worker-0", "worker-1", "worker-2", "worker-3"])
        for ps in 0..<3 {
            let log = try String(contentsOfFile: jobDir + "/logs/ps-\(ps).log", encoding: .utf8)
            XCTAssertTrue(log.contains("shutting down at global step 400"), log)
        }
        XCTAssertEqual(Harness.processes(mentioning: jobDir), [])
    }

    func testTrainsOnACSVFile() throws {
        // Two well separated classes in two features, label by name.
        var rows = ["x,y,kind"]
        var rng = SplitMix64(seed: 4)
        for i in 0..<600 {
            let c = i % 2
            rows.append("\(Double(c) * 4 + rng.nextGaussian()),\(rng.nextGaussian() - Double(c) * 3),\(c == 0 ? "left" : "right")")
        }
        let path = jobDir + "-data.csv"
        try rows.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // One trainer: its pushes reach the ps in one order whatever the machine's load, so the accuracy
        // it reaches is the same every run (with two, a busy machine once left it at 0.78).
        let result = try Harness.run(["train", "--workers", "0", "--ps", "1", "--max-steps", "600", "--dataset", "csv:" + path,
                                      "--label-column", "kind", "--hidden", "8", "--batch-size", "16", "--job-dir", jobDir])
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertGreaterThan(summary["eval_accuracy"]?.doubleValue ?? 0, 0.9)

        // A malformed file fails the job at once with exit code 3 (invalid input, never retried),
        // and the task's log ends with one line naming the file and line.
        try (rows.joined(separator: "\n") + "\n1.0,oops,left\n").write(toFile: path, atomically: true, encoding: .utf8)
        let bad = try Harness.run(["train", "--workers", "0", "--ps", "1", "--dataset", "csv:" + path, "--label-column", "kind", "--job-dir", jobDir + "-bad"])
        defer { try? FileManager.default.removeItem(atPath: jobDir + "-bad") }
        XCTAssertEqual(bad.status, 3, bad.stderr + bad.stdout)
        let log = try String(contentsOfFile: jobDir + "-bad/logs/chief-0.log", encoding: .utf8)
        XCTAssertEqual(TaskLog.errorReason(inLog: log), "\(path):602: column 1 (\"y\"): \"oops\" is not a number", log)
        let badSummary = try Harness.json(jobDir + "-bad/summary.json")
        XCTAssertEqual(badSummary["tasks"]?["chief-0"]?["restarts"]?.intValue, 0)
    }

    func testKillingTheLauncherTakesEveryRoleDown() throws {
        let (launcher, _, _) = try Harness.start(["train", "--max-steps", "10000000", "--job-dir", jobDir] + Harness.smallJob)
        // Wait until training is under way.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !((try? String(contentsOfFile: jobDir + "/metrics.jsonl", encoding: .utf8))?.contains("\"train\"") ?? false) {
            usleep(50_000)
        }
        XCTAssertEqual(Harness.processes(mentioning: jobDir).count, 6, "launcher + 5 roles")
        kill(launcher.processIdentifier, SIGKILL)
        launcher.waitUntilExit()
        XCTAssertEqual(Harness.waitForNoProcesses(mentioning: jobDir, timeout: 5), [], "roles must exit within a few seconds of the launcher's death")
    }

    func testInterruptStopsEveryChildAndExits130() throws {
        let (launcher, _, _) = try Harness.start(["train", "--max-steps", "10000000", "--job-dir", jobDir] + Harness.smallJob)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !FileManager.default.fileExists(atPath: jobDir + "/metrics.jsonl") { usleep(50_000) }
        kill(launcher.processIdentifier, SIGINT)
        launcher.waitUntilExit()
        XCTAssertEqual(launcher.terminationStatus, 130)
        XCTAssertEqual(Harness.processes(mentioning: jobDir), [])
        let summary = try Harness.json(jobDir + "/summary.json")
        XCTAssertEqual(summary["status"], "CANCELLED")
    }

    /// Fifty ps: each task gets its own listeners (the spawner's shuffle of passed descriptors
    /// through 100, 101, … had handed ps-40 its TCP listener as its Unix-domain one, and the job
    /// failed after three restarts).
    func testFiftyParameterServersEachGetTheirOwnListeners() throws {
        let result = try Harness.run(["train", "--ps", "50", "--max-steps", "20", "--startup-timeout", "180", "--job-dir", jobDir] + Harness.smallJob, timeout: 300)
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        XCTAssertTrue(result.stdout.contains("Job SUCCEEDED"), result.stdout)
        XCTAssertFalse(result.stdout.contains("not a Unix-domain socket"), result.stdout)
    }

    /// Ctrl-C while a 200-ps cluster is still starting stops the starting: it had started all 203
    /// processes first (about 25 s on two cores; two minutes for 1,000) and only then stopped them.
    func testInterruptWhileALargeClusterStartsStartsNoMore() throws {
        let (launcher, out, err) = try Harness.start(["train", "--ps", "200", "--max-steps", "20", "--job-dir", jobDir] + Harness.smallJob)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && launcher.isRunning && Harness.processes(mentioning: jobDir).count < 10 { usleep(10_000) }
        guard launcher.isRunning else {
            launcher.waitUntilExit()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return XCTFail("the launcher ended (status \(launcher.terminationStatus)) before the cluster started: \(stderr)")
        }
        kill(launcher.processIdentifier, SIGINT)
        XCTAssertTrue(Harness.waitForExit(launcher, timeout: 60), "it went on starting the cluster after Ctrl-C")
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(launcher.terminationStatus, 130, stdout)
        XCTAssertTrue(stdout.contains("Job CANCELLED"), stdout)
        XCTAssertEqual(Harness.waitForNoProcesses(mentioning: jobDir, timeout: 10), [])
        let started = ((try? FileManager.default.contentsOfDirectory(atPath: jobDir + "/logs")) ?? []).filter { $0.hasPrefix("ps-") }.count
        XCTAssertLessThan(started, 200, "every ps was started before the launcher stopped")
    }

    func testAFailedTaskFailsTheJobWithItsName() throws {
        // A ps with an impossible optimizer setting is impossible to reach; instead kill a ps mid-run.
        let (launcher, out, _) = try Harness.start(["train", "--max-steps", "10000000", "--restart-policy", "Never", "--job-dir", jobDir] + Harness.smallJob)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !((try? String(contentsOfFile: jobDir + "/metrics.jsonl", encoding: .utf8))?.contains("\"train\"") ?? false) {
            usleep(50_000)
        }
        let ps = Harness.processes(mentioning: jobDir).filter {
            ((try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) ?? "").contains("trainyard-ps")
        }
        XCTAssertEqual(ps.count, 2)
        guard let victim = ps.first else {
            launcher.terminate()
            launcher.waitUntilExit()
            return XCTFail("no trainyard-ps process of the job was found")
        }
        kill(victim, SIGKILL)
        launcher.waitUntilExit()
        XCTAssertEqual(launcher.terminationStatus, 1)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("FAILED"), text)
        XCTAssertTrue(text.contains("killed by SIGKILL"), text)
        XCTAssertEqual(Harness.processes(mentioning: jobDir), [])
    }
}
