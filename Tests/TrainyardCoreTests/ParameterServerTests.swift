import XCTest
@testable import TrainyardCore

final class ParameterServerTests: XCTestCase {
    var ps = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5))

    private func send(_ m: Message, _ peer: inout ParameterServer.Peer, incarnation: UInt32 = 0, id: UInt32 = 1) -> [ParameterServerDirective] {
        ps.handle(Frame(requestID: id, incarnation: incarnation, message: m), from: &peer)
    }

    private func reply(_ d: [ParameterServerDirective]) -> Message? {
        for x in d { if case .reply(let f) = x { return f.message } }
        return nil
    }

    private func connected(_ task: TaskID) -> ParameterServer.Peer {
        var peer = ParameterServer.Peer()
        _ = send(.hello(Hello(token: "secret", task: task)), &peer)
        return peer
    }

    func testWrongTokenIsRejectedAndClosed() {
        var peer = ParameterServer.Peer()
        let d = send(.hello(Hello(token: "guess", task: .worker(0))), &peer)
        XCTAssertEqual(reply(d), .error(WireError(.badToken, "the hello's job token is not this job's")))
        XCTAssertTrue(d.contains(.close))
        XCTAssertNil(peer.task)
    }

    func testRequestsBeforeHelloAreRejected() {
        var peer = ParameterServer.Peer()
        let d = send(.pull(Pull()), &peer)
        guard case .error(let e)? = reply(d) else { return XCTFail() }
        XCTAssertEqual(e.code, .helloRequired)
        XCTAssertTrue(d.contains(.close))
    }

    func testPullBeforeInitializationSaysNotInitialized() {
        var w = connected(.worker(0))
        guard case .error(let e)? = reply(send(.pull(Pull()), &w)) else { return XCTFail() }
        XCTAssertEqual(e.code, .notInitialized)
    }

    func testInitializePullPushAppliesSGDAndCountsSteps() {
        var chief = connected(.chief(0))
        XCTAssertEqual(reply(send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 2, values: [1, 2])), &chief)), .ack(globalStep: 0))
        var w = connected(.worker(0))
        XCTAssertEqual(reply(send(.pull(Pull()), &w, incarnation: 1)), .pullReply(Parameters(globalStep: 0, done: false, values: [1, 2])))
        XCTAssertEqual(reply(send(.push(Push(baseStep: 0, gradients: [2, -2])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 1, applied: true, done: false)))
        XCTAssertEqual(ps.values, [0, 3])  // 1 - 0.5·2, 2 + 0.5·2
        XCTAssertEqual(reply(send(.push(Push(baseStep: 1, gradients: [0, 0])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 2, applied: true, done: true)))
        // At max steps the ps stops applying.
        XCTAssertEqual(reply(send(.push(Push(baseStep: 2, gradients: [9, 9])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 2, applied: false, done: true)))
        XCTAssertEqual(ps.values, [0, 3])
    }

    func testStaleIncarnationIsRejectedAfterARestore() {
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [0])), &chief)
        _ = send(.initialize(Initialize(incarnation: 2, globalStep: 40, maxSteps: 100, values: [5])), &chief)
        var w = connected(.worker(1))
        guard case .error(let e)? = reply(send(.push(Push(baseStep: 3, gradients: [1])), &w, incarnation: 1)) else { return XCTFail() }
        XCTAssertEqual(e.code, .staleIncarnation)
        XCTAssertEqual(ps.values, [5])
        // An older incarnation cannot re-initialize either.
        guard case .error(let e2)? = reply(send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [0])), &chief)) else { return XCTFail() }
        XCTAssertEqual(e2.code, .staleIncarnation)
    }

    func testOnlyTheChiefInitializesAndShutsDown() {
        var w = connected(.worker(0))
        guard case .error(let e)? = reply(send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 1, values: [1])), &w)) else { return XCTFail() }
        XCTAssertEqual(e.code, .badRequest)
        guard case .error(let e2)? = reply(send(.shutdown(reason: "x"), &w)) else { return XCTFail() }
        XCTAssertEqual(e2.code, .badRequest)
        var chief = connected(.chief(0))
        let d = send(.shutdown(reason: "finished"), &chief)
        XCTAssertTrue(d.contains(.exitCleanly(reason: "finished")))
        guard case .error(let e3)? = reply(send(.pull(Pull()), &w)) else { return XCTFail() }
        XCTAssertEqual(e3.code, .shuttingDown)
    }

    func testWrongGradientSizeIsABadRequest() {
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [0, 0, 0])), &chief)
        var w = connected(.worker(0))
        guard case .error(let e)? = reply(send(.push(Push(baseStep: 0, gradients: [1])), &w, incarnation: 1)) else { return XCTFail() }
        XCTAssertEqual(e.code, .badRequest)
    }

    func testMomentumKeepsVelocityAndCheckpointSlotsRestore() {
        var m = ParameterServer(task: .ps(0), token: "t", optimizer: OptimizerConfig(kind: .momentum, learningRate: 1, momentum: 0.5))
        var chief = ParameterServer.Peer()
        _ = m.handle(Frame(message: .hello(Hello(token: "t", task: .chief(0)))), from: &chief)
        _ = m.handle(Frame(message: .initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [0]))), from: &chief)
        _ = m.handle(Frame(incarnation: 1, message: .push(Push(baseStep: 0, gradients: [1]))), from: &chief)
        _ = m.handle(Frame(incarnation: 1, message: .push(Push(baseStep: 1, gradients: [1]))), from: &chief)
        // v1 = 1, p = -1; v2 = 0.5 + 1 = 1.5, p = -2.5
        XCTAssertEqual(m.values, [-2.5])
        XCTAssertEqual(m.slots, [[1.5]])
        _ = m.handle(Frame(message: .initialize(Initialize(incarnation: 2, globalStep: 1, maxSteps: 10, values: [-1], slots: [[1]]))), from: &chief)
        XCTAssertEqual(m.slots, [[1]])
        XCTAssertEqual(m.globalStep, 1)
    }
}
