import Foundation
import XCTest
import TrainyardCore
import TrainyardPlatform
@testable import TrainyardLaunch

/// Buckets and submits against links and failures: no operation leaves its bucket, and a failed
/// submit leaves no folder behind.
final class HardenedStorageTests: XCTestCase {
    var home = ""

    override func setUpWithError() throws {
        home = NSTemporaryDirectory() + "trainyard-home-\(UInt32.random(in: 0...UInt32.max))"
        try Files.createDirectory(home + "/buckets/bkt")
    }

    override func tearDown() { Files.remove(home) }

    private func escape(_ uri: String, followingLink: Bool = true) -> String? {
        do { _ = try BucketStorage.localPath(of: try StorageURI(parsing: uri), home: home, followingLink: followingLink); return nil }
        catch { return "\(error)" }
    }

    func testALinkInsideABucketCannotReachOutsideIt() throws {
        try Files.createDirectory(home + "/outside")
        try Files.writeAtomically("secret", to: home + "/outside/secret.txt")
        try Files.createDirectory(home + "/buckets/bkt/in")
        try Files.writeAtomically("mine", to: home + "/buckets/bkt/in/mine.txt")
        XCTAssertEqual(symlink(home + "/outside", home + "/buckets/bkt/out"), 0)
        XCTAssertEqual(symlink("../../../outside/secret.txt", home + "/buckets/bkt/in/s.txt"), 0)
        XCTAssertEqual(symlink("mine.txt", home + "/buckets/bkt/in/alias.txt"), 0)

        XCTAssertNil(escape("gs://bkt/in/mine.txt"))
        XCTAssertNil(escape("gs://bkt/in/alias.txt"), "a link to a file of the same bucket is fine")
        XCTAssertNil(escape("gs://bkt/in/new/deeper/file.txt"), "a write below a real folder is fine")
        XCTAssertNil(escape("gs://other/x"), "a bucket not made yet is fine")
        // cat / cp from: through a link to a file outside.
        XCTAssertTrue(escape("gs://bkt/in/s.txt")?.contains("may not leave its bucket") == true)
        // cp to / cat: through a linked folder, existing or not.
        XCTAssertNotNil(escape("gs://bkt/out/secret.txt"))
        XCTAssertNotNil(escape("gs://bkt/out/new.txt"))
        XCTAssertNotNil(escape("gs://bkt/out/new/deeper.txt"))
        // rm acts on the link itself, but never through a linked folder.
        XCTAssertNil(escape("gs://bkt/out", followingLink: false))
        XCTAssertNotNil(escape("gs://bkt/out/secret.txt", followingLink: false))
        // A bucket folder that is itself a link.
        XCTAssertEqual(symlink(home + "/outside", home + "/buckets/linked"), 0)
        XCTAssertTrue(escape("gs://linked/secret.txt")?.contains("not a plain folder") == true)
        // Home.localPath (job dirs, staging, packages) applies the same check.
        XCTAssertThrowsError(try withHome { try Home.localPath("gs://bkt/out/job") })
    }

    func testWalksDoNotFollowLinksSoALoopEnds() throws {
        try Files.createDirectory(home + "/buckets/bkt/a")
        try Files.writeAtomically("x", to: home + "/buckets/bkt/a/f.txt")
        XCTAssertEqual(symlink("..", home + "/buckets/bkt/a/loop"), 0)
        let walked = BucketStorage.walk(home + "/buckets/bkt", recursive: true)
        XCTAssertEqual(walked.map(\.path), ["a/f.txt", "a/loop"])
        XCTAssertEqual(walked.map(\.isLink), [false, true])
        XCTAssertEqual(BucketStorage.entries(home + "/buckets/bkt", recursive: true).map(\.0), ["a/f.txt"])
    }

    func testAFailedSubmitLeavesNoJobFolderInTheBucket() throws {
        try Files.createDirectory(home + "/pkg/trainer")
        try Files.writeAtomically("print(1)", to: home + "/pkg/trainer/task.py")
        XCTAssertEqual(symlink(home + "/outside", home + "/pkg/data"), 0)
        var spec = JobSpec()
        spec.jobDir = "gs://bkt/jobs/j1"
        spec.command = "true"
        spec.packagePath = home + "/pkg"
        spec.workers = 0
        spec.parameterServers = 0
        XCTAssertThrowsError(try withHome { try JobService.submit(name: "j1", spec: spec, template: nil) }) { error in
            XCTAssertTrue("\(error)".contains("data: a symbolic link"), "\(error)")
        }
        XCTAssertFalse(Files.exists(home + "/buckets/bkt/jobs/j1"))
        XCTAssertFalse(Files.exists(home + "/jobs/j1"))
    }

    private func withHome<T>(_ body: () throws -> T) throws -> T {
        let old = Posix.environment("TRAINYARD_HOME")
        setenv("TRAINYARD_HOME", home, 1)
        setenv("TRAINYARD_TIERS", ExecutablesAndCatalogTests.repository + "/ScaleTiers", 1)
        defer { if let old { setenv("TRAINYARD_HOME", old, 1) } else { unsetenv("TRAINYARD_HOME") } }
        return try body()
    }
}
