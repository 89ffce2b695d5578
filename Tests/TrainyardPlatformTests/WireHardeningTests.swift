import Synchronization
import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

/// The server side of the wire under hostile or careless peers, over real sockets on port 0: a
/// parameter server's logic behind a `FrameServer` with `WireLimits`, as `ParameterServerRole` runs it.
final class WireHardeningTests: XCTestCase {
    final class Box: Sendable {
        let ps = Mutex(ParameterServer(task: .ps(0), token: "tok", optimizer: OptimizerConfig(kind: .sgd, learningRate: 1),
                                       members: [.chief(0), .worker(0), .ps(0)]))
        let lines = Mutex<[String]>([])
        /// The log, once it holds a line (or after 2 s): the server writes a refusal after replying.
        var log: [String] {
            let deadline = Deadline.after(seconds: 2)
            while !deadline.hasPassed && lines.withLock({ $0.isEmpty }) { MonotonicClock.sleep(seconds: 0.01) }
            MonotonicClock.sleep(seconds: 0.05)
            return lines.withLock { $0 }
        }
    }

    private func startServer(_ limits: WireLimits) throws -> (FrameServer, HostPort, Box) {
        let box = Box()
        let listener = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let server = FrameServer(listener: listener, limits: limits, log: { line in box.lines.withLock { $0.append(line) } }) { conn in
            var peer = ParameterServer.Peer()
            while let frame = conn.receiveRequest(authenticatedLimit: { box.ps.withLock { $0.payloadLimit } }) {
                let directives = box.ps.withLock { $0.handle(frame, from: &peer) }
                if let task = peer.task, !conn.isAuthenticated { conn.authenticate(as: task) }
                for d in directives {
                    switch d {
                    case .reply(let f): try? conn.send(f, until: .after(seconds: 2))
                    case .close:
                        if case .reply(let f)? = directives.first, case .error(let e) = f.message, !conn.isAuthenticated { conn.refuse("\(e.code): \(e.message)") }
                        return
                    case .log(let line): box.lines.withLock { $0.append(line) }
                    case .exitCleanly, .stepAdvanced, .awaitStep: break
                    }
                }
            }
        }
        server.start(name: "test-ps")
        return (server, HostPort(host: "127.0.0.1", port: listener.localAddress.port), box)
    }

    /// A header announcing `length` payload bytes for a hello, and nothing more.
    static func header(announcing length: UInt32) -> [UInt8] {
        var bytes = FrameCodec.encode(Frame(message: .status))
        bytes[5] = 1  // hello
        withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[20 + i] = $0[i] } }
        return Array(bytes.prefix(FrameCodec.headerSize))
    }

    /// Whether the server closed `socket` (EOF) within `seconds`, skipping any frames it sent first.
    static func closedByServer(_ socket: Socket, within seconds: Double) -> Bool {
        let connection = FrameConnection(socket: socket)
        let deadline = Deadline.after(seconds: seconds)
        while true {
            do { _ = try connection.receive(until: deadline) } catch SocketError.closed { return true } catch { return false }
        }
    }

    func testAnOversizedHeaderBeforeHelloIsRefusedAndClosed() throws {
        let (server, address, box) = try startServer(WireLimits(handshakeTimeout: 5))
        defer { server.stop() }
        let socket = try Socket.connect(to: address, deadline: .after(seconds: 2))
        try socket.write(Self.header(announcing: 512 << 20), until: .after(seconds: 2))
        let reply = try FrameConnection(socket: socket).receive(until: .after(seconds: 2))
        guard case .error(let e) = reply.message else { return XCTFail("\(reply)") }
        XCTAssertEqual(e.code, .badRequest)
        XCTAssertTrue(e.message.contains("before hello") && e.message.contains("exceeds the limit of \(WireLimits.helloPayloadLimit)"), e.message)
        XCTAssertTrue(Self.closedByServer(socket, within: 2))
        XCTAssertTrue(box.log.contains { $0.hasPrefix("refused connection from 127.0.0.1:") && $0.contains("before hello") }, "\(box.log)")
    }

    func testAConnectionWithoutHelloIsClosedAtTheHandshakeDeadlineAndAnIdleOneAtTheIdleDeadline() throws {
        let (server, address, box) = try startServer(WireLimits(handshakeTimeout: 0.5, idleTimeout: 1))
        defer { server.stop() }
        let silent = try Socket.connect(to: address, deadline: .after(seconds: 2))
        let start = MonotonicClock.now()
        XCTAssertTrue(Self.closedByServer(silent, within: 5))
        XCTAssertLessThan(MonotonicClock.now() - start, 3)
        XCTAssertTrue(box.log.contains { $0.contains("no hello within 0.5 s") }, "\(box.log)")

        // A hello sent a byte at a time still has to be complete by the handshake deadline.
        let slow = try Socket.connect(to: address, deadline: .after(seconds: 2))
        let hello = FrameCodec.encode(Frame(message: .hello(Hello(token: "tok", task: .worker(0)))))
        for byte in hello.prefix(10) {
            try? slow.write([byte], until: .after(seconds: 1))
            MonotonicClock.sleep(seconds: 0.1)
        }
        XCTAssertTrue(Self.closedByServer(slow, within: 5))

        let client = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(0)))
        _ = try client.connect(until: .after(seconds: 2))
        XCTAssertEqual(server.openConnections, 1)
        let idleSince = MonotonicClock.now()
        while server.openConnections > 0 && MonotonicClock.now() - idleSince < 5 { MonotonicClock.sleep(seconds: 0.05) }
        XCTAssertEqual(server.openConnections, 0, "an idle connection was kept past the idle deadline")
        XCTAssertGreaterThanOrEqual(MonotonicClock.now() - idleSince, 0.9)
        XCTAssertTrue(box.log.contains { $0.contains("closed connection from") && $0.contains("(worker-0)") && $0.contains("idle for 1 s") }, "\(box.log)")
    }

    func testAFullServerDropsConnectionsThatHaveNotSaidHelloForARealTask() throws {
        let (server, address, box) = try startServer(WireLimits(handshakeTimeout: 30, maxConnections: 4))
        defer { server.stop() }
        let idle = try (0..<6).map { _ in try Socket.connect(to: address, deadline: .after(seconds: 2)) }
        _ = idle
        MonotonicClock.sleep(seconds: 0.3)
        XCTAssertLessThanOrEqual(server.openConnections, 4)
        let worker = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(0)))
        XCTAssertEqual(try worker.connect(until: .after(seconds: 2)).task, .ps(0))
        XCTAssertEqual(try worker.call(.status, timeout: 2).name, "statusReply")
        XCTAssertTrue(box.log.contains { $0.contains("dropped before its hello: 4 connections open") }, "\(box.log)")

        // Once every connection has said hello, a newcomer is refused instead.
        let others = try (0..<3).map { i in
            let c = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: i == 0 ? .chief(0) : .worker(0)))
            _ = try c.connect(until: .after(seconds: 2))
            return c
        }
        XCTAssertEqual(server.openConnections, 4)
        let late = try Socket.connect(to: address, deadline: .after(seconds: 2))
        XCTAssertTrue(Self.closedByServer(late, within: 2))
        XCTAssertTrue(box.log.contains { $0.contains("4 connections open, all past hello") }, "\(box.log)")
        XCTAssertEqual(try worker.call(.status, timeout: 2).name, "statusReply")
        _ = others
    }

    func testAHelloForATaskOutsideTheClusterIsRefusedAndNaNGradientsAreNotApplied() throws {
        let (server, address, box) = try startServer(WireLimits())
        defer { server.stop() }
        let stranger = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(7)))
        XCTAssertThrowsError(try stranger.connect(until: .after(seconds: 2))) { XCTAssertEqual(($0 as? RPCError)?.code, .unknownTask, "\($0)") }
        XCTAssertTrue(box.log.contains { $0.contains("unknown-task: worker-7 is not a task of this job's cluster") }, "\(box.log)")

        let chief = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .chief(0)))
        _ = try chief.connect(until: .after(seconds: 2))
        XCTAssertEqual(try chief.call(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [1, 2, 3])), timeout: 2), .ack(globalStep: 0))
        let worker = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(0)))
        worker.incarnation = 1
        XCTAssertThrowsError(try worker.call(.push(Push(baseStep: 0, gradients: [1, .nan, .infinity])), timeout: 2)) {
            XCTAssertEqual(($0 as? RPCError)?.code, .nonFiniteGradients, "\($0)")
        }
        XCTAssertEqual(box.ps.withLock { $0.values }, [1, 2, 3])
        XCTAssertEqual(box.ps.withLock { $0.globalStep }, 0)
        XCTAssertTrue(box.log.contains { $0.contains("refused a push from worker-0 at step 0: 2 of 3 gradients are NaN or infinite") }, "\(box.log)")
        // After initialize, a frame larger than the shard needs is refused from its header.
        XCTAssertEqual(box.ps.withLock { $0.payloadLimit }, 3 * 4 + ParameterServer.payloadOverhead)
    }
}
