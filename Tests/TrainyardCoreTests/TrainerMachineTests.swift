import XCTest
@testable import TrainyardCore

final class TrainerMachineTests: XCTestCase {
    func config(chief: Bool) -> TrainerMachine.Configuration {
        .init(isChief: chief, maxSteps: 100, checkpointEvery: 10, evalEvery: 20, backoff: Backoff(initial: 0.1, maximum: 1), peerTimeout: 5)
    }

    func status(_ i: Int, initialized: Bool, incarnation: UInt32 = 1, step: Int64 = 0, done: Bool = false) -> Status {
        Status(task: .ps(i), initialized: initialized, incarnation: incarnation, globalStep: step, done: done, shardElements: 4)
    }

    func testARestartedChiefThatFindsTheJobDoneAdoptsTheClustersIncarnationForTheFinalPull() {
        var m = TrainerMachine(config(chief: true))
        XCTAssertEqual(m.handle(.started(now: 0)), [.pollCluster])
        XCTAssertEqual(m.handle(.clusterPolled([status(0, initialized: true, incarnation: 3, step: 100, done: true),
                                                status(1, initialized: true, incarnation: 3, step: 100, done: true)], now: 1)), [.pullFinalState])
        XCTAssertEqual(m.incarnation, 3, "the final pull must be asked under the cluster's incarnation")
    }

    func testChiefInitializesAFreshClusterThenTrains() {
        var m = TrainerMachine(config(chief: true))
        XCTAssertEqual(m.handle(.started(now: 0)), [.pollCluster])
        XCTAssertEqual(m.handle(.clusterPolled([status(0, initialized: false, incarnation: 0), status(1, initialized: false, incarnation: 0)], now: 0)),
                       [.initializeCluster(incarnation: 1)])
        XCTAssertEqual(m.handle(.clusterInitialized(incarnation: 1, globalStep: 0)), [.pull(incarnation: 1)])
        XCTAssertEqual(m.handle(.pulled(globalStep: 0, done: false, now: 0)), [.computeStep])
        XCTAssertEqual(m.handle(.stepComputed(loss: 2.3)), [.push])
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 1, applied: true, done: false), now: 1)), [.pull(incarnation: 1)])
    }

    func testChiefCheckpointsAndEvaluatesOnSchedule() {
        var m = TrainerMachine(config(chief: true))
        _ = m.handle(.started(now: 0))
        _ = m.handle(.clusterPolled([status(0, initialized: false, incarnation: 0)], now: 0))
        _ = m.handle(.clusterInitialized(incarnation: 1, globalStep: 0))
        // Every 10 steps, exactly: a push that lands on 12 checkpoints step 10's snapshot.
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 12, applied: true, done: false), now: 1)), [.checkpointSnapshot(step: 10), .pull(incarnation: 1)])
        _ = m.handle(.checkpointWritten(step: 10))
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 19, applied: true, done: false), now: 1.5)), [.pull(incarnation: 1)])
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 21, applied: true, done: false), now: 2)),
                       [.checkpointSnapshot(step: 20), .evaluate(step: 20), .pull(incarnation: 1)])
        // A ps short of step 20 has no snapshot yet: the next push asks again.
        _ = m.handle(.snapshotUnavailable(step: 20, reason: "ps-1: the global step is 19, short of 20"))
        _ = m.handle(.evaluated(step: 20))
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 22, applied: true, done: false), now: 2.1)), [.checkpointSnapshot(step: 20), .pull(incarnation: 1)])
        _ = m.handle(.checkpointWritten(step: 20))
        // A slow chief that learns of the step only past several boundaries takes the latest.
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 57, applied: true, done: false), now: 2.5)),
                       [.checkpointSnapshot(step: 50), .evaluate(step: 40), .pull(incarnation: 1)])
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 100, applied: true, done: true), now: 3)), [.pullFinalState])
        XCTAssertEqual(m.handle(.finalStatePulled(globalStep: 100, allDone: true, now: 3.1)), [.finishJob(globalStep: 100)])
        XCTAssertEqual(m.handle(.jobFinished), [.exit(.success, reason: "finished at global step 100")])
    }

    func testWorkerWaitsForTheChiefWithBackoffThenGivesUp() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        let uninitialized = [status(0, initialized: false, incarnation: 0)]
        XCTAssertEqual(m.handle(.clusterPolled(uninitialized, now: 0.5)), [.wait(seconds: 0.1), .pollCluster])
        XCTAssertEqual(m.handle(.clusterPolled(uninitialized, now: 1)), [.wait(seconds: 0.2), .pollCluster])
        XCTAssertEqual(m.handle(.clusterPolled(uninitialized, now: 2)), [.wait(seconds: 0.4), .pollCluster])
        guard case .exit(let code, _)? = m.handle(.clusterPolled(uninitialized, now: 6)).first else { return XCTFail() }
        XCTAssertEqual(code, .clusterError)
    }

    func testWorkerStartsWhenEveryShardIsInitialized() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        XCTAssertEqual(m.handle(.clusterPolled([status(0, initialized: true, incarnation: 2), status(1, initialized: true, incarnation: 2)], now: 0)),
                       [.pull(incarnation: 2)])
        XCTAssertEqual(m.incarnation, 2)
    }

    func testWorkerWaitsWhileShardsDisagreeOnIncarnation() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        let d = m.handle(.clusterPolled([status(0, initialized: true, incarnation: 2), status(1, initialized: true, incarnation: 1)], now: 0))
        XCTAssertEqual(d, [.wait(seconds: 0.1), .pollCluster])
    }

    func testRestartedChiefAdoptsLiveState() {
        var m = TrainerMachine(config(chief: true))
        _ = m.handle(.started(now: 0))
        let d = m.handle(.clusterPolled([status(0, initialized: true, incarnation: 3, step: 57), status(1, initialized: true, incarnation: 3, step: 57)], now: 0))
        XCTAssertEqual(d, [.pull(incarnation: 3)])
        XCTAssertEqual(m.globalStep, 57)
        // Nothing for the multiples passed before it came (50 and 40 were the old chief's); the
        // schedules stay on the multiples: step 60 is checkpointed and evaluated.
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 58, applied: true, done: false), now: 1)), [.pull(incarnation: 3)])
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 61, applied: true, done: false), now: 1)),
                       [.checkpointSnapshot(step: 60), .evaluate(step: 60), .pull(incarnation: 3)])
    }

    func testRestartedChiefRestoresWhenAPsLostItsState() {
        var m = TrainerMachine(config(chief: true))
        _ = m.handle(.started(now: 0))
        let d = m.handle(.clusterPolled([status(0, initialized: true, incarnation: 3, step: 57), status(1, initialized: false, incarnation: 0)], now: 0))
        XCTAssertEqual(d, [.initializeCluster(incarnation: 4)])
        XCTAssertEqual(m.restores, 1)
    }

    func testAPushRefusedForNonFiniteGradientsFailsTheJobAndAStrangerTaskIsAClusterError() {
        var worker = TrainerMachine(config(chief: false))
        _ = worker.handle(.started(now: 0))
        _ = worker.handle(.clusterPolled([status(0, initialized: true, incarnation: 1)], now: 0))
        let refused = worker.handle(.rpcFailed(.nonFiniteGradients, reason: "ps-0: non-finite-gradients: push refused", now: 1))
        XCTAssertEqual(refused.last, .exit(.jobFailed, reason: "ps-0: non-finite-gradients: push refused"))
        var stranger = TrainerMachine(config(chief: false))
        _ = stranger.handle(.started(now: 0))
        XCTAssertEqual(stranger.handle(.rpcFailed(.unknownTask, reason: "ps-0: unknown-task", now: 1)).last, .exit(.clusterError, reason: "ps-0: unknown-task"))
    }

    func testEmptyPsDuringTrainingMakesTheChiefRestoreAndWorkersWait() {
        var chief = TrainerMachine(config(chief: true))
        _ = chief.handle(.started(now: 0))
        _ = chief.handle(.clusterPolled([status(0, initialized: true, incarnation: 1)], now: 0))
        XCTAssertEqual(chief.handle(.rpcFailed(.notInitialized, reason: "ps-0 empty", now: 5)), [.initializeCluster(incarnation: 2)])

        var worker = TrainerMachine(config(chief: false))
        _ = worker.handle(.started(now: 0))
        _ = worker.handle(.clusterPolled([status(0, initialized: true, incarnation: 1)], now: 0))
        XCTAssertEqual(worker.handle(.rpcFailed(.notInitialized, reason: "ps-0 empty", now: 5)), [.wait(seconds: 0.1), .pollCluster])
        XCTAssertEqual(worker.handle(.rpcFailed(.staleIncarnation, reason: "restored", now: 5.2)), [.pollCluster])
        XCTAssertEqual(worker.handle(.clusterPolled([status(0, initialized: true, incarnation: 2, step: 30)], now: 5.3)), [.pull(incarnation: 2)])
    }

    func testTransportFailuresRetryUntilThePeerTimeout() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        _ = m.handle(.clusterPolled([status(0, initialized: true)], now: 0))
        XCTAssertEqual(m.handle(.rpcFailed(nil, reason: "reset", now: 10)), [.wait(seconds: 0.1), .pollCluster])
        XCTAssertEqual(m.handle(.clusterUnreachable(reason: "refused", now: 12)), [.wait(seconds: 0.2), .pollCluster])
        guard case .exit(let code, let reason)? = m.handle(.clusterUnreachable(reason: "refused", now: 15.5)).first else { return XCTFail() }
        XCTAssertEqual(code, .clusterError)
        XCTAssertTrue(reason.contains("refused"))
    }

    func testSuccessResetsTheFailureClock() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        _ = m.handle(.clusterPolled([status(0, initialized: true)], now: 0))
        _ = m.handle(.rpcFailed(nil, reason: "reset", now: 10))
        _ = m.handle(.clusterPolled([status(0, initialized: true)], now: 11))
        _ = m.handle(.pulled(globalStep: 3, done: false, now: 0))
        XCTAssertEqual(m.handle(.rpcFailed(nil, reason: "reset", now: 20)), [.wait(seconds: 0.1), .pollCluster])
    }

    func testFatalErrorsExitAtOnce() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        XCTAssertEqual(m.handle(.rpcFailed(.badToken, reason: "bad token", now: 0)), [.exit(.clusterError, reason: "bad token")])
        XCTAssertEqual(m.handle(.pulled(globalStep: 0, done: false, now: 0)), [])  // exited: nothing more
    }

    func testShutdownAndDoneEndWorkersCleanly() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        _ = m.handle(.clusterPolled([status(0, initialized: true)], now: 0))
        guard case .exit(let code, _)? = m.handle(.pushed(PushReply(globalStep: 100, applied: true, done: true), now: 1)).first else { return XCTFail() }
        XCTAssertEqual(code, .success)

        var m2 = TrainerMachine(config(chief: false))
        _ = m2.handle(.started(now: 0))
        XCTAssertEqual(m2.handle(.shutdownRequested(reason: "bye")), [.exit(.success, reason: "bye")])
        var m3 = TrainerMachine(config(chief: false))
        _ = m3.handle(.started(now: 0))
        guard case .exit(let c3, _)? = m3.handle(.rpcFailed(.shuttingDown, reason: "over", now: 0)).first else { return XCTFail() }
        XCTAssertEqual(c3, .success)
    }

    func testPreemptedChiefCheckpointsBeforeExiting() {
        var m = TrainerMachine(config(chief: true))
        _ = m.handle(.started(now: 0))
        _ = m.handle(.clusterPolled([status(0, initialized: true)], now: 0))
        let d = m.handle(.preempted)
        XCTAssertEqual(d.first, .writeCheckpoint)
        guard case .exit(let code, _)? = d.last else { return XCTFail() }
        XCTAssertEqual(code, TrainerMachine.preemptedExitCode)
    }

    // MARK: The plan (queue policy)

    func trainingChief() -> TrainerMachine {
        var m = TrainerMachine(config(chief: true))
        m.handle(.started(now: 0))
        m.handle(.clusterPolled([status(0, initialized: true)], now: 0))
        return m
    }

    func drain(_ m: inout TrainerMachine) -> [TrainerMachine.Directive] {
        var taken: [TrainerMachine.Directive] = []
        while let d = m.nextDirective() { taken.append(d) }
        return taken
    }

    func testNewDirectivesRunBeforeWhatWasAlreadyPlanned() {
        var m = trainingChief()
        XCTAssertEqual(m.nextDirective(), .pull(incarnation: 1))
        m.handle(.pulled(globalStep: 0, done: false, now: 0))
        XCTAssertEqual(m.nextDirective(), .computeStep)
        m.handle(.stepComputed(loss: 2.3))
        XCTAssertEqual(m.nextDirective(), .push)
        m.handle(.pushed(PushReply(globalStep: 25, applied: true, done: false), now: 1))
        XCTAssertEqual(m.pending, [.checkpointSnapshot(step: 20), .evaluate(step: 20), .pull(incarnation: 1)])
        XCTAssertEqual(m.nextDirective(), .checkpointSnapshot(step: 20))
        // An event that plans nothing leaves the rest of the plan in place, in order.
        m.handle(.checkpointWritten(step: 20))
        XCTAssertEqual(m.pending, [.evaluate(step: 20), .pull(incarnation: 1)])
        XCTAssertTrue(m.hasPendingDirectives)
    }

    func testAFailureReplacesThePlan() {
        var m = trainingChief()
        _ = drain(&m)
        m.handle(.pushed(PushReply(globalStep: 25, applied: true, done: false), now: 1))
        XCTAssertEqual(m.nextDirective(), .checkpointSnapshot(step: 20))
        m.handle(.rpcFailed(nil, reason: "reset", now: 2))
        // The evaluation and the pull planned before the failure are gone.
        XCTAssertEqual(drain(&m), [.wait(seconds: 0.1), .pollCluster])
        XCTAssertFalse(m.hasPendingDirectives)
        XCTAssertNil(m.nextDirective())
    }

    func testPreemptionAndShutdownReplaceThePlan() {
        var m = trainingChief()
        m.handle(.pushed(PushReply(globalStep: 25, applied: true, done: false), now: 1))
        m.handle(.preempted)
        guard case .exit(let code, _)? = m.pending.last, m.pending.count == 2, m.pending.first == .writeCheckpoint else {
            return XCTFail("\(m.pending)")
        }
        XCTAssertEqual(code, TrainerMachine.preemptedExitCode)
        // Reporting the checkpoint keeps the exit planned after it.
        XCTAssertEqual(m.nextDirective(), .writeCheckpoint)
        m.handle(.checkpointWritten(step: 25))
        XCTAssertEqual(m.pending.count, 1)
        guard case .exit? = m.pending.first else { return XCTFail("\(m.pending)") }

        var w = TrainerMachine(config(chief: false))
        w.handle(.started(now: 0))
        w.handle(.clusterPolled([status(0, initialized: true)], now: 0))
        w.handle(.shutdownRequested(reason: "bye"))
        XCTAssertEqual(drain(&w), [.exit(.success, reason: "bye")])
    }

    func testAPushThatCarriedEveryShardsValuesSkipsThePull() {
        var m = trainingChief()
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 2, applied: true, done: false), now: 1, carriedValues: true)), [.computeStep])
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 3, applied: true, done: false), now: 1, carriedValues: false)), [.pull(incarnation: 1)])
        // Scheduled chief duties still come first.
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 12, applied: true, done: false), now: 2, carriedValues: true)), [.checkpointSnapshot(step: 10), .computeStep])
        // The last step ends the job whether or not the values came back.
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 100, applied: true, done: true), now: 3, carriedValues: true)), [.pullFinalState])
    }

    // MARK: The final pull

    func finishingChief(at now: Double = 10) -> TrainerMachine {
        var m = trainingChief()
        XCTAssertEqual(m.nextDirective(), .pull(incarnation: 1))
        XCTAssertEqual(m.handle(.pulled(globalStep: 100, done: true, now: now)), [.pullFinalState])
        XCTAssertEqual(m.phase, .finishing)
        return m
    }

    func testFinalPullWaitsForEveryShardToReachTheEndThenSettles() {
        var m = finishingChief(at: 10)
        // A last push is still arriving at a shard: pull again shortly.
        XCTAssertEqual(m.handle(.finalStatePulled(globalStep: 99, allDone: false, now: 10.5)), [.wait(seconds: 0.005), .pullFinalState])
        XCTAssertEqual(m.handle(.finalStatePulled(globalStep: 99, allDone: false, now: 11.9)), [.wait(seconds: 0.005), .pullFinalState])
        // After the settle time the state is taken as it is.
        XCTAssertEqual(m.handle(.finalStatePulled(globalStep: 99, allDone: false, now: 12.1)), [.finishJob(globalStep: 99)])
        XCTAssertNil(m.finalPull)

        var n = finishingChief(at: 10)
        XCTAssertEqual(n.handle(.finalStatePulled(globalStep: 100, allDone: true, now: 10.1)), [.finishJob(globalStep: 100)])
        XCTAssertEqual(n.handle(.jobFinished), [.exit(.success, reason: "finished at global step 100")])
    }

    func testFailedFinalPullsRetryWithBackoffThenFallBackToPolling() {
        var c = config(chief: true)
        c.finalPullWindow = 10
        c.finalPullBackoff = Backoff(initial: 1, maximum: 4)
        var m = TrainerMachine(c)
        m.handle(.started(now: 0))
        m.handle(.clusterPolled([status(0, initialized: true)], now: 0))
        XCTAssertEqual(m.handle(.pulled(globalStep: 100, done: true, now: 100)), [.pullFinalState])
        // Every failure, even one that would be fatal while training, is retried within the window.
        XCTAssertEqual(m.handle(.rpcFailed(nil, reason: "reset", now: 100.5)),
                       [.note("final pull failed (reset); retrying"), .wait(seconds: 1), .pullFinalState])
        XCTAssertEqual(m.handle(.rpcFailed(.shuttingDown, reason: "over", now: 102)),
                       [.note("final pull failed (over); retrying"), .wait(seconds: 2), .pullFinalState])
        XCTAssertEqual(m.phase, .finishing)
        // The next pause would end past the window: give up on the final pull, back off, poll the cluster.
        XCTAssertEqual(m.handle(.rpcFailed(nil, reason: "reset", now: 107)),
                       [.note("final pull failed (reset); retrying"), .wait(seconds: 4), .wait(seconds: 0.1), .pollCluster])
        XCTAssertNil(m.finalPull)
        // A poll that finds the job done starts the final pull afresh.
        XCTAssertEqual(m.handle(.clusterPolled([status(0, initialized: true, step: 100, done: true)], now: 112)), [.pullFinalState])
        XCTAssertEqual(m.finalPull?.since, 112)
        XCTAssertEqual(m.finalPull?.failures, 0)
    }

    func testFinishingTheJobIsOneStretchUntilTheJobEndsOrTheFinalPullGivesUp() {
        var m = finishingChief(at: 0)
        XCTAssertTrue(m.isFinishingTheJob)
        XCTAssertEqual(m.handle(.finalStatePulled(globalStep: 100, allDone: true, now: 0.1)), [.finishJob(globalStep: 100)])
        XCTAssertTrue(m.isFinishingTheJob, "the final checkpoint and export still belong to the stretch")
        _ = m.handle(.jobFinished)
        XCTAssertFalse(m.isFinishingTheJob)

        var n = finishingChief(at: 0)
        _ = n.handle(.rpcFailed(nil, reason: "reset", now: 9.99))
        XCTAssertFalse(n.isFinishingTheJob, "after giving up on the final pull, the chief polls like any task")
        XCTAssertEqual(n.phase, .finishing)
        XCTAssertFalse(TrainerMachine(config(chief: false)).isFinishingTheJob)
    }

    func testAFinishingChiefIgnoresTheShutdownItOrdered() {
        var m = finishingChief()
        XCTAssertEqual(m.nextDirective(), .pullFinalState)
        m.handle(.finalStatePulled(globalStep: 100, allDone: true, now: 10.1))
        XCTAssertEqual(m.handle(.shutdownRequested(reason: "the job finished")), [])
        XCTAssertEqual(m.pending, [.finishJob(globalStep: 100)])
        XCTAssertEqual(m.phase, .finishing)
    }

    // MARK: Merging shard replies

    func testAFinishThatCouldNotSaveItsResultsFailsTheTaskPermanently() {
        var m = trainingChief()
        _ = drain(&m)
        m.handle(.pushed(PushReply(globalStep: 100, applied: true, done: true), now: 1))
        XCTAssertEqual(drain(&m), [.pullFinalState])
        m.handle(.finalStatePulled(globalStep: 100, allDone: true, now: 1.1))
        XCTAssertEqual(drain(&m), [.finishJob(globalStep: 100)])
        let reason = "model not exported to /job/model: mkdir /job/model: File exists"
        XCTAssertEqual(m.handle(.finishFailed(reason: reason)), [.exit(.jobFailed, reason: reason)])
        XCTAssertEqual(m.phase, .exited)
        XCTAssertFalse(m.isFinishingTheJob)
        XCTAssertTrue(RestartPolicy.isPermanent(ExitCode.jobFailed.rawValue))
    }

    func testANonFiniteLossOrGradientFailsTheJob() {
        var m = trainingChief()
        _ = drain(&m)
        m.handle(.pulled(globalStep: 42, done: false, now: 0))
        XCTAssertEqual(m.handle(.stepComputed(loss: .nan)),
                       [.exit(.jobFailed, reason: "diverged at step 42: loss is nan (pass --allow-divergence to train on)")])
        XCTAssertEqual(drain(&m), [.exit(.jobFailed, reason: "diverged at step 42: loss is nan (pass --allow-divergence to train on)")])

        var w = TrainerMachine(config(chief: false))
        w.handle(.started(now: 0))
        w.handle(.clusterPolled([status(0, initialized: true, step: 7)], now: 0))
        w.handle(.pulled(globalStep: 7, done: false, now: 0))
        XCTAssertEqual(w.handle(.stepComputed(loss: 1.5, gradientsFinite: false)),
                       [.exit(.jobFailed, reason: "diverged at step 7: gradients are not finite (loss 1.5) (pass --allow-divergence to train on)")])
        var inf = TrainerMachine(config(chief: false))
        XCTAssertEqual(inf.handle(.stepComputed(loss: .infinity)).first, .exit(.jobFailed, reason: "diverged at step 0: loss is inf (pass --allow-divergence to train on)"))
    }

    func testAllowDivergenceTrainsOnAndSaysSoOnce() {
        var c = config(chief: true)
        c.allowDivergence = true
        var m = TrainerMachine(c)
        m.handle(.started(now: 0))
        m.handle(.clusterInitialized(incarnation: 1, globalStep: 3))
        _ = drain(&m)
        XCTAssertEqual(m.handle(.stepComputed(loss: .nan)),
                       [.note("warning: diverged at step 3: loss is nan; training on (--allow-divergence)"), .push])
        XCTAssertEqual(m.handle(.stepComputed(loss: .nan)), [.push])
        XCTAssertEqual(m.phase, .training)
    }

    func testAChiefRestoredAtTheLastStepSaysThereIsNothingToTrain() {
        var m = TrainerMachine(config(chief: true))
        m.handle(.started(now: 0))
        m.handle(.clusterPolled([status(0, initialized: false, incarnation: 0)], now: 0))
        XCTAssertEqual(m.handle(.clusterInitialized(incarnation: 1, globalStep: 100)),
                       [.note("already at step 100 of 100: nothing to train"), .pull(incarnation: 1)])
        _ = drain(&m)
        XCTAssertEqual(m.handle(.pulled(globalStep: 100, done: true, now: 1)), [.pullFinalState])
        // Restored short of the end: no note.
        var n = TrainerMachine(config(chief: true))
        n.handle(.started(now: 0))
        XCTAssertEqual(n.handle(.clusterInitialized(incarnation: 1, globalStep: 99)), [.pull(incarnation: 1)])
    }

    func testAPsHoldingForACheckpointMakesTheChiefCollectItAndWorkersPullAgainShortly() {
        var m = trainingChief()
        _ = drain(&m)
        m.handle(.checkpointWritten(step: 10))
        XCTAssertEqual(m.handle(.rpcFailed(.checkpointPending, reason: "step 20 waits", now: 1)), [.checkpointSnapshot(step: 20), .pull(incarnation: 1)])
        XCTAssertEqual(m.phase, .training)
        var w = TrainerMachine(config(chief: false))
        w.handle(.started(now: 0))
        w.handle(.clusterPolled([status(0, initialized: true, step: 20)], now: 0))
        XCTAssertEqual(w.handle(.rpcFailed(.checkpointPending, reason: "step 20 waits", now: 1)), [.wait(seconds: 0.005), .pull(incarnation: 1)])
        XCTAssertNil(w.failingSince)
        // A chief adopting a cluster held at exactly step 20 still collects it.
        var c = TrainerMachine(config(chief: true))
        c.handle(.started(now: 0))
        c.handle(.clusterPolled([status(0, initialized: true, step: 20)], now: 0))
        XCTAssertEqual(c.handle(.rpcFailed(.checkpointPending, reason: "step 20 waits", now: 1)), [.checkpointSnapshot(step: 20), .pull(incarnation: 1)])
    }

    func testARestoreToAnEarlierCheckpointRestartsTheSchedulesFromIt() {
        var m = trainingChief()
        _ = drain(&m)
        m.handle(.checkpointWritten(step: 80))
        m.handle(.rpcFailed(.notInitialized, reason: "ps-0 lost its state", now: 1))
        // ckpt-80 was damaged: the restore is from step 40, so 50, 60, … are checkpointed again.
        m.handle(.clusterInitialized(incarnation: 2, globalStep: 40))
        XCTAssertEqual(m.lastCheckpointStep, 40)
        _ = drain(&m)
        XCTAssertEqual(m.handle(.rpcFailed(.checkpointPending, reason: "step 50 waits", now: 2)), [.checkpointSnapshot(step: 50), .pull(incarnation: 2)])
    }

    func testMergedPullTakesTheSlowestShardsStep() {
        let merged = MergedPull(merging: [
            Parameters(globalStep: 7, done: false, values: []),
            Parameters(globalStep: 5, done: true, values: []),
            Parameters(globalStep: 9, done: false, values: []),
        ])
        XCTAssertEqual(merged, MergedPull(globalStep: 5, done: true, allDone: false))
        XCTAssertEqual(MergedPull(merging: [Parameters(globalStep: 3, done: true, values: []), Parameters(globalStep: 4, done: true, values: [])]),
                       MergedPull(globalStep: 3, done: true, allDone: true))
        XCTAssertEqual(MergedPull(merging: [Parameters]()), MergedPull(globalStep: 0, done: false, allDone: true))
    }

    func testMergedPushTakesTheFurthestStepAndNeedsEveryShardsValues() {
        let replies = [
            PushReply(globalStep: 4, applied: true, done: false, values: [1, 2]),
            PushReply(globalStep: 6, applied: false, done: true, values: [3]),
        ]
        let merged = MergedPush(merging: replies, shardElements: [2, 1])
        // One shard done, the other not yet: not done — the other still needs its pushes.
        XCTAssertEqual(merged.reply, PushReply(globalStep: 6, applied: false, done: false))
        XCTAssertTrue(merged.carriedValues)
        XCTAssertTrue(MergedPush(merging: [PushReply(globalStep: 6, applied: true, done: true), PushReply(globalStep: 6, applied: false, done: true)],
                                 shardElements: [0, 0]).reply.done, "every shard done: done")
        // A shard that sent no values (or the wrong number) means the next step must pull.
        XCTAssertFalse(MergedPush(merging: replies, shardElements: [2, 2]).carriedValues)
        XCTAssertFalse(MergedPush(merging: [replies[0], PushReply(globalStep: 6, applied: true, done: false)], shardElements: [2, 1]).carriedValues)
        // An empty shard has nothing to send back.
        XCTAssertTrue(MergedPush(merging: [replies[0], PushReply(globalStep: 6, applied: true, done: false)], shardElements: [2, 0]).carriedValues)
        XCTAssertEqual(MergedPush(merging: [PushReply(globalStep: 9, applied: true, done: false)], shardElements: [0]).reply.globalStep, 9)
    }
}
