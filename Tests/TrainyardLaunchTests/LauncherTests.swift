import Foundation
import Synchronization
import XCTest
import TrainyardCore
import TrainyardPlatform
@testable import TrainyardLaunch

/// Processes that exist only in the test: each spawn gets a pid, and a script decides when (in
/// reap calls) and how each incarnation of a task ends. Signals end a process as they would.
final class FakeProcesses: ProcessControl, @unchecked Sendable {
    struct Process {
        var task: String
        var incarnation: Int
        var request: SpawnRequest
        var ending: Termination?
        var reapsLeft: Int
        var reaped = false
    }

    /// For a task's n-th start (0-based): after how many reap polls it ends, and how.
    var script: (_ task: String, _ incarnation: Int) -> (polls: Int, ending: Termination)?
    /// What the task writes to its log as it ends.
    var lastLogLine: (_ task: String, _ incarnation: Int) -> String? = { _, _ in nil }
    private(set) var processes: [Int32: Process] = [:]
    private(set) var signals: [(task: String, signal: Int32)] = []
    private var nextPid: Int32 = 10_000
    private var starts: [String: Int] = [:]

    init(script: @escaping (_ task: String, _ incarnation: Int) -> (polls: Int, ending: Termination)?) {
        self.script = script
    }

    func executableExists(_ path: String) -> Bool { true }

    func spawn(_ request: SpawnRequest) throws -> Int32 {
        let task = ((request.outputPath ?? "?") as NSString).lastPathComponent.replacingOccurrences(of: ".log", with: "")
        let n = starts[task, default: 0]
        starts[task] = n + 1
        nextPid += 1
        let planned = script(task, n)
        processes[nextPid] = Process(task: task, incarnation: n, request: request, ending: planned?.ending, reapsLeft: planned?.polls ?? Int.max)
        return nextPid
    }

    func reap(_ pid: Int32) -> (termination: Termination, peakRSSBytes: Int)? {
        guard var p = processes[pid], !p.reaped else { return nil }
        if p.reapsLeft > 0 && p.reapsLeft != Int.max { p.reapsLeft -= 1 }
        processes[pid] = p
        guard p.reapsLeft == 0, let ending = p.ending else { return nil }
        if let line = lastLogLine(p.task, p.incarnation), let path = p.request.outputPath {
            try? Files.writeAtomically(line + "\n", to: path, durable: false)
        }
        p.reaped = true
        processes[pid] = p
        return (ending, 1 << 20)
    }

    func signalGroup(_ pid: Int32, _ signal: Int32) {
        guard var p = processes[pid], !p.reaped else { return }
        signals.append((p.task, signal))
        if signal == Signals.terminate || signal == Signals.kill {
            p.ending = .signaled(signal)
            p.reapsLeft = 0
            processes[pid] = p
        }
    }

    func starts(of task: String) -> Int { starts[task, default: 0] }
    var running: [String] { processes.values.filter { !$0.reaped }.map(\.task).sorted() }
}

final class LauncherTests: XCTestCase {
    func launcher(workers: Int = 1, ps: Int = 1, policy: RestartPolicy = .onFailure, _ fake: FakeProcesses) throws -> (Launcher, String) {
        var settings = LaunchSettings()
        settings.topology = Topology(workers: workers, parameterServers: ps)
        let dir = NSTemporaryDirectory() + "trainyard-launcher-test-\(UInt32.random(in: 0...UInt32.max))"
        settings.jobDirectory = dir
        settings.restartPolicy = policy
        var options = Launcher.Options()
        options.showProgress = false
        options.drainSeconds = 0
        options.killGrace = 0.1
        return (try Launcher(settings: settings, options: options, processes: fake), dir)
    }

    func testTheJobFollowsTheChiefAndTheRestAreStopped() throws {
        // The chief finishes; the worker and ps never end on their own.
        let fake = FakeProcesses { task, _ in task == "chief-0" ? (3, .exited(0)) : nil }
        let (launcher, dir) = try launcher(fake)
        defer { Files.remove(dir) }
        let summary = try launcher.run()
        XCTAssertEqual(summary.outcome.status, .succeeded, summary.outcome.reason)
        XCTAssertEqual(fake.running, [], "every process was stopped and reaped")
        XCTAssertEqual(Set(fake.signals.filter { $0.signal == Signals.terminate }.map(\.task)), ["worker-0", "ps-0"])
        XCTAssertTrue(Files.exists(dir + "/summary.json"))
    }

    func testAFailedWorkerIsRestartedUnderOnFailure() throws {
        // worker-0's first process fails; its second runs until the chief finishes.
        let fake = FakeProcesses { task, n in
            switch (task, n) {
            case ("worker-0", 0): return (2, .exited(1))
            case ("chief-0", _): return (20, .exited(0))
            default: return nil
            }
        }
        let (launcher, dir) = try launcher(fake)
        defer { Files.remove(dir) }
        let summary = try launcher.run()
        XCTAssertEqual(summary.outcome.status, .succeeded, summary.outcome.reason)
        XCTAssertEqual(fake.starts(of: "worker-0"), 2)
        XCTAssertEqual(summary.tasks.first { $0.task == .worker(0) }?.restarts, 1)
    }

    func testNeverPolicyFailsTheJobWithTheTaskNamed() throws {
        let fake = FakeProcesses { task, _ in task == "ps-0" ? (2, .signaled(Signals.kill)) : nil }
        let (launcher, dir) = try launcher(policy: .never, fake)
        defer { Files.remove(dir) }
        let summary = try launcher.run()
        XCTAssertEqual(summary.outcome.status, .failed)
        XCTAssertTrue(summary.outcome.reason.contains("ps-0"), summary.outcome.reason)
        XCTAssertEqual(fake.starts(of: "ps-0"), 1)
        XCTAssertEqual(fake.running, [])
    }

    func testInvalidInputIsNotRetriedAndItsReasonIsQuoted() throws {
        let fake = FakeProcesses { task, _ in task == "chief-0" ? (2, .exited(3)) : nil }
        fake.lastLogLine = { task, _ in task == "chief-0" ? "error: data.csv:7: column 2 (\"y\"): \"oops\" is not a number" : nil }
        let (launcher, dir) = try launcher(fake)
        defer { Files.remove(dir) }
        let summary = try launcher.run()
        XCTAssertEqual(summary.outcome.status, .failed)
        XCTAssertEqual(summary.outcome.exitCode, .invalidInput)
        XCTAssertTrue(summary.outcome.reason.contains("data.csv:7"), summary.outcome.reason)
        XCTAssertEqual(fake.starts(of: "chief-0"), 1, "an input that cannot change is not retried")
    }

    func testEveryTaskGetsItsOwnTFConfigAndTheRoleArguments() throws {
        let fake = FakeProcesses { task, _ in task == "chief-0" ? (1, .exited(0)) : nil }
        let (launcher, dir) = try launcher(workers: 2, ps: 2, fake)
        defer { Files.remove(dir) }
        _ = try launcher.run()
        let requests = fake.processes.values.map(\.request)
        XCTAssertEqual(requests.count, 5)
        var seen: [TaskID] = []
        for r in requests {
            let config = try TFConfig(parsing: XCTUnwrap(r.environment[RoleEnvironment.tfConfig]))
            seen.append(config.task.id)
            XCTAssertEqual(config.cluster.addresses(of: .ps).count, 2)
            XCTAssertEqual(r.environment[RoleEnvironment.token], launcher.token)
            XCTAssertTrue(r.arguments.contains("--max-steps"), "\(r.arguments)")
        }
        XCTAssertEqual(seen.sorted(), [.chief(0), .worker(0), .worker(1), .ps(0), .ps(1)].sorted())
    }
}
