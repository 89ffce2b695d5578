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

    /// The pid and TF_CONFIG address of a live `trainyard-ps` of the job in `jobDir`, once it is up.
    private func livePS(of jobDir: String, until deadline: Deadline) -> (Int32, HostPort)? {
        while !deadline.hasPassed {
            for pid in Harness.processes(mentioning: jobDir) {
                guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                      comm.trimmingCharacters(in: .whitespacesAndNewlines) == "trainyard-ps",
                      let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
                for entry in environ.split(separator: 0) {
                    let text = String(decoding: entry, as: UTF8.self)
                    guard text.hasPrefix(RoleEnvironment.tfConfig + "=") else { continue }
                    if let config = try? TFConfig(parsing: String(text.dropFirst(RoleEnvironment.tfConfig.count + 1))),
                       let address = config.ownAddress {
                        return (pid, address)
                    }
                }
            }
            MonotonicClock.sleep(seconds: 0.02)
        }
        return nil
    }

    /// The attack users reported, against a whole job: while a real job trains, connections keep
    /// announcing 512 MiB hellos to its ps. Each is refused from its header, the ps stays small, and the
    /// job succeeds.
    func testAJobSucceedsWhileItsPSIsAttackedWithHugeHeaders() throws {
        let dir = Harness.temporaryDirectory("attack")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let jobDir = dir + "/job"
        let (launcher, out, err) = try Harness.start(["train", "--workers", "1", "--ps", "1", "--max-steps", "3000",
                                                      "--job-dir", jobDir] + Harness.smallJob)
        let outData = Locked(Data()), errData = Locked(Data())
        let drained = DispatchGroup()
        drained.enter()
        DispatchQueue.global().async { outData.set(out.fileHandleForReading.readDataToEndOfFile()); drained.leave() }
        drained.enter()
        DispatchQueue.global().async { errData.set(err.fileHandleForReading.readDataToEndOfFile()); drained.leave() }
        defer {
            if launcher.isRunning { kill(launcher.processIdentifier, SIGKILL) }
            launcher.waitUntilExit()
            XCTAssertEqual(Harness.waitForNoProcesses(mentioning: jobDir, timeout: 20), [])
        }

        guard let (psPID, address) = livePS(of: jobDir, until: .after(seconds: 60)) else {
            return XCTFail("no trainyard-ps of the job appeared in 60 s")
        }
        var rounds = 0, refused = 0, peakMegabytes = 0.0
        let jobDeadline = Deadline.after(seconds: 240)
        // Attack in rounds of four connections until the job ends; at least one whole round must be refused
        // while the launcher still runs, or the job finished before the attack and nothing was shown.
        while launcher.isRunning && !jobDeadline.hasPassed {
            var attackers: [Socket] = []
            for _ in 0..<4 {
                guard let s = try? Socket.connect(to: address, deadline: .after(seconds: 5)) else { continue }
                try? s.write(WireHardeningTests_header(announcing: 512 << 20), until: .after(seconds: 5))
                attackers.append(s)
            }
            for s in attackers {
                if let reply = try? FrameConnection(socket: s).receive(until: .after(seconds: 10)),
                   case .error(let e) = reply.message, e.code == .badRequest, e.message.contains("before hello") {
                    refused += 1
                }
                s.close()
            }
            if launcher.isRunning {
                let rss = residentMegabytes(psPID)
                if rss.isFinite { peakMegabytes = max(peakMegabytes, rss) }
                rounds += 1
            }
            MonotonicClock.sleep(seconds: 0.05)
        }
        XCTAssertFalse(jobDeadline.hasPassed, "the job did not finish in 240 s under the attack")
        launcher.waitUntilExit()
        drained.wait()
        let stdout = String(decoding: outData.get(), as: UTF8.self), stderr = String(decoding: errData.get(), as: UTF8.self)

        print("attack on ps-0 during the job: \(rounds) rounds, \(refused) connections refused, ps peak RSS \(peakMegabytes) MB")
        XCTAssertGreaterThan(rounds, 0, "the job ended before a whole round of the attack was refused")
        XCTAssertGreaterThanOrEqual(refused, 4, "every attacking connection must be refused from its header")
        XCTAssertLessThan(peakMegabytes, 64, "the ps grew under the attack")
        XCTAssertEqual(launcher.terminationStatus, 0, stdout + stderr)
        XCTAssertTrue(stdout.contains("Job SUCCEEDED"), stdout)
        let psLog = (try? String(contentsOfFile: jobDir + "/logs/ps-0.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(psLog.contains("frame payload of 536870912 bytes exceeds the limit"), psLog)
    }
}

/// A frame header announcing `length` payload bytes for a hello, and nothing more.
func WireHardeningTests_header(announcing length: UInt32) -> [UInt8] {
    var bytes = FrameCodec.encode(Frame(message: .status))
    bytes[5] = 1  // hello
    withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[20 + i] = $0[i] } }
    return Array(bytes.prefix(FrameCodec.headerSize))
}
