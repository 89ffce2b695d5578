import Foundation
import XCTest
@testable import TrainyardCore

/// `trainyard bench cluster` and `trainyard bench transport` on tiny settings: they run real
/// processes, leave none behind, and report every figure their JSON promises. No figure's value
/// is checked (timing belongs to the benchmarks, not to tests), only that it is there and sane.
final class BenchEndToEndTests: XCTestCase {
    func testClusterBenchRunsAJobAndReportsItsProfile() throws {
        let r = try Harness.run(["bench", "cluster", "--json", "--workers", "1", "--ps", "2", "--hidden", "16", "--batch", "16",
                                 "--steps", "600", "--reference-seconds", "0.1"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONParser.parse(r.stdout)
        XCTAssertEqual(doc["status"]?.stringValue, "SUCCEEDED")
        XCTAssertEqual(doc["model"]?.stringValue, "784-16-10")
        XCTAssertGreaterThan(doc["one_thread_examples_per_sec"]?.doubleValue ?? 0, 0)
        XCTAssertEqual(doc["compute_bound_examples_per_sec"]?.doubleValue ?? 0,
                       (doc["cores"]?.doubleValue ?? 0) * (doc["one_thread_examples_per_sec"]?.doubleValue ?? 0), accuracy: 2)
        // The sustained one-thread rate averages the same repeats the best one is taken from.
        let best = try XCTUnwrap(doc["one_thread_examples_per_sec"]?.doubleValue)
        let sustained = try XCTUnwrap(doc["one_thread_sustained_examples_per_sec"]?.doubleValue)
        XCTAssertGreaterThan(sustained, 0)
        XCTAssertLessThanOrEqual(sustained, best + 1)
        // 600 steps give a steady state (a window of 0.4 s or so in a debug build); each fraction is
        // the steady rate over its own bound.
        let rate = try XCTUnwrap(doc["examples_per_sec"]?.doubleValue, r.stdout)
        let cores = doc["cores"]?.doubleValue ?? 0
        XCTAssertEqual(doc["fraction_of_bound"]?.doubleValue ?? 0, rate / (cores * best), accuracy: 0.002)
        XCTAssertEqual(doc["fraction_of_sustained_bound"]?.doubleValue ?? 0, rate / (cores * sustained), accuracy: 0.002)
        // Every core training at once, summed: measured, and the fraction is the rate over it.
        let allCores = try XCTUnwrap(doc["all_cores_examples_per_sec"]?.doubleValue)
        XCTAssertGreaterThan(allCores, 0)
        XCTAssertEqual(doc["fraction_of_all_cores"]?.doubleValue ?? 0, rate / allCores, accuracy: 0.002)
        XCTAssertGreaterThan(doc["launch_to_first_step_seconds"]?.doubleValue ?? 0, 0)
        XCTAssertNotNil(doc["wall_seconds"]?.doubleValue)
        // How busy the machine was around the job, and the verdict drawn from it.
        let before = try XCTUnwrap(doc["background_load_before"]?.doubleValue), after = try XCTUnwrap(doc["background_load_after"]?.doubleValue)
        XCTAssertGreaterThanOrEqual(min(before, after), 0)
        XCTAssertEqual(doc["machine_was_busy"]?.boolValue, max(before, after) >= 0.5)
        // Every task wrote its own profile: the trainers their compute, pulls and pushes, the ps its updates.
        let tasks = doc["tasks"]?.arrayValue ?? []
        XCTAssertEqual(Set(tasks.compactMap { $0["task"]?.stringValue }), ["chief-0", "worker-0", "ps-0", "ps-1"], r.stdout)
        for t in tasks {
            let name = t["task"]?.stringValue ?? "?"
            XCTAssertGreaterThan(t["cpu_seconds"]?.doubleValue ?? 0, 0, name)
            if name.hasPrefix("ps") {
                XCTAssertGreaterThan(t["updates"]?.doubleValue ?? 0, 0, name)
                XCTAssertGreaterThan(t["update_seconds"]?.doubleValue ?? 0, 0, name)
            } else {
                XCTAssertGreaterThan(t["local_steps"]?.doubleValue ?? 0, 0, name)
                for bucket in ["compute", "push", "encode", "decode", "send", "receive"] {
                    XCTAssertGreaterThan(t[bucket + "_seconds"]?.doubleValue ?? 0, 0, "\(name) \(bucket)")
                }
                XCTAssertNotNil(t["fractions"]?["compute"]?.doubleValue, name)
            }
        }
    }

    func testTransportBenchComparesTheWireWithASocketCopy() throws {
        let r = try Harness.run(["bench", "transport", "--json", "--sizes", "1", "--repeat", "1", "--min-time", "0.02", "--no-iperf"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try JSONParser.parse(r.stdout)
        let rows = doc["rows"]?.arrayValue ?? []
        XCTAssertEqual(rows.compactMap { $0["direction"]?.stringValue }, ["pull", "push", "pull", "push"])
        XCTAssertEqual(rows.compactMap { $0["transport"]?.stringValue }, ["tcp", "tcp", "local", "local"])
        // Each ps says which listener its connections came through.
        let profiles = doc["ps_profiles"]?.arrayValue ?? []
        XCTAssertEqual(profiles.count, 2)
        for p in profiles {
            let local = p["transport"]?.stringValue == "local"
            XCTAssertEqual(p["profile"]?["connections_local"]?.intValue, local ? 1 : 0, "\(p)")
            XCTAssertEqual(p["profile"]?["connections_tcp"]?.intValue, local ? 0 : 1, "\(p)")
        }
        for row in rows {
            XCTAssertEqual(row["megabytes"]?.intValue, 1)
            XCTAssertGreaterThan(row["wire_mb_per_sec"]?.doubleValue ?? 0, 0)
            XCTAssertGreaterThan(row["socket_copy_mb_per_sec"]?.doubleValue ?? 0, 0)
            XCTAssertGreaterThan(row["ratio"]?.doubleValue ?? 0, 0)
        }
        XCTAssertEqual(doc["iperf3"]?.stringValue, "skipped (--no-iperf)")
    }

    /// Ctrl-C in `bench kernel` while it waits on its numpy reference: exit 130, and the reference
    /// goes with it. (Foundation's `availableData` stopped the process with SIGILL on the EINTR.)
    func testInterruptingTheKernelBenchExits130AndStopsItsReference() throws {
        let (bench, _, err) = try Harness.start(["bench", "kernel", "--no-tensorflow", "--repeat", "1000", "--min-time", "0.2"])
        // The reference's script defines time_loop: it is on the command line of this bench's child.
        func reference() -> [Int32] { Harness.processes(mentioning: "def time_loop").filter { Harness.parent(of: $0) == bench.processIdentifier } }
        var deadline = Date().addingTimeInterval(60)
        while Date() < deadline && bench.isRunning && reference().isEmpty { usleep(20_000) }
        let child = reference()
        guard bench.isRunning, !child.isEmpty else {
            Harness.waitForExit(bench, timeout: 0)
            throw XCTSkip("no numpy reference started (python3 with numpy is not installed here)")
        }
        // Until the bench waits on the reference's answer (read(2) on its pipe): the signal must
        // interrupt that read.
        deadline = Date().addingTimeInterval(60)
        while Date() < deadline && bench.isRunning && !Harness.isWaitingForInput(bench.processIdentifier) { usleep(2_000) }
        XCTAssertTrue(Harness.isWaitingForInput(bench.processIdentifier), "the bench was never seen waiting on its reference")
        kill(bench.processIdentifier, SIGINT)
        XCTAssertTrue(Harness.waitForExit(bench, timeout: 60), "bench kernel went on after Ctrl-C")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(bench.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("bench kernel stopped by SIGINT"), stderr)
        // The reference ends with it (it reads its commands until their end).
        let gone = Date().addingTimeInterval(10)
        while Date() < gone && !Set(Harness.processes(mentioning: "def time_loop")).isDisjoint(with: child) { usleep(20_000) }
        XCTAssertTrue(Set(Harness.processes(mentioning: "def time_loop")).isDisjoint(with: child), "its reference outlived it")
    }

    /// Ctrl-C in `bench transport`: exit 130 at once (it had run every case to the end and exited
    /// 0), its parameter server stopped.
    func testInterruptingTheTransportBenchExits130AndStopsItsParameterServer() throws {
        let tmp = Harness.temporaryDirectory("bench-transport-interrupt")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        // The ps's job folder (on its command line) goes under this TMPDIR.
        let (bench, _, err) = try Harness.start(["bench", "transport", "--sizes", "1", "--repeat", "1000", "--no-iperf"], environment: ["TMPDIR": tmp])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && bench.isRunning && Harness.processes(mentioning: tmp).isEmpty { usleep(20_000) }
        XCTAssertTrue(bench.isRunning, "the benchmark ended before its ps was seen")
        usleep(300_000)
        kill(bench.processIdentifier, SIGINT)
        XCTAssertTrue(Harness.waitForExit(bench, timeout: 60), "bench transport went on after Ctrl-C")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(bench.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("bench transport stopped by SIGINT"), stderr)
        XCTAssertEqual(Harness.waitForNoProcesses(mentioning: tmp, timeout: 10), [])
    }
}
