import XCTest
@testable import TrainyardCore

final class HelloGateTests: XCTestCase {
    let gate = HelloGate(token: "secret")

    func testAHelloWithTheJobsTokenIsWelcomedAndTheConnectionRemembersWho() {
        var peer = HelloGate.Peer()
        XCTAssertEqual(gate.admit(.status, from: &peer), .refused(WireError(.helloRequired, "the first message on a connection must be a hello")))
        XCTAssertNil(peer.task)
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secret", task: .worker(1))), from: &peer), .challenged(nonce: peer.nonce))
        XCTAssertNil(peer.task)
        XCTAssertEqual(peer.nonce.count, 32)
        XCTAssertNotEqual(peer.nonce, HelloGate.Peer().nonce)
        // A proof for another task, or made with another nonce, does not open the door.
        var other = peer
        XCTAssertEqual(gate.admit(.proof(mac: HelloGate.proof(token: "secret", task: .worker(2), nonce: peer.nonce)), from: &other).refusal?.code, .badToken)
        XCTAssertEqual(gate.admit(.proof(mac: HelloGate.proof(token: "secret", task: .worker(1), nonce: [1, 2, 3])), from: &other).refusal?.code, .badToken)
        XCTAssertEqual(gate.admit(.proof(mac: HelloGate.proof(token: "secret", task: .worker(1), nonce: peer.nonce)), from: &peer), .welcomed(.worker(1)))
        XCTAssertEqual(peer.task, .worker(1))
        XCTAssertEqual(gate.admit(.status, from: &peer), .admitted(.worker(1)))
    }

    func testAWrongTokenIsRefusedAndLeavesThePeerAsItWas() {
        var stranger = HelloGate.Peer()
        XCTAssertEqual(gate.handshake(Hello(token: "guess", task: .chief(0)), &stranger),
                       .refused(WireError(.badToken, "the hello's job token is not this job's")))
        XCTAssertNil(stranger.task)
        var known = HelloGate.Peer(task: .worker(0))
        XCTAssertEqual(gate.handshake(Hello(token: "guess", task: .worker(0)), &known).refusal?.code, .badToken)
        XCTAssertEqual(known.task, .worker(0))
    }

    /// The parameter server and the task control server answer the door the same way.
    func testBothServersUseTheGate() {
        let status = Status(task: .worker(0), initialized: true, incarnation: 1, globalStep: 3, done: false, shardElements: 0)
        let control = TaskControl(token: "secret")
        var ps = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.1))
        XCTAssertEqual(control.gate, gate)
        XCTAssertEqual(ps.gate, gate)
        for message in [Message.status, .proof(mac: [1, 2, 3])] {
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
                       [.reply(Frame(requestID: 1, incarnation: 1, message: .challenge(nonce: controlPeer.nonce)))])
        let proof = Message.proof(mac: HelloGate.proof(token: "secret", task: .chief(0), nonce: controlPeer.nonce))
        XCTAssertEqual(control.handle(Frame(requestID: 2, message: proof), from: &controlPeer, status: status),
                       [.reply(Frame(requestID: 2, incarnation: 1, message: .helloReply(status)))])
        // Past the gate, the control server knows who asks: only the chief ends the job.
        XCTAssertEqual(control.handle(Frame(requestID: 2, message: .shutdown(reason: "done")), from: &controlPeer, status: status).last,
                       .shutdown(reason: "done"))
        var worker = TaskControl.Peer(task: .worker(1))
        guard case .reply(let refusal)? = control.handle(Frame(requestID: 3, message: .shutdown(reason: "x")), from: &worker, status: status).first,
              case .error(let e) = refusal.message else { return XCTFail("a worker's shutdown was not refused") }
        XCTAssertEqual(e.code, .badRequest)
    }
}

extension HelloGate {
    /// Hello, then the proof the challenge asks for, as `PeerClient.connect` does.
    func handshake(_ hello: Hello, _ peer: inout Peer) -> Verdict {
        let first = admit(.hello(hello), from: &peer)
        guard case .challenged(let nonce) = first else { return first }
        return admit(.proof(mac: HelloGate.proof(token: hello.token, task: hello.task, nonce: nonce)), from: &peer)
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
        XCTAssertEqual(gate.handshake(Hello(token: "secret", task: .worker(0)), &worker), .welcomed(.worker(0)))
        // The connection stays worker-0's: it cannot say hello again as the chief.
        XCTAssertEqual(gate.admit(.hello(Hello(token: "secret", task: .chief(0))), from: &worker).refusal?.code, .unknownTask)
        XCTAssertEqual(worker.task, .worker(0))
        // The launcher's progress probe is let in to ask for status.
        var probe = HelloGate.Peer()
        XCTAssertEqual(gate.handshake(Hello(token: "secret", task: HelloGate.launcherProbe), &probe), .welcomed(TaskID(.evaluator, 0)))
        // A key proves one task only: worker-0's key does not open the door for the chief.
        var impostor = HelloGate.Peer()
        guard case .challenged(let nonce) = gate.admit(.hello(Hello(token: "", task: .chief(0))), from: &impostor) else { return XCTFail() }
        let workerKey = HelloGate.key(token: "secret", task: .worker(0))
        let forged = SHA256.hmac(key: workerKey, message: nonce + Array("chief-0".utf8))
        XCTAssertEqual(gate.admit(.proof(mac: forged), from: &impostor).refusal?.code, .badToken)
        XCTAssertFalse(HelloGate.constantTimeEqual("secret", "secre"))
        XCTAssertTrue(HelloGate.constantTimeEqual("secret", "secret"))
    }
}
