import XCTest
@testable import TrainyardCore

final class HelloGateTests: XCTestCase {
    let gate = HelloGate(token: "secret")

    func testAHelloWithTheJobsTokenIsWelcomedAndTheConnectionRemembersWho() {
        var peer = HelloGate.Peer()
        XCTAssertEqual(gate.admit(.status, from: &peer), .refused(WireError(.helloRequired, "the first message on a connection must be a hello")))
        XCTAssertNil(peer.task)
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secret", task: .worker(1))), from: &peer), .welcomed(.worker(1)))
        XCTAssertEqual(peer.task, .worker(1))
        XCTAssertEqual(gate.admit(.status, from: &peer), .admitted(.worker(1)))
    }

    func testAWrongTokenIsRefusedAndLeavesThePeerAsItWas() {
        var stranger = HelloGate.Peer()
        XCTAssertEqual(gate.admit(.hello(Hello(token: "guess", task: .chief(0))), from: &stranger),
                       .refused(WireError(.badToken, "the hello's job token is not this job's")))
        XCTAssertNil(stranger.task)
        var known = HelloGate.Peer(task: .worker(0))
        XCTAssertEqual(gate.admit(.hello(Hello(token: "guess", task: .chief(0))), from: &known).refusal?.code, .badToken)
        XCTAssertEqual(known.task, .worker(0))
    }

    /// The parameter server and the task control server answer the door the same way.
    func testBothServersUseTheGate() {
        let status = Status(task: .worker(0), initialized: true, incarnation: 1, globalStep: 3, done: false, shardElements: 0)
        let control = TaskControl(token: "secret")
        var ps = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.1))
        XCTAssertEqual(control.gate, gate)
        XCTAssertEqual(ps.gate, gate)
        for message in [Message.status, .hello(Hello(token: "guess", task: .chief(0)))] {
            var controlPeer = TaskControl.Peer()
            var psPeer = ParameterServer.Peer()
            var gatePeer = HelloGate.Peer()
            guard case .refused(let error) = gate.admit(message, from: &gatePeer) else { return XCTFail("\(message) was let in") }
            let fromControl = control.handle(Frame(requestID: 7, message: message), from: &controlPeer, status: status)
            let fromPS = ps.handle(Frame(requestID: 7, message: message), from: &psPeer)
            guard case .reply(let a)? = fromControl.first, case .reply(let b)? = fromPS.first else { return XCTFail("no reply") }
            XCTAssertEqual(a.message, .error(error))
            XCTAssertEqual(b.message, .error(error))
            XCTAssertEqual(fromControl.last, .close)
            XCTAssertEqual(fromPS.last, .close)
        }
        var controlPeer = TaskControl.Peer()
        let hello = Message.hello(Hello(token: "secret", task: .chief(0)))
        XCTAssertEqual(control.handle(Frame(requestID: 1, message: hello), from: &controlPeer, status: status),
                       [.reply(Frame(requestID: 1, incarnation: 1, message: .helloReply(status)))])
        // Past the gate, the control server knows who asks: only the chief ends the job.
        XCTAssertEqual(control.handle(Frame(requestID: 2, message: .shutdown(reason: "done")), from: &controlPeer, status: status).last,
                       .shutdown(reason: "done"))
        var worker = TaskControl.Peer(task: .worker(1))
        guard case .reply(let refusal)? = control.handle(Frame(requestID: 3, message: .shutdown(reason: "x")), from: &worker, status: status).first,
              case .error(let e) = refusal.message else { return XCTFail("a worker's shutdown was not refused") }
        XCTAssertEqual(e.code, .badRequest)
    }
}

extension HelloGate.Verdict {
    var refusal: WireError? {
        if case .refused(let e) = self { return e }
        return nil
    }
}

final class HelloGateMembershipTests: XCTestCase {
    func testAHelloBindsTheConnectionToATaskOfTheCluster() {
        var cluster = ClusterSpec()
        cluster.set(.chief, [HostPort(host: "127.0.0.1", port: 1)])
        cluster.set(.worker, [HostPort(host: "127.0.0.1", port: 2)])
        cluster.set(.ps, [HostPort(host: "127.0.0.1", port: 3)])
        let gate = HelloGate(token: "secret", cluster: cluster)
        var stranger = HelloGate.Peer()
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secret", task: .worker(7))), from: &stranger),
                       .refused(WireError(.unknownTask, "worker-7 is not a task of this job's cluster")))
        XCTAssertNil(stranger.task)
        var worker = HelloGate.Peer()
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secret", task: .worker(0))), from: &worker), .welcomed(.worker(0)))
        // The connection stays worker-0's: it cannot say hello again as the chief.
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secret", task: .chief(0))), from: &worker).refusal?.code, .unknownTask)
        XCTAssertEqual(worker.task, .worker(0))
        // The launcher's progress probe is let in to ask for status.
        var probe = HelloGate.Peer()
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secret", task: HelloGate.launcherProbe)), from: &probe), .welcomed(TaskID(.evaluator, 0)))
        // The token is checked first, whatever the task.
        var guess = HelloGate.Peer()
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secreT", task: .worker(7))), from: &guess).refusal?.code, .badToken)
        XCTAssertFalse(HelloGate.constantTimeEqual("secret", "secre"))
        XCTAssertTrue(HelloGate.constantTimeEqual("secret", "secret"))
    }
}
