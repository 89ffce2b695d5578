import XCTest
@testable import TrainyardCore

/// The fault scheduler without processes: events in, directives out.
final class FaultSchedulerTests: XCTestCase {
    let tasks: [TaskID] = [.chief(0), .worker(0), .worker(1), .ps(0), .ps(1)]

    private func scheduler(_ faults: [Scenario.Fault], seed: UInt64 = 1, timeout: Double? = nil, running: Bool = true) -> FaultScheduler {
        var s = FaultScheduler(faults: faults, tasks: tasks, seed: seed, timeout: timeout)
        if running { for t in tasks { XCTAssertEqual(s.handle(.taskStarted(t)), []) } }
        return s
    }

    private func signals(_ directives: [FaultScheduler.Directive]) -> [FaultScheduler.Directive] {
        directives.filter { if case .signal = $0 { return true } else { return false } }
    }

    private func setFaults(_ directives: [FaultScheduler.Directive]) -> [TaskID: TaskFaults] {
        var out: [TaskID: TaskFaults] = [:]
        for case .setFaults(let task, let f) in directives { out[task] = f }
        return out
    }

    func testAStepTriggerFiresOnceTheGlobalStepReachesIt() {
        var s = scheduler([.init(trigger: .step(100), action: .kill(.task(.ps(1))))])
        XCTAssertEqual(s.handle(.tick(elapsed: 5, step: 99)), [])
        let out = s.handle(.tick(elapsed: 5.05, step: 130))
        XCTAssertEqual(out, [.note(kind: "fault", text: "kill ps-1 at step 100 (global step 130)"), .signal(.ps(1), .kill)])
        XCTAssertEqual(s.fired.count, 1)
        XCTAssertEqual(s.fired[0].firedAt, 5.05)
        XCTAssertEqual(s.fired[0].firedAtStep, 130)
        XCTAssertEqual(s.fired[0].targets, [.ps(1)])
        XCTAssertNil(s.fired[0].endedAt)
        XCTAssertEqual(s.handle(.tick(elapsed: 6, step: 400)), [], "a fault fires once")
    }

    func testEveryPsHoldsAtEachFaultsStepUntilItFires() {
        var s = FaultScheduler(faults: [.init(trigger: .step(300), action: .kill(.task(.worker(0)))),
                                        .init(trigger: .step(100), action: .kill(.task(.worker(1)))),
                                        .init(trigger: .seconds(2), action: .kill(.task(.chief(0))))],
                               tasks: tasks, seed: 1, holdsAtFaultSteps: true)
        for t in tasks { _ = s.handle(.taskStarted(t)) }
        // Before any task starts: the ps hold at both steps, the trainers at none.
        XCTAssertEqual(s.initialFaults[.ps(0)]?.holdAtSteps, [100, 300])
        XCTAssertEqual(s.initialFaults[.ps(1)]?.holdAtSteps, [100, 300])
        XCTAssertNil(s.initialFaults[.worker(0)])
        // The step-100 fault fires at exactly the held step and releases it, keeping 300.
        let out = s.handle(.tick(elapsed: 1, step: 100))
        XCTAssertTrue(out.contains(.note(kind: "fault", text: "kill worker-1 at step 100 (global step 100)")), "\(out)")
        XCTAssertEqual(setFaults(out)[.ps(0)]?.holdAtSteps, [300])
        XCTAssertEqual(setFaults(out)[.ps(1)]?.holdAtSteps, [300])
        // A time trigger releases nothing.
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 2.5, step: 200))), [:])
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 3, step: 300)))[.ps(0)]?.holdAtSteps, [])
    }

    func testTheJobCannotEndWhileAFaultWithADurationIsInForce() {
        // A partition for 3 s and a pause for 1 s, in a job of 1000 steps: while either is in force
        // every ps holds at step 999, so a fast cluster cannot finish before the fault is over.
        let sides = Scenario.Partition([.worker(0)], [.ps(0), .ps(1)])
        var s = FaultScheduler(faults: [.init(trigger: .step(100), action: .partition(sides, duration: 3)),
                                        .init(trigger: .step(200), action: .pause(.task(.worker(1)), duration: 1))],
                               tasks: tasks, seed: 1, holdsAtFaultSteps: true, finalHoldStep: 999)
        for t in tasks { _ = s.handle(.taskStarted(t)) }
        XCTAssertEqual(s.initialFaults[.ps(0)]?.holdAtSteps, [100, 200], "nothing in force yet: no hold at the end")
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 1, step: 100)))[.ps(1)]?.holdAtSteps, [200, 999])
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 1.5, step: 200)))[.ps(0)]?.holdAtSteps, [999], "the pause fired: still held at the end")
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 2.6, step: 999))), [:], "the pause is over, the partition is not")
        let lifted = s.handle(.tick(elapsed: 4.1, step: 999))
        XCTAssertEqual(setFaults(lifted)[.ps(0)]?.holdAtSteps, [], "the last fault lifted: the end released")
        XCTAssertEqual(setFaults(lifted)[.ps(1)]?.holdAtSteps, [])
        XCTAssertNil(setFaults(lifted)[.worker(1)], "the trainers never hold")
        // Without the scenario runner's holds there is no final hold either.
        var plain = FaultScheduler(faults: [.init(trigger: .step(1), action: .partition(sides, duration: 3))], tasks: tasks, seed: 1, finalHoldStep: 999)
        for t in tasks { _ = plain.handle(.taskStarted(t)) }
        XCTAssertEqual(setFaults(plain.handle(.tick(elapsed: 1, step: 1)))[.ps(0)]?.holdAtSteps ?? [], [])
    }

    func testATimeTriggerFiresOnTheFirstTickAtOrPastIt() {
        var s = scheduler([.init(trigger: .seconds(2), action: .kill(.task(.worker(0))))])
        XCTAssertEqual(s.handle(.tick(elapsed: 1.99, step: 1_000_000)), [], "the step does not matter")
        XCTAssertEqual(signals(s.handle(.tick(elapsed: 2.0, step: 0))), [.signal(.worker(0), .kill)])
    }

    func testKillingATaskThatIsNotRunningOnlyNotesIt() {
        var s = scheduler([.init(trigger: .step(0), action: .kill(.task(.ps(0))))])
        XCTAssertEqual(s.handle(.taskExited(.ps(0))), [])
        XCTAssertEqual(s.handle(.tick(elapsed: 1, step: 0)).last, .note(kind: "fault", text: "ps-0 was not running"))
    }

    func testTheTimeoutCancelsTheJobOnce() {
        var s = scheduler([], timeout: 10)
        XCTAssertEqual(s.handle(.tick(elapsed: 10, step: 0)), [])
        XCTAssertEqual(s.handle(.tick(elapsed: 10.05, step: 0)), [
            .note(kind: "timeout", text: "the scenario ran past its 10 s limit"), .cancel(reason: "scenario timeout after 10 s"),
        ])
        XCTAssertEqual(s.handle(.tick(elapsed: 10.1, step: 0)), [])
    }

    func testAPauseStopsTheTaskAndContinuesItAfterItsDuration() {
        var s = scheduler([.init(trigger: .seconds(1), action: .pause(.task(.worker(1)), duration: 0.5))])
        XCTAssertEqual(signals(s.handle(.tick(elapsed: 1, step: 0))), [.signal(.worker(1), .stop)])
        XCTAssertEqual(s.fired[0].endedAt, 1.5)
        XCTAssertEqual(s.handle(.tick(elapsed: 1.45, step: 0)), [])
        XCTAssertEqual(s.handle(.tick(elapsed: 1.5, step: 0)), [.signal(.worker(1), .resume), .note(kind: "fault_end", text: "worker-1 resumed (SIGCONT)")])
    }

    func testTheEndOfADurationLiftsTheShaping() {
        var s = scheduler([.init(trigger: .step(10), action: .slow(.task(.worker(1)), factor: 20, duration: 1))])
        let on = s.handle(.tick(elapsed: 3, step: 10))
        XCTAssertEqual(setFaults(on), [.worker(1): TaskFaults(slowFactor: 20)], "only the slowed task's file is written")
        XCTAssertEqual(s.fired[0].endedAt, 4)
        XCTAssertEqual(s.handle(.tick(elapsed: 3.9, step: 50)), [])
        let off = s.handle(.tick(elapsed: 4.02, step: 60))
        XCTAssertEqual(off, [.setFaults(.worker(1), TaskFaults()), .note(kind: "fault_end", text: "lifted: slow worker-1 ×20 for 1 s at step 10")])
        XCTAssertEqual(s.fired[0].endedAt, 4.02, "the record says when the shaping was actually lifted")
        XCTAssertEqual(s.inForce[.worker(1)], TaskFaults())
    }

    func testAShapingFaultWithoutADurationLastsToTheEnd() {
        var s = scheduler([.init(trigger: .step(0), action: .bandwidth(.task(.ps(1)), bytesPerSecond: 1e5, duration: nil))])
        let on = setFaults(s.handle(.tick(elapsed: 0, step: 0)))
        XCTAssertEqual(on[.ps(1)], TaskFaults(links: [.init(peers: nil, delay: 0, bandwidth: 1e5)]), "the target's own sends")
        XCTAssertEqual(on[.worker(0)], TaskFaults(links: [.init(peers: [.ps(1)], delay: 0, bandwidth: 1e5)]), "everyone's sends to the target")
        XCTAssertEqual(on.count, tasks.count)
        XCTAssertNil(s.fired[0].endedAt)
        XCTAssertEqual(s.handle(.tick(elapsed: 1000, step: 1_000_000)), [])
    }

    func testTwoOverlappingShapingFaultsOnOneTaskCompose() {
        var s = scheduler([
            .init(trigger: .seconds(1), action: .delay(.task(.ps(0)), seconds: 0.02, duration: 2)),
            .init(trigger: .seconds(2), action: .slow(.task(.ps(0)), factor: 3, duration: 2)),
            .init(trigger: .seconds(2), action: .slow(.task(.ps(0)), factor: 5, duration: 0.5)),
        ])
        _ = s.handle(.tick(elapsed: 1, step: 0))
        let both = setFaults(s.handle(.tick(elapsed: 2, step: 0)))
        XCTAssertEqual(both[.ps(0)], TaskFaults(slowFactor: 5, links: [.init(peers: nil, delay: 0.02)]), "the larger slowdown and the delay, together")
        XCTAssertNil(both[.worker(0)], "the other tasks' files did not change")
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 2.5, step: 0)))[.ps(0)], TaskFaults(slowFactor: 3, links: [.init(peers: nil, delay: 0.02)]))
        let delayOff = setFaults(s.handle(.tick(elapsed: 3, step: 0)))
        XCTAssertEqual(delayOff[.ps(0)], TaskFaults(slowFactor: 3), "lifting one keeps the other")
        XCTAssertEqual(delayOff[.worker(1)], TaskFaults())
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 4, step: 0))), [.ps(0): TaskFaults()])
    }

    func testAPartitionCutsBothSidesAndHealsAfterItsDuration() {
        let sides = Scenario.Partition([.worker(0)], [.ps(0), .ps(1)])
        var s = scheduler([.init(trigger: .step(2000), action: .partition(sides, duration: 1))])
        let on = s.handle(.tick(elapsed: 8, step: 2000))
        XCTAssertEqual(on.first, .note(kind: "fault", text: "partition worker-0 | ps-0,ps-1 for 1 s at step 2000 (global step 2000)"))
        XCTAssertEqual(setFaults(on), [
            .worker(0): TaskFaults(links: [.init(peers: [.ps(0), .ps(1)], partitioned: true)]),
            .ps(0): TaskFaults(links: [.init(peers: [.worker(0)], partitioned: true)]),
            .ps(1): TaskFaults(links: [.init(peers: [.worker(0)], partitioned: true)]),
        ])
        XCTAssertEqual(s.fired[0].targets, [.worker(0), .ps(0), .ps(1)])
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 9, step: 2000))), [.worker(0): TaskFaults(), .ps(0): TaskFaults(), .ps(1): TaskFaults()])
    }

    func testAPreemptEscalatesToSIGKILLWhenTheSameProcessOutlivesItsGrace() {
        var s = scheduler([.init(trigger: .step(3000), action: .preempt(.task(.chief(0)), grace: 5))])
        XCTAssertEqual(signals(s.handle(.tick(elapsed: 10, step: 3000))), [.signal(.chief(0), .terminate)])
        XCTAssertEqual(s.handle(.tick(elapsed: 14.9, step: 3000)), [])
        XCTAssertEqual(s.handle(.tick(elapsed: 15, step: 3000)), [
            .signal(.chief(0), .kill), .note(kind: "fault", text: "chief-0 outlived its 5 s grace period: SIGKILL"),
        ])
    }

    func testAPreemptDoesNotKillATaskThatExitedOrWasStartedAgain() {
        var s = scheduler([.init(trigger: .step(0), action: .preempt(.task(.chief(0)), grace: 5)),
                           .init(trigger: .step(0), action: .preempt(.task(.ps(0)), grace: 5))])
        XCTAssertEqual(signals(s.handle(.tick(elapsed: 1, step: 0))), [.signal(.chief(0), .terminate), .signal(.ps(0), .terminate)])
        _ = s.handle(.taskExited(.chief(0)))
        _ = s.handle(.taskExited(.ps(0)))
        _ = s.handle(.taskStarted(.ps(0)))
        XCTAssertEqual(s.handle(.tick(elapsed: 7, step: 0)), [], "the chief is gone; ps-0 runs, but as a new process")
    }

    func testPreemptingATaskThatIsNotRunningDoesNothing() {
        var s = scheduler([.init(trigger: .step(0), action: .preempt(.task(.ps(0)), grace: 0))], running: false)
        XCTAssertEqual(s.handle(.tick(elapsed: 1, step: 0)).last, .note(kind: "fault", text: "the target was not running"))
        XCTAssertEqual(s.handle(.tick(elapsed: 2, step: 0)), [])
    }

    func testEachResetRaisesTheGenerationAndShapingKeepsIt() {
        var s = scheduler([
            .init(trigger: .step(100), action: .reset(.task(.ps(0)))),
            .init(trigger: .step(200), action: .reset(.task(.ps(0)))),
            .init(trigger: .step(300), action: .slow(.task(.ps(0)), factor: 2, duration: 1)),
        ])
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 1, step: 100))), [.ps(0): TaskFaults(resetGeneration: 1)])
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 2, step: 200))), [.ps(0): TaskFaults(resetGeneration: 2)])
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 3, step: 300))), [.ps(0): TaskFaults(slowFactor: 2, resetGeneration: 2)])
        XCTAssertEqual(setFaults(s.handle(.tick(elapsed: 4, step: 400))), [.ps(0): TaskFaults(resetGeneration: 2)], "a reset is not undone")
    }

    func testASeededRandomTargetIsReproducible() {
        let faults: [Scenario.Fault] = (0..<8).map { .init(trigger: .step($0), action: .kill(.random(.worker))) }
            + [.init(trigger: .step(9), action: .kill(.random(nil)))]
        func targets(seed: UInt64) -> [TaskID] {
            var s = scheduler(faults, seed: seed)
            _ = s.handle(.tick(elapsed: 1, step: 100))
            return s.fired.flatMap(\.targets)
        }
        let a = targets(seed: 7)
        XCTAssertEqual(a, targets(seed: 7))
        XCTAssertEqual(a.count, 9)
        XCTAssertTrue(a.prefix(8).allSatisfy { $0.type == .worker })
        XCTAssertEqual(Set(a.prefix(8)).count, 2, "eight draws from two workers hit both")
        XCTAssertNotEqual(a, targets(seed: 8))
        var s = scheduler([faults[0]], seed: 7)
        XCTAssertEqual(s.handle(.tick(elapsed: 1, step: 0)).first, .note(kind: "fault", text: "kill random worker at step 0 → \(a[0]) (global step 0)"))
    }

    func testACorruptedCheckpointIsDamagedAgainIfLatestMovesOn() {
        var s = scheduler([.init(trigger: .step(8500), action: .corruptCheckpoint(.truncate))])
        XCTAssertEqual(s.handle(.tick(elapsed: 20, step: 8500)).last, .damageLatestCheckpoint(fault: 0, mode: .truncate, unless: nil))
        XCTAssertEqual(s.fired[0].targets, [])
        XCTAssertEqual(s.handle(.checkpointDamaged(fault: 0, name: "ckpt-8400")), [])
        XCTAssertEqual(s.handle(.tick(elapsed: 20.02, step: 8500)), [])
        XCTAssertEqual(s.handle(.tick(elapsed: 20.07, step: 8500)), [
            .damageLatestCheckpoint(fault: 0, mode: .truncate, unless: "ckpt-8400"), .damageLatestCheckpoint(fault: 0, mode: .truncate, unless: "ckpt-8400"),
        ])
        XCTAssertEqual(s.handle(.checkpointDamaged(fault: 0, name: nil)), [], "only the first answer schedules")
        XCTAssertEqual(s.handle(.tick(elapsed: 20.1, step: 8500)), [.damageLatestCheckpoint(fault: 0, mode: .truncate, unless: "ckpt-8400")])
        XCTAssertEqual(s.handle(.tick(elapsed: 30, step: 8500)), [])
    }

    func testNoCheckpointToCorruptIsNotedAndNotRetried() {
        var s = scheduler([.init(trigger: .step(0), action: .corruptCheckpoint(.flip))])
        _ = s.handle(.tick(elapsed: 1, step: 0))
        XCTAssertEqual(s.handle(.checkpointDamaged(fault: 0, name: nil)), [.note(kind: "fault", text: "no checkpoint to corrupt yet")])
        XCTAssertEqual(s.handle(.tick(elapsed: 2, step: 0)), [])
    }
}
