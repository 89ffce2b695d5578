import Foundation
import XCTest
@testable import TrainyardCore
@testable import TrainyardPlatform

/// Packaging, unpacking and checkpoints against hostile files: each test is the case a user
/// reported, now refused or handled.
final class HardenedFilesTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "trainyard-hardened-\(UInt32.random(in: 0...UInt32.max))"
        try Files.createDirectory(dir)
    }

    override func tearDown() {
        _ = Signals.take()
        Files.remove(dir)
    }

    private func write(_ text: String, _ path: String) throws {
        try Files.createDirectory((dir + "/" + path as NSString).deletingLastPathComponent)
        try Files.writeAtomically(text, to: dir + "/" + path)
    }

    private func scanError(_ package: String) -> String {
        do { _ = try Packager.scan(package); return "no error" } catch { return "\(error)" }
    }

    func testACRLFGcloudignoreKeepsSecretsOut() throws {
        try write("secrets.env\r\nbig.bin\r\n", "pkg/.gcloudignore")
        try write("x", "pkg/secrets.env")
        try write("x", "pkg/big.bin")
        try write("print(1)", "pkg/trainer/task.py")
        XCTAssertEqual(try Packager.scan(dir + "/pkg").files, [".gcloudignore", "trainer/task.py"])
        // A rules file that is a link inside the package still applies; one leading outside is not read.
        try write("secrets.env\r\nbig.bin\r\n", "pkg/ignore-rules")
        Files.remove(dir + "/pkg/.gcloudignore")
        XCTAssertEqual(symlink("ignore-rules", dir + "/pkg/.gcloudignore"), 0)
        XCTAssertEqual(try Packager.scan(dir + "/pkg").files, [".gcloudignore", "ignore-rules", "trainer/task.py"])
        try write("*.py\n", "outside-rules")
        try write("#!include:../outside-rules\nsecrets.env\nbig.bin\n", "pkg/ignore-rules")
        XCTAssertEqual(try Packager.scan(dir + "/pkg").files, [".gcloudignore", "ignore-rules", "trainer/task.py"])
    }

    func testLinksInsideThePackageAreKeptAsLinksAndLinksOutsideAreRefusedByName() throws {
        try write("print(1)", "pkg/trainer/task.py")
        try write("secret", "outside/secret.txt")
        XCTAssertEqual(symlink("trainer/task.py", dir + "/pkg/main.py"), 0)
        XCTAssertEqual(symlink(".", dir + "/pkg/trainer/loop"), 0)
        let package = try Packager.scan(dir + "/pkg")
        XCTAssertEqual(package.files, ["main.py", "trainer/loop", "trainer/task.py"])
        XCTAssertEqual(package.links, ["main.py", "trainer/loop"])
        // The archive holds the links as links, and unpacks to the same tree.
        try Packager.archive(package, from: dir + "/pkg", to: dir + "/pkg.tar.gz")
        try Packager.extract(dir + "/pkg.tar.gz", into: dir + "/task")
        XCTAssertEqual(Posix.readLink(dir + "/task/pkg/main.py"), "trainer/task.py")
        XCTAssertEqual(try Files.readText(dir + "/task/pkg/main.py"), "print(1)")

        XCTAssertEqual(symlink(dir + "/outside", dir + "/pkg/data"), 0)
        XCTAssertTrue(scanError(dir + "/pkg").contains("data: a symbolic link that points to the absolute path"), scanError(dir + "/pkg"))
        Files.remove(dir + "/pkg/data")
        XCTAssertEqual(symlink("../outside", dir + "/pkg/data"), 0)
        XCTAssertTrue(scanError(dir + "/pkg").contains("data: a symbolic link that points outside the package (../outside)"), scanError(dir + "/pkg"))
        // Listed in .gcloudignore, it is no longer looked at.
        try write("data\n", "pkg/.gcloudignore")
        XCTAssertEqual(try Packager.scan(dir + "/pkg").files, [".gcloudignore", "main.py", "trainer/loop", "trainer/task.py"])
    }

    func testAnArchiveWithALinkLeadingOutsideIsRefusedAndRemoved() throws {
        try Files.createDirectory(dir + "/evil")
        XCTAssertEqual(symlink("/etc", dir + "/evil/etc"), 0)
        let made = try ProcessSpawner.spawn(SpawnRequest(executable: "/usr/bin/env", arguments: ["tar", "-czf", dir + "/evil.tar.gz", "-C", dir, "evil"],
                                                         environment: [:], outputPath: dir + "/tar.log"))
        XCTAssertEqual(ProcessSpawner.wait(made, timeout: 30), .exited(0))
        XCTAssertThrowsError(try Packager.extract(dir + "/evil.tar.gz", into: dir + "/task")) { error in
            XCTAssertTrue("\(error)".contains("evil/etc that leads outside it"), "\(error)")
        }
        XCTAssertFalse(Files.exists(dir + "/task"))
    }

    func testPackagingAndUnpackingStopOnASignalAndLeaveNothing() throws {
        Signals.install()
        try write("print(1)", "pkg/trainer/task.py")
        let package = try Packager.scan(dir + "/pkg")
        try Packager.archive(package, from: dir + "/pkg", to: dir + "/pkg.tar.gz")

        raise(SIGTERM)
        XCTAssertEqual(Signals.pending, SIGTERM)
        let start = MonotonicClock.now()
        XCTAssertThrowsError(try Packager.scan(dir + "/pkg")) { XCTAssertTrue($0 is Signals.Interrupted, "\($0)") }
        XCTAssertThrowsError(try Packager.archive(package, from: dir + "/pkg", to: dir + "/again.tar.gz")) { XCTAssertTrue($0 is Signals.Interrupted, "\($0)") }
        XCTAssertThrowsError(try Packager.extract(dir + "/pkg.tar.gz", into: dir + "/task")) { XCTAssertTrue($0 is Signals.Interrupted, "\($0)") }
        XCTAssertLessThan(MonotonicClock.now() - start, 1.0)
        XCTAssertFalse(Files.exists(dir + "/again.tar.gz"))
        XCTAssertFalse(Files.exists(dir + "/task"))
        XCTAssertEqual(Signals.take(), SIGTERM)

        // A signal arriving while tar runs stops it too (tar is polled every 20 ms).
        try write(String(repeating: "x", count: 1 << 20), "big/a.bin")
        let big = try Packager.scan(dir + "/big")
        startThread(name: "late-signal") { MonotonicClock.sleep(seconds: 0.05); raise(SIGINT) }
        let began = MonotonicClock.now()
        do {
            for i in 0..<200 { try Packager.archive(big, from: dir + "/big", to: dir + "/big-\(i).tar.gz") }
            XCTFail("200 archives and no signal")
        } catch {
            XCTAssertTrue(error is Signals.Interrupted, "\(error)")
        }
        XCTAssertLessThan(MonotonicClock.now() - began, 5.0)
        XCTAssertEqual(Signals.take(), SIGINT)
    }

    func testACopyIsWholeAndAPendingSignalLeavesTheTargetAsItWas() throws {
        // 3.5 MB of varied bytes: four pieces, the last one short. (A signal arriving between two
        // pieces is the end-to-end test's: `storage cp` of 1 GiB stopped mid-file.)
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<(3 * (1 << 20) + 12_345)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try Files.writeAtomically(bytes, to: dir + "/big.bin")
        try Files.copyRegularFile(dir + "/big.bin", to: dir + "/copy.bin", during: "copying")
        XCTAssertEqual(try Files.read(dir + "/copy.bin"), bytes)
        try Files.writeAtomically([UInt8](), to: dir + "/empty.bin")
        try Files.copyRegularFile(dir + "/empty.bin", to: dir + "/empty-copy.bin", during: "copying")
        XCTAssertEqual(try Files.read(dir + "/empty-copy.bin"), [])

        // A signal pending: nothing is written, the old target stays whole, no temporary file is left.
        try Files.writeAtomically(Array("old".utf8), to: dir + "/target.bin")
        Signals.install()
        raise(SIGTERM)
        XCTAssertThrowsError(try Files.copyRegularFile(dir + "/big.bin", to: dir + "/target.bin", during: "the test's copy")) { error in
            XCTAssertEqual(error as? Signals.Interrupted, Signals.Interrupted(signal: SIGTERM, during: "the test's copy"))
        }
        XCTAssertEqual(Signals.take(), SIGTERM)
        XCTAssertEqual(try Files.read(dir + "/target.bin"), Array("old".utf8))
        XCTAssertEqual(Files.list(dir).filter { $0.contains(".tmp-") }, [])

        // A FIFO is refused, never waited on.
        XCTAssertEqual(mkfifo(dir + "/pipe", 0o600), 0)
        XCTAssertThrowsError(try Files.copyRegularFile(dir + "/pipe", to: dir + "/pipe-copy", during: "copying")) { error in
            XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
        }
        XCTAssertFalse(Files.exists(dir + "/pipe-copy"))
    }

    func testLatestMustNameAFileOfItsOwnFolder() throws {
        let arch = MLPArchitecture(inputs: 2, hidden: [3], classes: 2)
        let mine = CheckpointStore(directory: dir + "/mine/checkpoints")
        let theirs = CheckpointStore(directory: dir + "/theirs/checkpoints")
        try mine.save(Checkpoint(globalStep: 10, incarnation: 1, architecture: arch, parameters: arch.initialParameters(seed: 1)), keep: 3)
        try theirs.save(Checkpoint(globalStep: 90, incarnation: 1, architecture: arch, parameters: arch.initialParameters(seed: 2)), keep: 3)
        for pointer in ["../../theirs/checkpoints/ckpt-00000090.tyckpt", dir + "/theirs/checkpoints/ckpt-00000090.tyckpt"] {
            try Files.writeAtomically(pointer + "\n", to: mine.pointerPath)
            XCTAssertNil(mine.pointedName())
            let (found, skipped) = mine.search()
            XCTAssertEqual(found?.checkpoint.globalStep, 10)
            XCTAssertEqual(found?.path, dir + "/mine/checkpoints/ckpt-00000010.tyckpt")
            XCTAssertTrue(skipped.first?.reason.contains("not a file of") == true, "\(skipped)")
        }
        // A checkpoint-named link to another job's file is not one of ours either.
        XCTAssertEqual(symlink(dir + "/theirs/checkpoints/ckpt-00000090.tyckpt", dir + "/mine/checkpoints/ckpt-00000095.tyckpt"), 0)
        try Files.writeAtomically("ckpt-00000095.tyckpt\n", to: mine.pointerPath)
        XCTAssertEqual(mine.latestValid()?.checkpoint.globalStep, 10)
    }

    func testRemoveEmptyFoldersKeepsFilesAndNeverFollowsLinks() throws {
        try Files.createDirectory(dir + "/job/packages/abc")
        XCTAssertTrue(Files.removeEmptyFolders(dir + "/job"))
        XCTAssertFalse(Files.exists(dir + "/job"))
        try write("pkg", "job/packages/abc/p.tar.gz")
        try Files.createDirectory(dir + "/job/empty")
        try Files.createDirectory(dir + "/elsewhere/inner")
        XCTAssertEqual(symlink(dir + "/elsewhere", dir + "/job/link"), 0)
        XCTAssertFalse(Files.removeEmptyFolders(dir + "/job"))
        XCTAssertEqual(Files.list(dir + "/job"), ["link", "packages"])
        XCTAssertTrue(Files.exists(dir + "/elsewhere/inner"))
    }
}
