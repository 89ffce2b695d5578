import XCTest
@testable import TrainyardCore

final class SupervisorMachineTests: XCTestCase {
    let tasks: [TaskID] = [.chief(0), .worker(0), .ps(0)]

    func testChiefSuccessDrainsTheOthersThenSucceeds() {
        var s = SupervisorMachine(tasks: tasks, chief: .chief(0), policy: { _ in .never }, drainSeconds: 7)
        tasks.forEach { _ = s.handle(.started($0)) }
        XCTAssertEqual(s.handle(.exited(.chief(0), code: 0, description: "exit 0")), [.stopAll(grace: 7)])
        XCTAssertEqual(s.handle(.exited(.worker(0), code: 0, description: "exit 0")), [])
        XCTAssertEqual(s.handle(.exited(.ps(0), code: 143, description: "killed")), [.finish(JobOutcome(.succeeded, "chief-0 finished"))])
        XCTAssertEqual(s.outcome?.exitCode, .success)
    }

    func testNeverPolicyFailsTheJobNamingTheTask() {
        var s = SupervisorMachine(tasks: tasks, chief: .chief(0), policy: { _ in .never })
        tasks.forEach { _ = s.handle(.started($0)) }
        XCTAssertEqual(s.handle(.exited(.ps(0), code: 137, description: "killed by SIGKILL")), [.stopAll(grace: 0)])
        _ = s.handle(.exited(.worker(0), code: 143, description: "killed by SIGTERM"))
        let d = s.handle(.exited(.chief(0), code: 143, description: "killed by SIGTERM"))
        guard case .finish(let outcome)? = d.first else { return XCTFail() }
        XCTAssertEqual(outcome.status, .failed)
        XCTAssertTrue(outcome.reason.contains("ps-0 failed (killed by SIGKILL)"), outcome.reason)
    }

    func testOnFailureRestartsUpToTheBackoffLimit() {
        var s = SupervisorMachine(tasks: tasks, chief: .chief(0), policy: { _ in .onFailure }, backoffLimit: 2)
        tasks.forEach { _ = s.handle(.started($0)) }
        XCTAssertEqual(s.handle(.exited(.worker(0), code: 1, description: "exit 1")), [.restart(.worker(0), delay: 0.1)])
        _ = s.handle(.started(.worker(0)))
        XCTAssertEqual(s.handle(.exited(.worker(0), code: 137, description: "killed")), [.restart(.worker(0), delay: 0.2)])
        _ = s.handle(.started(.worker(0)))
        XCTAssertEqual(s.handle(.exited(.worker(0), code: 1, description: "exit 1")), [.stopAll(grace: 0)])
        XCTAssertEqual(s.tasks[.worker(0)]?.restarts, 2)
    }

    func testAChiefThatCouldNotSaveItsResultsFailsTheJobUnderEveryPolicy() {
        for policy in RestartPolicy.allCases {
            var s = SupervisorMachine(tasks: tasks, chief: .chief(0), policy: { _ in policy }, backoffLimit: 3)
            tasks.forEach { _ = s.handle(.started($0)) }
            _ = s.handle(.exited(.worker(0), code: 0, description: "exit 0"))
            _ = s.handle(.exited(.ps(0), code: 0, description: "exit 0"))
            let d = s.handle(.exited(.chief(0), code: 6, description: "exit 6: model not exported to /j/model: No space left on device"))
            guard case .finish(let outcome)? = d.first else { return XCTFail("\(policy): \(d)") }
            XCTAssertEqual(outcome.status, .failed, "\(policy)")
            XCTAssertEqual(outcome.exitCode, .failure, "\(policy)")
            XCTAssertTrue(outcome.reason.hasPrefix("chief-0 failed (exit 6: model not exported to /j/model: No space left on device); exit code 6 means the job cannot succeed"), outcome.reason)
        }
    }

    func testExitCodePolicy() {
        XCTAssertEqual(RestartPolicy.exitCode.decide(code: 1, counted: 0, backoffLimit: 3), .fail("exit code 1 is permanent under restart policy ExitCode (1–127)"))
        XCTAssertEqual(RestartPolicy.exitCode.decide(code: 137, counted: 99, backoffLimit: 3), .restart(counts: false))
        XCTAssertEqual(RestartPolicy.exitCode.decide(code: 0, counted: 0, backoffLimit: 3), .completed)
        XCTAssertEqual(RestartPolicy.always.decide(code: 0, counted: 0, backoffLimit: 3), .restart(counts: true))
        XCTAssertEqual(RestartPolicy.onFailure.decide(code: 0, counted: 0, backoffLimit: 3), .completed)
        XCTAssertEqual(RestartPolicy.never.decide(code: 2, counted: 0, backoffLimit: 3), .fail("restart policy Never"))
    }

    func testInvalidInputFailsTheJobAtOnceUnderEveryPolicy() {
        for policy in RestartPolicy.allCases {
            for failing in tasks {
                var s = SupervisorMachine(tasks: tasks, chief: .chief(0), policy: { _ in policy }, backoffLimit: 3)
                tasks.forEach { _ = s.handle(.started($0)) }
                XCTAssertEqual(s.handle(.exited(failing, code: 3, description: "exit 3")), [.stopAll(grace: 0)], "\(policy) \(failing)")
                XCTAssertEqual(s.tasks[failing]?.restarts, 0)
                var last: [SupervisorMachine.Directive] = []
                for other in tasks where other != failing { last = s.handle(.exited(other, code: 143, description: "killed by SIGTERM")) }
                guard case .finish(let outcome)? = last.first else { return XCTFail("\(policy) \(failing): \(last)") }
                XCTAssertEqual(outcome.status, .failed)
                XCTAssertEqual(outcome.exitCode, .invalidInput, "\(policy) \(failing)")
                XCTAssertTrue(outcome.reason.hasPrefix("\(failing) failed (exit 3); exit code 3 means invalid input"), outcome.reason)
                XCTAssertEqual(s.outcome, outcome)
            }
        }
    }

    func testInvalidInputOfTheLastRunningTaskFinishesAtOnce() {
        var s = SupervisorMachine(tasks: [.chief(0)], chief: .chief(0), policy: { _ in .always })
        _ = s.handle(.started(.chief(0)))
        let d = s.handle(.exited(.chief(0), code: 3, description: "exit 3: data.csv:4: column 1 (\"b\"): \"NaN\" is not a finite number"))
        guard case .finish(let outcome)? = d.first, d.count == 1 else { return XCTFail("\(d)") }
        XCTAssertEqual(outcome.exitCode, .invalidInput)
        XCTAssertTrue(outcome.reason.contains("chief-0 failed (exit 3: data.csv:4"), outcome.reason)
    }

    func testOnFailureStillRetriesOtherCodesAndFailsWithExitCode1() {
        var s = SupervisorMachine(tasks: tasks, chief: .chief(0), policy: { _ in .onFailure }, backoffLimit: 1)
        tasks.forEach { _ = s.handle(.started($0)) }
        XCTAssertEqual(s.handle(.exited(.worker(0), code: 2, description: "exit 2")), [.restart(.worker(0), delay: 0.1)])
        _ = s.handle(.started(.worker(0)))
        XCTAssertEqual(s.handle(.exited(.worker(0), code: 4, description: "exit 4")), [.stopAll(grace: 0)])
        _ = s.handle(.exited(.ps(0), code: 143, description: "killed"))
        guard case .finish(let outcome)? = s.handle(.exited(.chief(0), code: 143, description: "killed")).first else { return XCTFail() }
        XCTAssertEqual(outcome.exitCode, .failure)
    }

    func testExitCode3IsPermanentUnderEveryPolicy() {
        for policy in RestartPolicy.allCases {
            guard case .fail(let why) = policy.decide(code: 3, counted: 0, backoffLimit: 3) else { return XCTFail("\(policy)") }
            XCTAssertTrue(why.contains("invalid input"), why)
        }
        XCTAssertEqual(RestartPolicy.exitCode.decide(code: 4, counted: 0, backoffLimit: 3), .fail("exit code 4 is permanent under restart policy ExitCode (1–127)"))
        XCTAssertEqual(RestartPolicy.always.decide(code: 1, counted: 0, backoffLimit: 3), .restart(counts: true))
    }

    func testRoleErrorLineIsOneLineAndReadBack() {
        XCTAssertEqual(TaskLog.errorLine("d.csv:3: bad\nsecond line\r\n  third "), "error: d.csv:3: bad; second line; third\n")
        let log = "[   0.001s chief-0] starting\n" + TaskLog.errorLine("imgs: header.dims[1]: is 0") + "\n"
        XCTAssertEqual(TaskLog.errorReason(inLog: log), "imgs: header.dims[1]: is 0")
        XCTAssertNil(TaskLog.errorReason(inLog: "[   0.001s chief-0] step 5\n"))
        XCTAssertNil(TaskLog.errorReason(inLog: ""))
    }

    func testInterruptCancelsWithShellExitCode() {
        var s = SupervisorMachine(tasks: tasks, chief: .chief(0), policy: { _ in .onFailure })
        tasks.forEach { _ = s.handle(.started($0)) }
        XCTAssertEqual(s.handle(.interrupted(signal: 2)), [.stopAll(grace: 0)])
        // Exits while stopping are not restarted.
        XCTAssertEqual(s.handle(.exited(.worker(0), code: 130, description: "exit 130")), [])
        _ = s.handle(.exited(.ps(0), code: 130, description: "exit 130"))
        guard case .finish(let o)? = s.handle(.exited(.chief(0), code: 130, description: "exit 130")).first else { return XCTFail() }
        XCTAssertEqual(o.status, .cancelled)
        XCTAssertEqual(o.exitCode, .interrupted)
    }
}
