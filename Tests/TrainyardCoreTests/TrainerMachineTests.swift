import XCTest
@testable import TrainyardCore

final class TrainerMachineTests: XCTestCase {
    func config(chief: Bool) -> TrainerMachine.Configuration {
        .init(isChief: chief, maxSteps: 100, checkpointEvery: 10, evalEvery: 20, backoff: Backoff(initial: 0.1, maximum: 1), peerTimeout: 5)
    }

    func status(_ i: Int, initialized: Bool, incarnation: UInt32 = 1, step: Int64 = 0, done: Bool = false) -> Status {
        Status(task: .ps(i), initialized: initialized, incarnation: incarnation, globalStep: step, done: done, shardElements: 4)
    }

    func testChiefInitializesAFreshClusterThenTrains() {
        var m = TrainerMachine(config(chief: true))
        XCTAssertEqual(m.handle(.started(now: 0)), [.pollCluster])
        XCTAssertEqual(m.handle(.clusterPolled([status(0, initialized: false, incarnation: 0), status(1, initialized: false, incarnation: 0)], now: 0)),
                       [.initializeCluster(incarnation: 1)])
        XCTAssertEqual(m.handle(.clusterInitialized(incarnation: 1, globalStep: 0)), [.pull(incarnation: 1)])
        XCTAssertEqual(m.handle(.pulled(globalStep: 0, done: false)), [.computeStep])
        XCTAssertEqual(m.handle(.stepComputed), [.push])
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 1, applied: true, done: false), now: 1)), [.pull(incarnation: 1)])
    }

    func testChiefCheckpointsAndEvaluatesOnSchedule() {
        var m = TrainerMachine(config(chief: true))
        _ = m.handle(.started(now: 0))
        _ = m.handle(.clusterPolled([status(0, initialized: false, incarnation: 0)], now: 0))
        _ = m.handle(.clusterInitialized(incarnation: 1, globalStep: 0))
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 12, applied: true, done: false), now: 1)), [.writeCheckpoint, .pull(incarnation: 1)])
        _ = m.handle(.checkpointWritten(step: 12))
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 21, applied: true, done: false), now: 2)), [.evaluate, .pull(incarnation: 1)])
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 100, applied: true, done: true), now: 3)), [.finishJob])
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
        // The checkpoint schedule counts from the adopted step, not from 0.
        XCTAssertEqual(m.handle(.pushed(PushReply(globalStep: 60, applied: true, done: false), now: 1)), [.pull(incarnation: 3)])
    }

    func testRestartedChiefRestoresWhenAPsLostItsState() {
        var m = TrainerMachine(config(chief: true))
        _ = m.handle(.started(now: 0))
        let d = m.handle(.clusterPolled([status(0, initialized: true, incarnation: 3, step: 57), status(1, initialized: false, incarnation: 0)], now: 0))
        XCTAssertEqual(d, [.initializeCluster(incarnation: 4)])
        XCTAssertEqual(m.restores, 1)
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
        _ = m.handle(.pulled(globalStep: 3, done: false))
        XCTAssertEqual(m.handle(.rpcFailed(nil, reason: "reset", now: 20)), [.wait(seconds: 0.1), .pollCluster])
    }

    func testFatalErrorsExitAtOnce() {
        var m = TrainerMachine(config(chief: false))
        _ = m.handle(.started(now: 0))
        XCTAssertEqual(m.handle(.rpcFailed(.badToken, reason: "bad token", now: 0)), [.exit(.clusterError, reason: "bad token")])
        XCTAssertEqual(m.handle(.pulled(globalStep: 0, done: false)), [])  // exited: nothing more
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
}
