import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

final class FilesAndProcessesTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "trainyard-test-\(UInt32.random(in: 0...UInt32.max))"
        try Files.createDirectory(dir)
    }

    override func tearDown() { Files.remove(dir) }

    func testAtomicWriteLeavesNoTemporaryFiles() throws {
        try Files.writeAtomically("one", to: dir + "/f.txt")
        try Files.writeAtomically("two", to: dir + "/f.txt")
        XCTAssertEqual(try Files.readText(dir + "/f.txt"), "two")
        XCTAssertEqual(Files.list(dir), ["f.txt"])
        XCTAssertThrowsError(try Files.writeAtomically("x", to: dir + "/missing/f.txt"))
    }

    func testCreateDirectoryMakesEveryFolderAndNamesTheFileInTheWay() throws {
        try Files.createDirectory(dir + "/a/b/c")
        XCTAssertTrue(Files.isDirectory(dir + "/a/b/c"))
        try Files.createDirectory(dir + "/a/b/c")  // already there: nothing to do
        try Files.writeAtomically("x", to: dir + "/a/file")
        XCTAssertThrowsError(try Files.createDirectory(dir + "/a/file/jobs/j1")) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains(dir + "/a/file (a file is in the way), making " + dir + "/a/file/jobs/j1"), m)
            XCTAssertTrue(m.contains("Not a directory"), m)
        }
        XCTAssertThrowsError(try Files.createDirectory(dir + "/a/file")) { e in XCTAssertTrue("\(e)".contains("a file is in the way"), "\(e)") }
        // A link to a folder is a folder; a link to nothing is named as such.
        try FileManager.default.createSymbolicLink(atPath: dir + "/to-b", withDestinationPath: dir + "/a/b")
        try Files.createDirectory(dir + "/to-b/d")
        XCTAssertTrue(Files.isDirectory(dir + "/a/b/d"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: dir + "/unmounted/disk")
        XCTAssertThrowsError(try Files.createDirectory(dir + "/dangling/jobs")) { e in
            XCTAssertTrue("\(e)".contains(dir + "/dangling (a link that leads to no folder is in the way)"), "\(e)")
        }
    }

    func testClaimDirectoryIsTrueForTheOneCallerThatMadeIt() throws {
        XCTAssertTrue(try Files.claimDirectory(dir + "/sweeps/s-1"))  // the folder above made too
        XCTAssertTrue(Files.isDirectory(dir + "/sweeps/s-1"))
        XCTAssertFalse(try Files.claimDirectory(dir + "/sweeps/s-1"))
        // Any other thing of that name takes it too: a file, a link that leads nowhere.
        try Files.writeAtomically("x", to: dir + "/sweeps/s-2")
        XCTAssertFalse(try Files.claimDirectory(dir + "/sweeps/s-2"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/sweeps/s-3", withDestinationPath: dir + "/nowhere")
        XCTAssertFalse(try Files.claimDirectory(dir + "/sweeps/s-3"))
        XCTAssertFalse(Files.exists(dir + "/nowhere"))
        // A file above it is the system's error, named.
        XCTAssertThrowsError(try Files.claimDirectory(dir + "/sweeps/s-2/x")) { e in XCTAssertTrue("\(e)".contains("s-2 (a file is in the way)"), "\(e)") }
    }

    func testCheckpointStoreKeepsNewestAndFallsBackFromDamage() throws {
        let store = CheckpointStore(directory: dir + "/checkpoints")
        let arch = MLPArchitecture(inputs: 2, hidden: [3], classes: 2)
        for step in [10, 20, 30, 40] {
            try store.save(Checkpoint(globalStep: Int64(step), incarnation: 1, architecture: arch, parameters: arch.initialParameters(seed: UInt64(step))), keep: 3)
        }
        XCTAssertEqual(store.checkpointNames(), ["ckpt-00000020.tyckpt", "ckpt-00000030.tyckpt", "ckpt-00000040.tyckpt"])
        XCTAssertEqual(store.pointedName(), "ckpt-00000040.tyckpt")
        XCTAssertEqual(store.latestValid()?.checkpoint.globalStep, 40)

        // Truncate the newest: the previous one is used, and the damage is reported.
        let newest = dir + "/checkpoints/ckpt-00000040.tyckpt"
        let bytes = try Files.read(newest)
        try Files.writeAtomically(Array(bytes.prefix(bytes.count - 9)), to: newest)
        let found = store.latestValid()
        XCTAssertEqual(found?.checkpoint.globalStep, 30)
        XCTAssertEqual(found?.skipped.first?.path, newest)

        // A pointer to a missing file falls back too.
        try Files.writeAtomically("ckpt-00000099.tyckpt\n", to: store.pointerPath)
        XCTAssertEqual(store.latestValid()?.checkpoint.globalStep, 30)
    }

    func testSpawnReportsExitCodesAndSignals() throws {
        let out = dir + "/out.log"
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "echo hello $X; exit 3"], environment: ["X": "there"], outputPath: out))
        XCTAssertEqual(ProcessSpawner.wait(pid, timeout: 10), .exited(3))
        XCTAssertEqual(try Files.readText(out), "hello there\n")

        let sleeper = try ProcessSpawner.spawn(SpawnRequest(executable: "/bin/sleep", arguments: ["30"]))
        XCTAssertNil(ProcessSpawner.reap(sleeper))
        ProcessSpawner.signalGroup(sleeper, Signals.kill)
        let t = ProcessSpawner.wait(sleeper, timeout: 10)
        XCTAssertEqual(t, .signaled(9))
        XCTAssertEqual(t?.code, 137)
    }

    func testPollReapsOnlyThePidItIsGivenAndReportsItsPeakMemory() throws {
        // A child that has ended, and one that is still running.
        let quick = try ProcessSpawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "exit 4"]))
        let sleeper = try ProcessSpawner.spawn(SpawnRequest(executable: "/bin/sleep", arguments: ["30"]))
        var killed: (termination: Termination, peakRSSBytes: Int)?
        defer { if killed == nil { ProcessSpawner.signalGroup(sleeper, Signals.kill); _ = ProcessSpawner.wait(sleeper, timeout: 10) } }
        let ended = Deadline.after(seconds: 10)
        while Posix.processExists(quick) && !Self.isZombie(quick) && !ended.hasPassed { MonotonicClock.sleep(seconds: 0.01) }
        XCTAssertTrue(Self.isZombie(quick), "the quick child should have ended by now")

        // Polling the sleeper neither reports it nor reaps the child that has ended.
        let running = ProcessSpawner.reap(sleeper)
        XCTAssertNil(running)
        XCTAssertTrue(Self.isZombie(quick), "poll(sleeper) reaped another child")

        let reaped = ProcessSpawner.reap(quick)
        let result = try XCTUnwrap(reaped)
        XCTAssertEqual(result.termination, .exited(4))
        XCTAssertGreaterThan(result.peakRSSBytes, 0)
        // Reaped once: asking again finds no such child.
        let again = ProcessSpawner.reap(quick)
        XCTAssertNil(again)

        ProcessSpawner.signalGroup(sleeper, Signals.kill)
        let deadline = Deadline.after(seconds: 10)
        while killed == nil && !deadline.hasPassed {
            if let (termination, maxRSS) = ProcessSpawner.reap(sleeper) { killed = (termination, maxRSS) }
            MonotonicClock.sleep(seconds: 0.01)
        }
        XCTAssertEqual(killed?.termination, .signaled(9))
    }

    /// Whether `pid` has ended and waits to be reaped (state Z in /proc).
    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? Files.readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")"),
              stat.index(close, offsetBy: 2) < stat.endIndex else { return false }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    func testMachineLimitsAndProcessStartTimes() throws {
        XCTAssertEqual(MachineLimits.availableMemoryBytes(meminfo: "MemTotal:       16314516 kB\nMemFree:  1 kB\nMemAvailable:    8056932 kB\n"), 8_056_932 * 1024)
        XCTAssertNil(MachineLimits.availableMemoryBytes(meminfo: "MemTotal: 1 kB\n"))
        XCTAssertEqual(MachineLimits.cacheSize("1024K\n"), 1 << 20)
        XCTAssertEqual(MachineLimits.cacheSize("2M"), 2 << 20)
        XCTAssertEqual(MachineLimits.cacheSize("512"), 512)
        XCTAssertNil(MachineLimits.cacheSize("K"))
        XCTAssertNil(MachineLimits.cacheSize("-4K"))
        XCTAssertNil(MachineLimits.cacheSize(""))
        XCTAssertGreaterThan(MachineLimits.availableMemoryBytes(), 0)
        XCTAssertGreaterThan(try MachineLimits.descriptorLimit(), 3)

        let mine = try XCTUnwrap(ProcessTable.startTicks(of: Posix.getpid()))
        XCTAssertEqual(ProcessTable.startTicks(of: Posix.getpid()), mine, "stable for one process")
        // A child that exited and was reaped holds no pid; an unreaped one (a zombie) is not alive.
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "exit 0"]))
        let deadline = Deadline.after(seconds: 10)
        while !deadline.hasPassed, ProcessTable.startTicks(of: pid) != nil { MonotonicClock.sleep(seconds: 0.01) }
        XCTAssertNil(ProcessTable.startTicks(of: pid), "a zombie is dead")
        _ = ProcessSpawner.wait(pid, timeout: 5)
        XCTAssertNil(ProcessTable.startTicks(of: pid))
    }

    func testSpawnPassesDescriptors() throws {
        let listener = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let out = dir + "/fd.log"
        // The child sees the socket as descriptor 3.
        let pid = try ProcessSpawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "ls -l /proc/self/fd/3"], outputPath: out, inherited: [listener.fd]))
        XCTAssertEqual(ProcessSpawner.wait(pid, timeout: 10), .exited(0))
        XCTAssertTrue(try Files.readText(out).contains("socket:"))
    }

    /// Each passed descriptor arrives as itself, whatever numbers they had here: the second one
    /// sitting where the first was first moved to (100) had been overwritten by it, so a launcher
    /// with 50 ps gave ps-40 its TCP listener as its Unix-domain one.
    func testSpawnPassesDescriptorsWhateverTheirNumbers() throws {
        try "a".write(toFile: dir + "/a", atomically: true, encoding: .utf8)
        try "b".write(toFile: dir + "/b", atomically: true, encoding: .utf8)
        for (first, second) in [(Int32(100), Int32(101)), (Int32(101), Int32(100)), (Int32(150), Int32(100)), (Int32(103), Int32(102))] {
            // Opened afresh each time: a read moves the offset every copy of a descriptor shares.
            let a = try Posix.open(dir + "/a", O_RDONLY), b = try Posix.open(dir + "/b", O_RDONLY)
            defer { Posix.close(a); Posix.close(b) }
            // Numbers this test process does not use (it must not take over one it does).
            guard fcntl(first, F_GETFD) == -1, fcntl(second, F_GETFD) == -1 else {
                throw XCTSkip("descriptor \(first) or \(second) is in use in this test process")
            }
            XCTAssertEqual(dup2(a, first), first)
            XCTAssertEqual(dup2(b, second), second)
            let out = dir + "/fds-\(first)-\(second).log"
            let pid = try ProcessSpawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "cat <&3; cat <&4"], outputPath: out, inherited: [first, second]))
            let ended = ProcessSpawner.wait(pid, timeout: 30)
            if ended == nil { kill(pid, SIGKILL); _ = ProcessSpawner.wait(pid, timeout: 5) }
            XCTAssertEqual(ended, .exited(0))
            XCTAssertEqual(try Files.readText(out), "ab", "descriptors \(first) and \(second)")
            close(first)
            close(second)
        }
    }
}

import Foundation
