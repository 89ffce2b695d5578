import Foundation
import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

/// A real `trainyard-ps` process under the attacks users reported: connections that announce huge
/// frames without the job token, connections that never speak, and strangers with the token.
final class WireHardeningEndToEndTests: XCTestCase {
    /// Starts a ps of a cluster {chief, worker, ps} on a free port, with `environment` added.
    private func startPS(environment extra: [String: String]) throws -> (Process, Pipe, HostPort) {
        let probe = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let port = probe.localAddress.port
        probe.close()
        let address = HostPort(host: "127.0.0.1", port: port)
        var cluster = ClusterSpec()
        cluster.set(.chief, [HostPort(host: "127.0.0.1", port: 1)])
        cluster.set(.worker, [HostPort(host: "127.0.0.1", port: 2)])
        cluster.set(.ps, [address])
        var environment = extra
        environment[RoleEnvironment.tfConfig] = TFConfig(cluster: cluster, task: .init(type: .ps, index: 0)).serialized()
        environment[RoleEnvironment.token] = "job-token"
        let (process, out, _) = try Harness.start([], product: "trainyard-ps", environment: environment)
        // Wait until it listens.
        let deadline = Deadline.after(seconds: 20)
        while !deadline.hasPassed {
            if let s = try? Socket.connect(to: address, deadline: .after(seconds: 1)) { s.close(); break }
            MonotonicClock.sleep(seconds: 0.05)
        }
        return (process, out, address)
    }

    private func residentMegabytes(_ pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .infinity }
        return kb / 1024
    }

    private func stop(_ process: Process, _ out: Pipe) -> String {
        process.terminate()
        process.waitUntilExit()
        return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    func testHugeHeadersWithoutHelloCostThePSNothingAndSilentConnectionsAreClosed() throws {
        let (ps, out, address) = try startPS(environment: [RoleEnvironment.handshakeTimeout: "2"])
        var log = ""
        defer { if ps.isRunning { log = stop(ps, out) } }

        // Four connections announce a 512 MiB hello and send nothing more: each is refused from its header.
        var attackers: [Socket] = []
        for _ in 0..<4 {
            let s = try Socket.connect(to: address, deadline: .after(seconds: 5))
            try s.write(WireHardeningTests_header(announcing: 512 << 20), until: .after(seconds: 5))
            attackers.append(s)
        }
        for s in attackers {
            let reply = try FrameConnection(socket: s).receive(until: .after(seconds: 5))
            guard case .error(let e) = reply.message else { return XCTFail("\(reply)") }
            XCTAssertEqual(e.code, .badRequest)
            XCTAssertTrue(e.message.contains("before hello"), e.message)
            XCTAssertThrowsError(try FrameConnection(socket: s).receive(until: .after(seconds: 5))) { XCTAssertTrue($0 is SocketError, "\($0)") }
        }
        XCTAssertLessThan(residentMegabytes(ps.processIdentifier), 64)

        // A connection that never says hello is closed at the handshake deadline.
        let silent = try Socket.connect(to: address, deadline: .after(seconds: 5))
        let start = MonotonicClock.now()
        var byte = [UInt8](repeating: 0, count: 1)
        XCTAssertThrowsError(try byte.withUnsafeMutableBytes { try silent.read(into: $0, until: .after(seconds: 10)) }) {
            guard case SocketError.closed = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertLessThan(MonotonicClock.now() - start, 8)

        // The ps still serves its cluster, and only its cluster.
        let chief = PeerClient(server: .ps(0), address: address, hello: Hello(token: "job-token", task: .chief(0)))
        XCTAssertFalse(try chief.connect(until: .after(seconds: 5)).initialized)
        let stranger = PeerClient(server: .ps(0), address: address, hello: Hello(token: "job-token", task: .worker(7)))
        XCTAssertThrowsError(try stranger.connect(until: .after(seconds: 5))) { XCTAssertEqual(($0 as? RPCError)?.code, .unknownTask, "\($0)") }
        XCTAssertLessThan(residentMegabytes(ps.processIdentifier), 64)

        log = stop(ps, out)
        XCTAssertTrue(log.contains("refused connection from 127.0.0.1:") && log.contains("before hello: frame payload of 536870912 bytes exceeds the limit of 4096"), log)
        XCTAssertTrue(log.contains("no hello within 2 s"), log)
        XCTAssertTrue(log.contains("unknown-task: worker-7 is not a task of this job's cluster"), log)
    }
}

/// A frame header announcing `length` payload bytes for a hello, and nothing more.
func WireHardeningTests_header(announcing length: UInt32) -> [UInt8] {
    var bytes = FrameCodec.encode(Frame(message: .status))
    bytes[5] = 1  // hello
    withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[20 + i] = $0[i] } }
    return Array(bytes.prefix(FrameCodec.headerSize))
}
