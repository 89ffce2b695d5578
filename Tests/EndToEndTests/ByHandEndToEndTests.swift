import Foundation
import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

/// The role executables started by hand, as a Kubeflow TFJob pod starts them: no launcher, a
/// TF_CONFIG of host names from the environment, the job token from a mounted file.
final class ByHandEndToEndTests: XCTestCase {
    /// A role process whose stdout and stderr go to files (a pipe nobody reads would block it).
    private final class Role {
        let name: String
        let process = Process()
        let stdoutPath: String
        let stderrPath: String
        init(_ name: String, product: String, arguments: [String], environment: [String: String], directory: String) throws {
            self.name = name
            stdoutPath = directory + "/\(name).out"
            stderrPath = directory + "/\(name).err"
            _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: Harness.binDirectory + "/" + product)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            // Nothing of a launcher: no parent to watch, no socket handed over, no token variable.
            for key in [RoleEnvironment.parentPID, RoleEnvironment.listenFD, RoleEnvironment.token, RoleEnvironment.tokenFile,
                        RoleEnvironment.listenHost, RoleEnvironment.faultFile, RoleEnvironment.bandwidth] { env[key] = nil }
            for (k, v) in environment { env[k] = v }
            process.environment = env
            process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
            process.standardError = FileHandle(forWritingAtPath: stderrPath)
            try process.run()
        }
        var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
        /// Waits for the exit; nil when it still runs after `timeout` seconds.
        func wait(timeout: Double) -> Int32? {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { return nil }
            process.waitUntilExit()
            return process.terminationStatus
        }
        func kill(_ signal: Int32 = SIGKILL) {
            if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
        }
    }

    /// Free ports: bound on port 0, then closed (nothing else on this machine takes them meanwhile
    /// in practice; the roles bind them themselves, as they would in their pods).
    private func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Socket] = []
        defer { sockets.forEach { $0.close() } }
        for _ in 0..<count { sockets.append(try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))) }
        return sockets.map(\.localAddress.port)
    }

    private func tfConfig(chief: Int, workers: [Int], ps: [Int], task: String, index: Int) -> String {
        let list = { (ports: [Int]) in ports.map { "\"localhost:\($0)\"" }.joined(separator: ", ") }
        return #"{"cluster": {"chief": [\#(list([chief]))], "worker": [\#(list(workers))], "ps": [\#(list(ps))]}, "#
            + #""task": {"type": "\#(task)", "index": \#(index)}, "environment": "cloud"}"#
    }

    func testRolesStartedByHandWithHostNamesAndATokenFileTrainToTheEndAndThePSServesOnUntilKilled() throws {
        let dir = Harness.temporaryDirectory("by-hand")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let jobDir = dir + "/job"
        // The token as a mounted Secret holds it: one line, ending with a newline.
        let tokenPath = dir + "/token"
        try "by-hand-secret-\(UInt32.random(in: 0...UInt32.max))\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)

        let ports = try freePorts(4)
        let args = Harness.smallJob + ["--max-steps", "300", "--startup-timeout", "60", "--job-dir", jobDir]
        var roles: [Role] = []
        defer {
            for role in roles { role.kill() }
            for role in roles { _ = role.wait(timeout: 10) }
        }
        func start(_ task: String, _ index: Int) throws -> Role {
            let role = try Role("\(task)-\(index)", product: "trainyard-\(task)", arguments: args, environment: [
                RoleEnvironment.tfConfig: tfConfig(chief: ports[0], workers: [ports[1], ports[2]], ps: [ports[3]], task: task, index: index),
                RoleEnvironment.tokenFile: tokenPath,
            ], directory: dir)
            roles.append(role)
            return role
        }
        // The trainers first: the ps is not up yet, and they must wait for it, not fail.
        let chief = try start("chief", 0)
        let workers = [try start("worker", 0), try start("worker", 1)]
        MonotonicClock.sleep(seconds: 1)
        XCTAssertTrue(chief.process.isRunning, "the chief gave up before the ps came: \(chief.stderr)")
        let ps = try start("ps", 0)

        guard let chiefStatus = chief.wait(timeout: 180) else {
            return XCTFail("the chief did not finish in 180 s:\n\(chief.stdout.suffix(3000))\n\(ps.stdout.suffix(2000))")
        }
        XCTAssertEqual(chiefStatus, 0, chief.stderr)
        // Logs go to stdout and stderr (there is no launcher to collect them into files).
        XCTAssertTrue(chief.stdout.contains("finished at global step 300"), String(chief.stdout.suffix(2000)))
        XCTAssertTrue(chief.stdout.contains("model written to \(jobDir)/model"), String(chief.stdout.suffix(2000)))
        XCTAssertTrue(FileManager.default.fileExists(atPath: jobDir + "/model"), "no model under --job-dir")
        XCTAssertFalse(((try? FileManager.default.contentsOfDirectory(atPath: jobDir + "/checkpoints")) ?? []).isEmpty, "no checkpoint under --job-dir")
        for worker in workers {
            XCTAssertEqual(worker.wait(timeout: 30), 0, "\(worker.name): \(worker.stderr)")
        }

        // The ps never exits on its own without the launcher: it is still there, serving, after the chief's shutdown.
        let deadline = Date().addingTimeInterval(30)
        while !ps.stdout.contains("serving on until stopped") && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(ps.stdout.contains("serving on until stopped"), ps.stdout)
        MonotonicClock.sleep(seconds: 0.5)
        XCTAssertTrue(ps.process.isRunning, "the ps exited on its own: \(ps.stdout.suffix(1000)) \(ps.stderr)")
        // It still answers, and tells a late task the job is over.
        let token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .newlines)
        let late = PeerClient(server: .ps(0), address: HostPort(host: "127.0.0.1", port: ports[3]), hello: Hello(token: token, task: .worker(1)))
        XCTAssertEqual(try late.connect(until: .after(seconds: 10)).done, true, "a late task is not told the job is done")
        late.disconnect()
        // Stopped (as cleanPodPolicy stops a pod): SIGTERM, exit 0.
        ps.kill(SIGTERM)
        XCTAssertEqual(ps.wait(timeout: 30), 0, ps.stdout.suffix(1000) + ps.stderr)
    }

    func testATrainerNamesThePSThatNeverAnsweredWhenTheStartupTimeoutRunsOut() throws {
        let dir = Harness.temporaryDirectory("by-hand-silent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ports = try freePorts(3)
        // Nothing listens on the ps's port: every connection is refused until the timeout.
        let worker = try Role("worker-0", product: "trainyard-worker",
                              arguments: Harness.smallJob + ["--max-steps", "10", "--startup-timeout", "2", "--rpc-timeout", "0.5", "--job-dir", dir + "/job"],
                              environment: [RoleEnvironment.tfConfig: tfConfig(chief: ports[0], workers: [ports[1]], ps: [ports[2]], task: "worker", index: 0),
                                            RoleEnvironment.token: "t"], directory: dir)
        defer { worker.kill(); _ = worker.wait(timeout: 10) }
        XCTAssertEqual(worker.wait(timeout: 60), ExitCode.clusterError.rawValue, worker.stdout + worker.stderr)
        // The log's last line, on stdout, names the ps, its address and how it failed.
        let last = worker.stdout.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertEqual(last, "error: gave up after 2 s: ps-0 (localhost:\(ports[2])) never answered: connection refused", worker.stdout)
    }

    func testATokenFileOrListenHostThatCannotBeUsedStopsTheRoleWithAUsageErrorNamingIt() throws {
        let dir = Harness.temporaryDirectory("by-hand-usage")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freePorts(1)[0]
        let config = #"{"cluster": {"ps": ["localhost:\#(port)"]}, "task": {"type": "ps", "index": 0}, "environment": "cloud"}"#
        let cases: [([String: String], String)] = [
            ([RoleEnvironment.tokenFile: dir + "/missing"], "TRAINYARD_JOB_TOKEN_FILE: cannot read the job token from \(dir)/missing"),
            ([RoleEnvironment.tokenFile: dir + "/empty"], "\(dir)/empty is empty"),
            ([RoleEnvironment.tokenFile: dir + "/token", RoleEnvironment.token: "other"], "give different job tokens"),
            ([RoleEnvironment.token: "t", RoleEnvironment.listenHost: "0.0.0.0:2222"], "the port always comes from TF_CONFIG"),
        ]
        try "\n".write(toFile: dir + "/empty", atomically: true, encoding: .utf8)
        try "secret\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        for (index, (environment, expected)) in cases.enumerated() {
            var env = environment
            env[RoleEnvironment.tfConfig] = config
            let role = try Role("ps-\(index)", product: "trainyard-ps", arguments: [], environment: env, directory: dir)
            defer { role.kill(); _ = role.wait(timeout: 10) }
            XCTAssertEqual(role.wait(timeout: 30), ExitCode.invalidInput.rawValue, "\(environment): \(role.stderr)")
            XCTAssertTrue(role.stderr.contains(expected), "\(environment): \(role.stderr)")
        }
    }
}
