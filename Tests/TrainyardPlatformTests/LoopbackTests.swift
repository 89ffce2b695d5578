import Synchronization
import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

/// Real sockets on 127.0.0.1 port 0: a parameter server's logic behind a FrameServer, and clients.
final class LoopbackTests: XCTestCase {
    final class Box: Sendable {
        let ps = Mutex(ParameterServer(task: .ps(0), token: "tok", optimizer: OptimizerConfig(kind: .sgd, learningRate: 1)))
    }

    private func startServer() throws -> (FrameServer, HostPort, Box) {
        let box = Box()
        let listener = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let server = FrameServer(listener: listener) { conn in
            var peer = ParameterServer.Peer()
            while let frame = try? conn.receive(until: .never) {
                for d in box.ps.withLock({ $0.handle(frame, from: &peer) }) {
                    switch d {
                    case .reply(let f): try? conn.send(f, until: .after(seconds: 2))
                    case .close: return
                    case .exitCleanly, .stepAdvanced, .awaitStep, .log: break
                    }
                }
            }
        }
        server.start(name: "test-ps")
        return (server, HostPort(host: "localhost", port: listener.localAddress.port), box)
    }

    func testHelloPullPushOverTCP() throws {
        let (server, address, box) = try startServer()
        defer { server.stop() }
        XCTAssertNotEqual(address.port, 0)
        let chief = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .chief(0)))
        let status = try chief.connect(until: .after(seconds: 2))
        XCTAssertFalse(status.initialized)
        XCTAssertEqual(try chief.call(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [1, 2, 3])), timeout: 2), .ack(globalStep: 0))

        let worker = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(0)))
        worker.incarnation = 1
        XCTAssertEqual(try worker.call(.pull(Pull()), timeout: 2), .pullReply(Parameters(globalStep: 0, done: false, values: [1, 2, 3])))
        XCTAssertEqual(try worker.call(.push(Push(baseStep: 0, gradients: [1, 1, 1])), timeout: 2), .pushReply(PushReply(globalStep: 1, applied: true, done: false)))
        XCTAssertEqual(box.ps.withLock { $0.values }, [0, 1, 2])

        // A stale incarnation is refused with a typed error.
        worker.incarnation = 0
        XCTAssertThrowsError(try worker.call(.pull(Pull()), timeout: 2)) { XCTAssertEqual(($0 as? RPCError)?.code, .staleIncarnation) }
    }

    /// Shards large enough to travel in pieces (sent from their arrays, read straight into new
    /// ones) arrive exactly, both ways, over a real socket.
    func testLargeShardsTravelExactly() throws {
        let (server, address, box) = try startServer()
        defer { server.stop() }
        let n = 300_001
        let values = (0..<n).map { Float($0 % 1000) * 0.25 }
        let chief = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .chief(0)))
        XCTAssertEqual(try chief.call(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: values)), timeout: 10), .ack(globalStep: 0))
        chief.incarnation = 1
        XCTAssertEqual(try chief.call(.pull(Pull()), timeout: 10), .pullReply(Parameters(globalStep: 0, done: false, values: values)))
        let gradients = (0..<n).map { Float($0 % 7) }
        guard case .pushReply(let r) = try chief.call(.push(Push(baseStep: 0, gradients: gradients, returnValues: true)), timeout: 10) else {
            return XCTFail("no push reply")
        }
        let expected = zip(values, gradients).map { $0 - $1 }
        XCTAssertEqual(r.values, expected)
        XCTAssertEqual(box.ps.withLock { $0.values }, expected)
    }

    func testStrangersAreRejected() throws {
        let (server, address, _) = try startServer()
        defer { server.stop() }
        let stranger = PeerClient(server: .ps(0), address: address, hello: Hello(token: "wrong", task: .worker(0)))
        XCTAssertThrowsError(try stranger.connect(until: .after(seconds: 2))) { XCTAssertEqual(($0 as? RPCError)?.code, .badToken) }
        XCTAssertFalse(stranger.isConnected)
    }

    func testGarbageBytesCloseTheConnection() throws {
        let (server, address, _) = try startServer()
        defer { server.stop() }
        let s = try Socket.connect(to: address, deadline: .after(seconds: 2))
        try s.write(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8), until: .after(seconds: 2))
        var buffer = [UInt8](repeating: 0, count: 1)
        // The server answers nothing a client could mistake for a frame and hangs up.
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try s.read(into: $0, until: .after(seconds: 3)) }) { error in
            guard case SocketError.closed = error else { return XCTFail("\(error)") }
        }
    }

    func testDeadlinesBoundEveryWait() throws {
        // A listener that never accepts: the connection queues, the hello is never answered.
        let silent = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let client = PeerClient(server: .ps(0), address: silent.localAddress, hello: Hello(token: "t", task: .worker(0)))
        let start = MonotonicClock.now()
        XCTAssertThrowsError(try client.connect(until: .after(seconds: 0.3))) { error in
            guard case RPCError.transport(let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("timed out"), why)
        }
        XCTAssertLessThan(MonotonicClock.now() - start, 2)
        silent.close()
    }

    func testConnectionRefusedIsATransportError() throws {
        let s = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let port = s.localAddress.port
        s.close()
        let client = PeerClient(server: .ps(0), address: HostPort(host: "localhost", port: port), hello: Hello(token: "t", task: .worker(0)))
        XCTAssertThrowsError(try client.connect(until: .after(seconds: 1))) { error in
            guard case RPCError.transport = error else { return XCTFail("\(error)") }
        }
    }

    func testReconnectsAfterTheServerComesBack() throws {
        var (server, address, _) = try startServer()
        let client = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(0)))
        XCTAssertNoThrow(try client.connect(until: .after(seconds: 2)))
        server.stop()
        XCTAssertThrowsError(try client.call(.status, timeout: 1))
        XCTAssertFalse(client.isConnected)
        // A new server on the same port (as a restarted ps gets).
        let listener = try Socket.listen(on: HostPort(host: "127.0.0.1", port: address.port))
        let box = Box()
        server = FrameServer(listener: listener) { conn in
            var peer = ParameterServer.Peer()
            while let frame = try? conn.receive(until: .never) {
                for case .reply(let f) in box.ps.withLock({ $0.handle(frame, from: &peer) }) { try? conn.send(f, until: .after(seconds: 2)) }
            }
        }
        server.start(name: "test-ps-2")
        defer { server.stop() }
        guard case .statusReply(let s) = try client.call(.status, timeout: 2) else { return XCTFail() }
        XCTAssertFalse(s.initialized)
    }

    func testBandwidthShapingSlowsSends() throws {
        let (server, address, _) = try startServer()
        defer { server.stop() }
        let shaper = NetworkShaper()  // this client's own network: no other connection is shaped
        let client = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .chief(0)), shaper: shaper)
        try client.connect(until: .after(seconds: 2))
        shaper.update(.init(bandwidth: 1_000_000))  // 1 MB/s
        let start = MonotonicClock.now()
        _ = try? client.call(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 1, values: [Float](repeating: 0, count: 100_000))), timeout: 5)
        let elapsed = MonotonicClock.now() - start
        XCTAssertGreaterThan(elapsed, 0.35, "400 KB at 1 MB/s takes about 0.4 s")
        // An unshaped client to the same server is not slowed by another client's shaper.
        let other = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(0)))
        let otherStart = MonotonicClock.now()
        _ = try other.call(.status, timeout: 2)
        XCTAssertLessThan(MonotonicClock.now() - otherStart, 0.3)
        shaper.update(.init(rules: [.init(peers: [.ps(0)], partitioned: true)]))
        XCTAssertThrowsError(try client.call(.status, timeout: 1))
        XCTAssertNoThrow(try other.call(.status, timeout: 2))
    }
}
