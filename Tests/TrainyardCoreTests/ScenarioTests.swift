import Foundation
import XCTest
@testable import TrainyardCore

final class ScenarioTests: XCTestCase {
    let minimal = #"{"name": "s", "cluster": {"workers": 2, "ps": 1}, "faults": [{"at_step": 10, "action": "kill", "target": "ps-0"}], "expect": {"state": "SUCCEEDED"}}"#

    func testMoreGradientsToAggregateThanTrainingTasksIsRefusedAtTheField() {
        let text = #"{"name": "s", "cluster": {"workers": 1, "ps": 1}, "training": {"sync": true, "replicas_to_aggregate": 3}, "faults": [], "expect": {"state": "SUCCEEDED"}}"#
        XCTAssertThrowsError(try Scenario(parsing: text, source: "k.json")) { e in
            let m = (e as? FieldError)?.description ?? "\(e)"
            XCTAssertTrue(m.hasPrefix("k.json: training.replicas_to_aggregate: is 3, but cluster.workers 1 gives 2 training tasks"), m)
        }
        XCTAssertNoThrow(try Scenario(parsing: text.replacingOccurrences(of: "\"replicas_to_aggregate\": 3", with: "\"replicas_to_aggregate\": 2"), source: "k.json"))
    }

    func testParsesAFullScenario() throws {
        let text = #"""
        {"name": "full", "description": "d", "cluster": {"workers": 3, "ps": 2},
         "training": {"max_steps": 500, "hidden": "16,8", "sync": true, "replicas_to_aggregate": 3, "learning_rate": 0.1},
         "restart_policy": {"default": "Never", "worker": "OnFailure", "ps": "ExitCode"}, "backoff_limit": 5, "seed": 9, "timeout_seconds": 30,
         "faults": [
           {"at_step": 100, "action": "kill", "target": "worker-1"},
           {"at_seconds": 1.5, "action": "preempt", "target": "chief", "grace_seconds": 2},
           {"at_step": 200, "action": "pause", "target": "random:ps", "duration_seconds": 1},
           {"at_step": 200, "action": "slow", "target": "random", "factor": 4},
           {"at_step": 250, "action": "delay", "target": "ps-0", "delay_ms": 30, "duration_seconds": 2},
           {"at_step": 250, "action": "bandwidth", "target": "ps-1", "bytes_per_second": 1e6},
           {"at_step": 300, "action": "partition", "between": [["worker-0", "worker-1"], ["ps-0"]], "duration_seconds": 1},
           {"at_step": 350, "action": "reset", "target": "ps-1"},
           {"at_step": 400, "action": "corrupt_checkpoint", "mode": "flip"}],
         "expect": {"state": "FAILED", "final_loss_at_most": 1, "eval_accuracy_at_least": 0.5, "steps_lost_at_most": 100,
                    "recovery_seconds_at_most": 10, "restarts": {"worker-1": 1, "ps-0": {"at_least": 1}}, "restores_at_least": 1,
                    "no_process_left": true, "reason_contains": "ps", "step_rate_ratio_at_least": 0.5, "damaged_checkpoint_skipped": true,
                    "target_share_of_steps_at_most": 0.1}}
        """#
        let s = try Scenario(parsing: text, source: "full.json")
        XCTAssertEqual(s.expect.targetShareAtMost, 0.1)
        XCTAssertThrowsError(try Scenario(parsing: text.replacingOccurrences(of: "\"target_share_of_steps_at_most\": 0.1", with: "\"target_share_of_steps_at_most\": 2"), source: "bad.json"))
        XCTAssertEqual(s.topology, Topology(workers: 3, parameterServers: 2))
        XCTAssertEqual(s.training.maxSteps, 500)
        XCTAssertEqual(s.training.hidden, [16, 8])
        XCTAssertTrue(s.training.sync)
        XCTAssertEqual(s.training.replicasToAggregate, 3)
        XCTAssertEqual(s.policy(for: .worker(0)), .onFailure)
        XCTAssertEqual(s.policy(for: .ps(1)), .exitCode)
        XCTAssertEqual(s.policy(for: .chief(0)), .never)
        // Indexed below: a short list fails here instead of trapping.
        guard s.faults.count == 9 else { return XCTFail("expected 9 faults, parsed \(s.faults.count)") }
        XCTAssertEqual(s.faults[0].action, .kill(.task(.worker(1))))
        XCTAssertEqual(s.faults[1].trigger, .seconds(1.5))
        XCTAssertEqual(s.faults[1].action, .preempt(.task(.chief(0)), grace: 2))
        XCTAssertEqual(s.faults[2].action, .pause(.random(.ps), duration: 1))
        XCTAssertEqual(s.faults[3].action, .slow(.random(nil), factor: 4, duration: nil))
        guard case .delay(.task(.ps(0)), let delay, duration: 2) = s.faults[4].action else { return XCTFail("\(s.faults[4].action)") }
        XCTAssertEqual(delay, 0.03, accuracy: 1e-12)
        XCTAssertEqual(s.faults[5].action, .bandwidth(.task(.ps(1)), bytesPerSecond: 1e6, duration: nil))
        XCTAssertEqual(s.faults[6].action, .partition(Scenario.Partition([.worker(0), .worker(1)], [.ps(0)]), duration: 1))
        XCTAssertEqual(s.faults[7].action, .reset(.task(.ps(1))))
        XCTAssertEqual(s.faults[8].action, .corruptCheckpoint(.flip))
        XCTAssertEqual(s.faults.map(\.summary), [
            "kill worker-1 at step 100", "preempt chief-0 at 1.5 s", "pause random ps for 1 s at step 200", "slow random task ×4 at step 200",
            "delay ps-0 +30 ms for 2 s at step 250", "bandwidth ps-1 1000000 B/s at step 250",
            "partition worker-0,worker-1 | ps-0 for 1 s at step 300", "reset ps-1 at step 350", "corrupt_checkpoint (flip bytes) at step 400",
        ])
        XCTAssertEqual(s.expect.state, .failed)
        XCTAssertEqual(s.expect.restarts[.ps(0)], Scenario.RestartCount(atLeast: 1, atMost: 1000))
        XCTAssertEqual(s.expect.restarts[.worker(1)], Scenario.RestartCount(atLeast: 1, atMost: 1))
    }

    private func error(_ edit: (inout String) -> Void) -> String {
        var text = minimal
        edit(&text)
        do { _ = try Scenario(parsing: text, source: "x.json"); return "parsed" } catch { return error.description }
    }

    func testErrorsNameTheField() {
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""name": "s", "#, with: "") }, "x.json: name: is required")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""action": "kill""#, with: #""action": "explode""#) },
                       "x.json: faults[0].action: unknown action \"explode\" (expected kill, preempt, pause, slow, delay, bandwidth, partition, reset, corrupt_checkpoint)")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""target": "ps-0""#, with: #""target": "ps-7""#) },
                       "x.json: faults[0].target: ps-7 is not a task of this cluster (it has chief-0, worker-0, worker-1, ps-0)")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""at_step": 10, "#, with: "") }, "x.json: faults[0]: needs at_step or at_seconds")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""at_step": 10"#, with: #""at_step": 10, "at_seconds": 1"#) },
                       "x.json: faults[0]: has both at_step and at_seconds; give one")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""action": "kill""#, with: #""action": "pause""#) },
                       "x.json: faults[0].duration_seconds: is required for a pause")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""state": "SUCCEEDED""#, with: #""state": "DONE""#) },
                       "x.json: expect.state: must be SUCCEEDED, FAILED or CANCELLED")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""cluster""#, with: #""training": {"max_stepz": 5}, "cluster""#) },
                       "x.json: training.max_stepz: is not a known option (did you mean max_steps?)")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""cluster""#, with: #""training": {"batch_size": "big"}, "cluster""#) },
                       "x.json: training.batch_size: takes a whole number, got \"big\"")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""cluster""#, with: #""training": {"replicas_to_aggregate": 2}, "cluster""#) },
                       "x.json: training.replicas_to_aggregate: needs sync")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #""expect""#, with: #""expekt""#) }.prefix(40), "x.json: expekt: is not a known field (ex")
        XCTAssertEqual(error { $0 = $0.replacingOccurrences(of: #"{"state": "SUCCEEDED"}"#, with: #"{"restarts": {"ps-0": "many"}}"#) },
                       "x.json: expect.restarts.ps-0: expected an object, got a string")
        XCTAssertEqual(error { $0 = "{]" }.prefix(38), "x.json: not valid JSON at line 1, colu")
    }

    func testEveryShippedScenarioParses() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Scenarios").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(files.count, 10)
        var actions = Set<Scenario.Action.Kind>()
        var sync = false
        for f in files {
            let s = try Scenario(parsing: String(contentsOfFile: dir + "/" + f, encoding: .utf8), source: f)
            actions.formUnion(s.faults.map(\.action.kind))
            sync = sync || (s.training.sync && s.faults.contains { $0.action.kind == .slow })
        }
        XCTAssertEqual(actions, Set(Scenario.Action.Kind.allCases), "the shipped scenarios cover every fault")
        XCTAssertTrue(sync, "a synchronous straggler scenario ships")
    }

    func testTaskFaultsRoundTrip() throws {
        let f = TaskFaults(slowFactor: 3, links: [.init(peers: [.ps(0)], delay: 0.02, bandwidth: 1000, partitioned: false),
                                                  .init(peers: nil, partitioned: true)], resetGeneration: 2)
        XCTAssertEqual(try TaskFaults(parsing: f.json.serialized(), source: "f"), f)
    }
}

final class ScenarioAnalysisTests: XCTestCase {
    func observations() -> ScenarioObservations {
        var o = ScenarioObservations()
        // 100 steps/s until 2 s, ps dies, restored at 2.5 s to step 150, training again from 2.6 s.
        for i in 0...20 { o.samples.append((Double(i) * 0.1, Int64(i * 10))) }
        o.samples.append((2.5, 150))
        for i in 1...15 { o.samples.append((2.5 + Double(i) * 0.1, 150 + Int64(i * 10))) }
        o.faults = [.init(index: 0, summary: "kill ps-0", targets: [.ps(0)], firedAt: 2.0, firedAtStep: 200)]
        o.restarts = [(2.2, .ps(0))]
        o.restores = [(2.45, 150, 0)]
        o.outcome = JobOutcome(.succeeded, "chief-0 finished")
        o.restartCounts = [.ps(0): 1]
        o.endedAt = 4
        return o
    }

    func testRecoveryStepsLostAndRates() {
        let r = ScenarioAnalysis.faultReports(observations())[0]
        XCTAssertEqual(r.stepsLost, 50)
        XCTAssertEqual(r.recoveredAt!, 2.6, accuracy: 1e-9)
        XCTAssertEqual(r.recoverySeconds!, 0.6, accuracy: 1e-9)
        XCTAssertEqual(r.rateBefore!, 100, accuracy: 1e-6)
        XCTAssertEqual(r.rateAfter!, 100, accuracy: 1e-6)
        XCTAssertEqual(r.rateRatio!, 1, accuracy: 1e-6)
    }

    func testARecoveryIsMeasuredFromItsOwnRestartNotALaterFaultsOnTheSameTask() {
        // A time fault kills worker-0 at 0.8 s (restarted at 0.98 s); a step fault kills it again at
        // 4.83 s (restarted at 5.11 s). Training never stopped. The first fault recovered at its own
        // restart, not at the second one: on a busy machine the step fault comes later, and taking the
        // later restart made the first recovery 4.3 s instead of 0.2 s (a verdict that flipped on load).
        var o = ScenarioObservations()
        for i in 0...60 { o.samples.append((Double(i) * 0.1, Int64(i * 100))) }
        o.faults = [.init(index: 0, summary: "kill worker-0 at 0.8 s", targets: [.worker(0)], firedAt: 0.8, firedAtStep: 800),
                    .init(index: 1, summary: "kill worker-0 at step 4830", targets: [.worker(0)], firedAt: 4.83, firedAtStep: 4830)]
        o.restarts = [(0.98, .worker(0)), (5.11, .worker(0))]
        o.endedAt = 6
        let reports = ScenarioAnalysis.faultReports(o)
        XCTAssertEqual(reports[0].recoveredAt!, 1.0, accuracy: 1e-9)
        XCTAssertEqual(reports[0].recoverySeconds!, 0.2, accuracy: 1e-9)
        XCTAssertEqual(reports[1].recoveredAt!, 5.2, accuracy: 1e-9)
        XCTAssertEqual(reports[1].recoverySeconds!, 0.37, accuracy: 1e-9)
    }

    func testExpectationsPassAndFail() {
        let o = observations()
        let reports = ScenarioAnalysis.faultReports(o)
        var e = Scenario.Expectations()
        e.stepsLostAtMost = 60
        e.recoverySecondsAtMost = 0.5
        e.restarts = [.ps(0): .init(atLeast: 1, atMost: 1), .worker(0): .init(atLeast: 0, atMost: 0)]
        e.restoresAtLeast = 1
        let results = ScenarioAnalysis.check(e, o, reports)
        XCTAssertEqual(results.first { $0.name == "steps lost" }?.passed, true)
        XCTAssertEqual(results.first { $0.name == "recovery time" }?.passed, false)
        XCTAssertEqual(results.first { $0.name == "recovery time" }?.actual, "0.6 s")
        XCTAssertEqual(results.first { $0.name == "restarts of ps-0" }?.passed, true)
        XCTAssertEqual(results.first { $0.name == "restarts of worker-0" }?.passed, true)
        XCTAssertEqual(results.first { $0.name == "state" }?.passed, true)
        XCTAssertEqual(results.first { $0.name == "no process left" }?.passed, true)
    }

    func testRateRatiosAreAgainstTheRunsOwnRateOutsideFaultWindows() {
        // 1000 steps/s for 2 s, a slowdown to 100 steps/s from 2 s to 3 s, then the machine gets
        // busy and the run goes on at 500 steps/s: the ratio compares the slowdown with the run's
        // own rate outside the window (1000 and 500 alike), not with one moment before it.
        var o = ScenarioObservations()
        var step: Int64 = 0
        for i in 0..<60 {
            let t = Double(i) * 0.1
            o.samples.append((t, step))
            step += t < 2 ? 100 : (t < 3 ? 10 : 50)
        }
        o.faults = [.init(index: 0, summary: "slow worker-0 ×10 for 1 s", targets: [.worker(0)], firedAt: 2.0, firedAtStep: 2000, endedAt: 3.0)]
        o.endedAt = 6
        let r = ScenarioAnalysis.faultReports(o)[0]
        XCTAssertEqual(r.rateDuring!, 100, accuracy: 1)
        let baseline = try! XCTUnwrap(r.rateBaseline)
        XCTAssertGreaterThan(baseline, 500)
        XCTAssertLessThan(baseline, 1000)
        XCTAssertEqual(r.rateRatio!, 100 / baseline, accuracy: 1e-9)
        // A sample interval inside the window never counts toward the baseline.
        let onlyWindow = ScenarioAnalysis.baselineRate(o, windows: [(0, 6)])
        XCTAssertNil(onlyWindow)
    }

    /// A straggler under asynchronous training: of the steps taken while it was slow, its share is
    /// small when the others went on, and a quarter of four when everyone went at its pace — counted
    /// in the one window, so a machine that is busier during the window changes nothing.
    func testTheTargetsShareOfStepsWhileTheFaultHeld() throws {
        let trainers: [TaskID] = [.chief(0), .worker(0), .worker(1), .worker(2)]
        func run(targetEvery: Int, othersEvery: Int) -> ScenarioObservations {
            var o = ScenarioObservations()
            for i in 0..<60 {
                let t = Double(i) * 0.1
                o.samples.append((t, Int64(i * 40)))
                for task in trainers {
                    // A record every 20 local steps; in the window [2, 5] s the rates change.
                    let every = (t >= 2 && t < 5) ? (task == .worker(2) ? targetEvery : othersEvery) : 1
                    if i % every == 0 { o.localSteps.append((t, task, 0)) }
                }
            }
            // Turn the record times into cumulative local steps, 20 per record.
            var counts: [TaskID: Int] = [:]
            o.localSteps = o.localSteps.map { r in counts[r.task, default: 0] += 20; return (r.time, r.task, counts[r.task]!) }
            o.faults = [.init(index: 0, summary: "slow worker-2 ×20 for 3 s", targets: [.worker(2)], firedAt: 2.0, firedAtStep: 800, endedAt: 5.0)]
            o.endedAt = 6
            return o
        }
        var e = Scenario.Expectations()
        e.targetShareAtMost = 0.1
        let asynchronous = run(targetEvery: 15, othersEvery: 1)
        let share = try XCTUnwrap(ScenarioAnalysis.faultReports(asynchronous)[0].targetShareDuring)
        XCTAssertLessThan(share, 0.05)
        XCTAssertEqual(ScenarioAnalysis.check(e, asynchronous, ScenarioAnalysis.faultReports(asynchronous)).first { $0.name.hasPrefix("target's share") }?.passed, true)
        // Everyone held back to the straggler's pace: a quarter each, and the expectation fails.
        let lockstep = run(targetEvery: 15, othersEvery: 15)
        let even = try XCTUnwrap(ScenarioAnalysis.faultReports(lockstep)[0].targetShareDuring)
        XCTAssertEqual(even, 0.25, accuracy: 0.05)
        XCTAssertEqual(ScenarioAnalysis.check(e, lockstep, ScenarioAnalysis.faultReports(lockstep)).first { $0.name.hasPrefix("target's share") }?.passed, false)
        // A restart starts the local count again: progress is counted from 0, never negative.
        var o = ScenarioObservations()
        o.localSteps = [(1, .worker(0), 500), (2.5, .worker(0), 20), (3, .worker(0), 60)]
        XCTAssertEqual(o.localProgress(of: .worker(0), from: 2, to: 4), 60)
        XCTAssertEqual(o.localProgress(of: .worker(0), from: 0, to: 1.5), 500)
    }

    func testARestoreIsChargedToTheLastFaultBeforeIt() {
        var o = observations()
        o.faults.insert(.init(index: 1, summary: "corrupt", targets: [], firedAt: 2.0, firedAtStep: 200), at: 0)
        o.faults[1].index = 2
        let reports = ScenarioAnalysis.faultReports(o)
        XCTAssertEqual(reports.map(\.stepsLost).reduce(0, +), 50)
    }
}

final class SyncParameterServerTests: XCTestCase {
    func testAggregatesKGradientsDropsStaleAndWaits() {
        var ps = ParameterServer(task: .ps(0), token: "t", optimizer: OptimizerConfig(kind: .sgd, learningRate: 1), replicasToAggregate: 2)
        var chief = ParameterServer.Peer()
        _ = ps.handshake(Hello(token: "t", task: .chief(0)), from: &chief)
        _ = ps.handle(Frame(message: .initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [0, 0]))), from: &chief)
        var a = ParameterServer.Peer(), b = ParameterServer.Peer(), c = ParameterServer.Peer()
        _ = ps.handshake(Hello(token: "t", task: .worker(0)), from: &a)
        _ = ps.handshake(Hello(token: "t", task: .worker(1)), from: &b)
        _ = ps.handshake(Hello(token: "t", task: .worker(2)), from: &c)

        // The first gradient waits for a second one.
        XCTAssertEqual(ps.handle(Frame(requestID: 7, incarnation: 1, message: .push(Push(baseStep: 0, gradients: [2, 0]))), from: &a),
                       [.awaitStep(after: 0, requestID: 7, returnValues: false)])
        XCTAssertEqual(ps.syncPushReply(after: 0, incarnation: 1), .error(WireError(.deadlineExceeded, "step 1 is still waiting for 2 gradients (has 1)")))
        // The second completes the step: the average is applied.
        let d = ps.handle(Frame(requestID: 8, incarnation: 1, message: .push(Push(baseStep: 0, gradients: [4, 2]))), from: &b)
        // The waiting push is woken before this one is answered (their answers go out together).
        XCTAssertEqual(d.first, .stepAdvanced)
        guard d.count == 2, case .reply(let answer) = d[1], case .pushReply(let r) = answer.message else { return XCTFail("\(d)") }
        XCTAssertEqual(r.globalStep, 1)
        XCTAssertEqual(ps.values, [-3, -1])
        XCTAssertEqual(ps.globalStep, 1)
        XCTAssertEqual(ps.syncPushReply(after: 0, incarnation: 1), .pushReply(PushReply(globalStep: 1, applied: true, done: false)))
        // A straggler's gradient for step 0 is stale now: dropped, not applied.
        guard case .reply(let f)? = ps.handle(Frame(requestID: 9, incarnation: 1, message: .push(Push(baseStep: 0, gradients: [100, 100]))), from: &c).first,
              case .pushReply(let r) = f.message else { return XCTFail() }
        XCTAssertFalse(r.applied)
        XCTAssertEqual(ps.values, [-3, -1])
        XCTAssertEqual(ps.droppedStale, 1)
        // A restore while a push waits answers it with stale-incarnation.
        _ = ps.handle(Frame(requestID: 10, incarnation: 1, message: .push(Push(baseStep: 1, gradients: [1, 1]))), from: &a)
        _ = ps.handle(Frame(message: .initialize(Initialize(incarnation: 2, globalStep: 0, maxSteps: 10, values: [5, 5]))), from: &chief)
        guard case .error(let e) = ps.syncPushReply(after: 1, incarnation: 1) else { return XCTFail() }
        XCTAssertEqual(e.code, .staleIncarnation)
        XCTAssertEqual(ps.accumulated, 0)
    }
}
