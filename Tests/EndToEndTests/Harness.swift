import Foundation
import XCTest
@testable import TrainyardCore

/// Runs the built executables as a user would, and checks what they leave behind.
enum Harness {
    /// The folder holding the built products (next to the test bundle).
    static var binDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while !FileManager.default.fileExists(atPath: dir + "/trainyard") && dir != "/" {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }

    static func temporaryDirectory(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "trainyard-e2e-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A temporary TRAINYARD_HOME and, inside it, a folder for the command's TMPDIR: the job
    /// folders it makes there are named on its roles' command lines, so its processes can be found.
    static func temporaryHomeAndTMPDIR(_ name: String) -> (home: String, tmp: String) {
        let home = temporaryDirectory(name)
        try? FileManager.default.createDirectory(atPath: home + "/tmp", withIntermediateDirectories: true)
        return (home, home + "/tmp")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `trainyard ARGS` (or another product) and returns the running process.
    static func start(_ arguments: [String], product: String = "trainyard", environment: [String: String] = [:], directory: String? = nil) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDirectory + "/" + product)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    /// Runs to completion (killing it after `timeout` seconds) and collects its output.
    static func run(_ arguments: [String], product: String = "trainyard", environment: [String: String] = [:], directory: String? = nil, timeout: Double = 120) throws -> Result {
        let (p, out, err) = try start(arguments, product: product, environment: environment, directory: directory)
        let outData = Locked(Data()), errData = Locked(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData.set(out.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData.set(err.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            XCTFail("\(product) \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        p.waitUntilExit()
        group.wait()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self), stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// Pids of live processes whose command line mentions `marker` (a job folder), other than us.
    static func processes(mentioning marker: String) -> [Int32] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != me,
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let cmdline = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            guard cmdline.contains(marker) else { return nil }
            // Zombies are dead already; only count running processes.
            if let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
               let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { return nil }
            return pid
        }
    }

    /// Waits until no process mentions `marker`; returns the survivors after `timeout`.
    static func waitForNoProcesses(mentioning marker: String, timeout: Double) -> [Int32] {
        let deadline = Date().addingTimeInterval(timeout)
        var left = processes(mentioning: marker)
        while !left.isEmpty && Date() < deadline {
            usleep(50_000)
            left = processes(mentioning: marker)
        }
        return left
    }

    /// Waits up to `timeout` seconds for `p` to exit; kills it (SIGKILL) if it has not, so a
    /// regression fails the test instead of hanging the suite. Whether it exited by itself.
    @discardableResult
    static func waitForExit(_ p: Process, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        let byItself = !p.isRunning
        if !byItself { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return byItself
    }

    /// The job folders named `prefix…` on the command lines of the processes mentioning `marker`
    /// (a trainyard-calibrate-N or trainyard-validate-N/R-C folder, say): which jobs are running.
    static func jobFolders(mentioning marker: String, prefix: String) -> Set<String> {
        var found = Set<String>()
        for pid in processes(mentioning: marker) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            for argument in data.split(separator: 0).map({ String(decoding: $0, as: UTF8.self) }) {
                guard let r = argument.range(of: prefix) else { continue }
                found.insert(String(argument[r.lowerBound...].prefix { $0 != " " }))
            }
        }
        return found
    }

    /// The parent of process `pid` (from /proc/PID/stat), nil when it is gone.
    static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// Whether process `pid` (its main thread) is blocked waiting for input now: in read(2),
    /// poll(2) or ppoll(2) (/proc/PID/syscall: x86-64's numbers 0, 7 and 271; aarch64's 63 and 73).
    /// `fd`: only a read of that descriptor counts.
    static func isWaitingForInput(_ pid: Int32, fd: Int? = nil) -> Bool {
        #if arch(x86_64)
        let (read, polls) = (0, [7, 271])
        #else
        let (read, polls) = (63, [73])
        #endif
        let fields = ((try? String(contentsOfFile: "/proc/\(pid)/syscall", encoding: .utf8)) ?? "").split(separator: " ")
        guard let call = fields.first.flatMap({ Int($0) }) else { return false }
        if call == read { return fd.map { fields.count > 1 && fields[1] == "0x" + String($0, radix: 16) } ?? true }
        return polls.contains(call)  // its descriptors are behind a pointer
    }

    static func json(_ path: String) throws -> JSONValue {
        try JSONParser.parse(String(contentsOfFile: path, encoding: .utf8))
    }

    /// A small, fast job: the flags every end-to-end run shares.
    static let smallJob = ["--hidden", "16", "--features", "8", "--classes", "3", "--examples", "3000", "--batch-size", "32",
                           "--learning-rate", "0.05", "--checkpoint-every", "50", "--eval-every", "100", "--log-every", "10"]
}

final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
}
