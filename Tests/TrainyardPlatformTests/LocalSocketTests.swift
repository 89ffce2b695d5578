import Synchronization
import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

/// The same-host fast path: Unix-domain sockets in the abstract namespace beside TCP, served alike,
/// and clients that fall back to TCP when nothing listens on the local name.
final class LocalSocketTests: XCTestCase {
    final class Box: Sendable {
        let ps = Mutex(ParameterServer(task: .ps(0), token: "tok", optimizer: OptimizerConfig(kind: .sgd, learningRate: 1)))
    }

    private func uniqueName(_ what: String) -> String { "trainyard-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))/\(what)" }

    private func startServer(localName: String?) throws -> (FrameServer, HostPort) {
        let box = Box()
        let listener = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let local = try localName.map { try Socket.listenLocal(name: $0) }
        let server = FrameServer(listener: listener, localListener: local) { conn in
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
        return (server, HostPort(host: "localhost", port: listener.localAddress.port))
    }

    func testBytesTravelBothWaysOverALocalSocket() throws {
        let name = uniqueName("echo")
        let listener = try Socket.listenLocal(name: name)
        defer { listener.close() }
        XCTAssertTrue(listener.isLocal)
        let client = try Socket.connectLocal(name: name, deadline: .after(seconds: 5))
        defer { client.close() }
        let accepted = try XCTUnwrap(listener.accept(until: .after(seconds: 5)))
        defer { accepted.close() }
        XCTAssertTrue(client.isLocal)
        XCTAssertTrue(accepted.isLocal)
        XCTAssertEqual(accepted.remoteAddress, HostPort(host: "local", port: 0))
        // More than a socket buffer holds, so writes and reads go round several times.
        let sent = (0..<12_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let writer = Thread { try? client.write(sent, until: .after(seconds: 30)) }
        writer.start()
        var received = [UInt8](repeating: 0, count: sent.count)
        try received.withUnsafeMutableBytes { try accepted.read(into: $0, until: .after(seconds: 30)) }
        XCTAssertEqual(received, sent)
    }

    func testAWholeShardMessageFitsInALocalSocketWithoutTheReader() throws {
        // A 1.5 MB message (a shard of a 1.5 MB model) is written in one go on either end while
        // the other reads nothing yet: the writer does not wait for the reader piece by piece.
        let name = uniqueName("buffer")
        let listener = try Socket.listenLocal(name: name)
        defer { listener.close() }
        let client = try Socket.connectLocal(name: name, deadline: .after(seconds: 5))
        defer { client.close() }
        let accepted = try XCTUnwrap(listener.accept(until: .after(seconds: 5)))
        defer { accepted.close() }
        let message = [UInt8](repeating: 0x5A, count: 1_500_000)
        for (writer, reader) in [(client, accepted), (accepted, client)] {
            XCTAssertNoThrow(try writer.write(message, until: .after(seconds: 2)), "the send buffer holds less than the message")
            var received = [UInt8](repeating: 0, count: message.count)
            try received.withUnsafeMutableBytes { try reader.read(into: $0, until: .after(seconds: 5)) }
            XCTAssertEqual(received, message)
        }
    }

    func testConnectingToANameNobodyListensOnIsARefusal() throws {
        XCTAssertThrowsError(try Socket.connectLocal(name: uniqueName("nobody"), deadline: .after(seconds: 2))) { error in
            guard case .closed(let why) = error as? SocketError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("nothing listens"), why)
        }
        XCTAssertThrowsError(try Socket.listenLocal(name: String(repeating: "x", count: 200))) { error in
            guard case .resolve = error as? SocketError else { return XCTFail("\(error)") }
        }
    }

    func testAClientUsesTheLocalSocketWhenThereIsOneAndTCPOtherwise() throws {
        let name = uniqueName("ps-0")
        let (server, address) = try startServer(localName: name)
        defer { server.stop() }
        let chief = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .chief(0)), localName: name)
        XCTAssertEqual(try chief.call(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [1, 2, 3])), timeout: 5), .ack(globalStep: 0))
        XCTAssertTrue(chief.isLocal)
        // A name nobody listens on: the same server, over TCP.
        let worker = PeerClient(server: .ps(0), address: address, hello: Hello(token: "tok", task: .worker(0)), localName: uniqueName("elsewhere"))
        worker.incarnation = 1
        XCTAssertEqual(try worker.call(.push(Push(baseStep: 0, gradients: [1, 1, 1])), timeout: 5), .pushReply(PushReply(globalStep: 1, applied: true, done: false)))
        XCTAssertFalse(worker.isLocal)
        // Both were served by the one server, and the hello was checked on each (a wrong token is refused locally too).
        XCTAssertEqual(server.accepted.local, 1)
        XCTAssertEqual(server.accepted.tcp, 1)
        let stranger = PeerClient(server: .ps(0), address: address, hello: Hello(token: "wrong", task: .worker(0)), localName: name)
        XCTAssertThrowsError(try stranger.call(.pull(Pull()), timeout: 5)) { XCTAssertEqual(($0 as? RPCError)?.code, .badToken) }
        XCTAssertEqual(server.accepted.local, 2)
    }
}
