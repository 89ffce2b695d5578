import Foundation
import XCTest

/// Several hosts on one machine, for real: `Tests/MultiHost/multihost.sh` makes three network
/// namespaces joined by a bridge, starts the roles by hand on them with a TF_CONFIG of host names,
/// and checks each scenario's outcome and recovery itself (Docs/multi-host.md). Runs as root where
/// network namespaces work; skipped with the reason otherwise.
final class MultiHostEndToEndTests: XCTestCase {
    private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("MultiHost/multihost.sh").path

    /// Why namespaces cannot be used here, or nil when they can (a probe namespace is made and removed).
    private static let unavailable: String? = {
        guard getuid() == 0 else { return "needs root to make network namespaces (uid \(getuid()))" }
        let name = "typrobe\(getpid())"
        guard run(["ip", "netns", "add", name]) == 0 else { return "`ip netns add` does not work here (no iproute2, or no network namespaces)" }
        _ = run(["ip", "netns", "del", name])
        guard run(["tc", "-V"]) == 0 else { return "the tc command (iproute2) is not installed" }
        return nil
    }()

    @discardableResult
    private static func run(_ argv: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    private static func namespaces() -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "list"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return [] }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    /// Runs one scenario of the script; its output when it passed.
    private func scenario(_ name: String, timeout: Double = 150) throws -> String {
        if let why = MultiHostEndToEndTests.unavailable { throw XCTSkip("multi-host scenarios skipped: \(why)") }
        let dir = Harness.temporaryDirectory("multihost-\(name)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outputPath = dir + "/output.txt"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [MultiHostEndToEndTests.script, "--bin", Harness.binDirectory, "--work", dir + "/work", name]
        p.standardOutput = FileHandle(forWritingAtPath: outputPath)
        p.standardError = p.standardOutput
        try p.run()
        let prefix = "ty\(p.processIdentifier)-"
        defer {
            // Always torn down: the script cleans up on TERM; if even that hangs, it is killed and
            // its namespaces removed here.
            if p.isRunning {
                kill(p.processIdentifier, SIGTERM)
                let deadline = Date().addingTimeInterval(30)
                while p.isRunning && Date() < deadline { usleep(50_000) }
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                p.waitUntilExit()
            }
            for ns in MultiHostEndToEndTests.namespaces() where ns.hasPrefix(prefix) {
                MultiHostEndToEndTests.run(["sh", "-c", "kill -9 $(ip netns pids \(ns)) 2>/dev/null; ip netns del \(ns); rm -rf /etc/netns/\(ns)"])
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        let timedOut = p.isRunning
        if timedOut {
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        XCTAssertFalse(timedOut, "multihost.sh \(name) did not finish in \(timeout) s:\n\(output)")
        if p.terminationStatus == 77 { throw XCTSkip("multi-host scenarios skipped: \(output)") }
        XCTAssertEqual(p.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("PASS \(name)"), output)
        XCTAssertFalse(output.contains("FAIL"), output)
        // Nothing of the run is left: no namespace, no hosts file.
        XCTAssertEqual(MultiHostEndToEndTests.namespaces().filter { $0.hasPrefix(prefix) }, [], output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/netns/\(prefix)h0"), output)
        return output
    }

    func testAThreeHostJobTrainsToTheEndWithHostNamesThatResolveLate() throws {
        let output = try scenario("run")
        XCTAssertTrue(output.contains("ok   the chief trained to the end"), output)
        XCTAssertTrue(output.contains("ok   the ps still serves after the chief ended the job"), output)
        XCTAssertTrue(output.contains("ok   a worker names the ps host that never resolves"), output)
    }

    func testLosingTheWorkersHostLeavesTheChiefToFinishTheJob() throws {
        let output = try scenario("host-lost")
        XCTAssertTrue(output.contains("ok   no process left on h1"), output)
        XCTAssertTrue(output.contains("ok   training moved on without h1"), output)
        XCTAssertTrue(output.contains("ok   the chief exited 0"), output)
    }

    func testACutLinkStopsTrainingAndTrainingResumesWhenItIsBack() throws {
        let output = try scenario("link-cut")
        XCTAssertTrue(output.contains("ok   no update reached the ps while its link was down"), output)
        XCTAssertTrue(output.contains("ok   training resumed after the link came back"), output)
        XCTAssertTrue(output.contains("ok   the chief exited 0"), output)
    }

    func testAShapedLinkSlowsTheJobButItFinishes() throws {
        let output = try scenario("link-shaped")
        XCTAssertTrue(output.contains("ok   the token bucket held packets back"), output)
        XCTAssertTrue(output.contains("ok   the shaped link carried no more than its bucket lets through"), output)
        XCTAssertTrue(output.contains("ok   the chief exited 0"), output)
    }
}
