import Foundation
import Glibc
import XCTest
import CTrainyardSupport
@testable import TrainyardCore
@testable import TrainyardPlatform

/// Same-host connections move large arrays through shared memory (Docs/wire-protocol.md#shared-memory):
/// the frames arrive as they were sent, a region is reused only once the peer has copied the last
/// frame out, and whatever a peer sends about regions that is not what a Trainyard task sends is
/// refused without harm.
final class SharedMemoryTests: XCTestCase {
    private func uniqueName() -> String { "trainyard-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))/shm" }

    /// A client connection and the server's accepted connection over a local socket; the server's
    /// is authenticated unless `authenticated` is false.
    private func pair(authenticated: Bool = true, sharedMemory: Bool = true) throws -> (client: FrameConnection, server: FrameConnection, listener: Socket) {
        // A connection reads the switch when it is made.
        if !sharedMemory { setenv(RoleEnvironment.sharedMemory, "0", 1) }
        defer { if !sharedMemory { unsetenv(RoleEnvironment.sharedMemory) } }
        let name = uniqueName()
        let listener = try Socket.listenLocal(name: name)
        let socket = try Socket.connectLocal(name: name, deadline: .after(seconds: 5))
        let accepted = try XCTUnwrap(listener.accept(until: .after(seconds: 5)))
        let server = FrameConnection(accepted: accepted, shaper: nil, limits: WireLimits(), refusals: nil)
        if authenticated { server.authenticate(as: .worker(0)) }
        return (FrameConnection(socket: socket, peer: .ps(0)), server, listener)
    }

    private func push(_ n: Int, seed: Float) -> Frame {
        Frame(requestID: 7, incarnation: 2, message: .push(Push(baseStep: 41, gradients: (0..<n).map { Float($0) * seed }, returnValues: true)))
    }

    func testPushesAndRepliesGoThroughSharedMemoryAndArriveAsSent() throws {
        let (client, server, listener) = try pair()
        defer { client.close(); server.close(); listener.close() }
        // A push, its reply with values, a second push (the region reused), a larger one (a new region).
        for (k, n) in [10_000, 10_000, 600_000].enumerated() {
            let sent = push(n, seed: Float(k + 1))
            try client.send(sent, until: .after(seconds: 5))
            XCTAssertEqual(try server.receive(until: .after(seconds: 5)), sent)
            let reply = Frame(requestID: 7, message: .pushReply(PushReply(globalStep: 42, applied: true, done: false, values: (0..<n).map { -Float($0) })))
            try server.send(reply, until: .after(seconds: 5))
            XCTAssertEqual(try client.receive(until: .after(seconds: 5)), reply)
        }
        XCTAssertEqual(client.regionFramesSent, 3)
        XCTAssertEqual(server.regionFramesReceived, 3)
        XCTAssertEqual(server.regionFramesSent, 3)
        XCTAssertEqual(client.regionFramesReceived, 3)
        // A push written from pieces (as a trainer writes its shards) arrives whole too.
        let flat = (0..<20_000).map { Float($0) }
        let ranges = [0..<5_000, 12_000..<20_000]
        let head = FrameCodec.pushHead(requestID: 9, incarnation: 2, deadlineMillis: 0, baseStep: 3, returnValues: false, count: 13_000)
        try flat.withUnsafeBytes { raw in
            try client.send(head: head, pieces: ranges.map { UnsafeRawBufferPointer(rebasing: raw[($0.lowerBound * 4)..<($0.upperBound * 4)]) }, until: .after(seconds: 5))
        }
        let got = try server.receive(until: .after(seconds: 5))
        XCTAssertEqual(got.message, .push(Push(baseStep: 3, gradients: Array(flat[0..<5_000]) + Array(flat[12_000..<20_000]), returnValues: false)))
        XCTAssertEqual(client.regionFramesSent, 4)
    }

    /// A trainer's receive puts a reply's values straight into its pieces of the model, from the
    /// region and from the socket alike; an answer to another request, or with another count,
    /// keeps its values and leaves the model alone.
    func testReplyValuesArePlacedInTheModelsPiecesOnlyForTheAwaitedAnswer() throws {
        for shared in [true, false] {
            let (client, server, listener) = try pair(sharedMemory: shared)
            defer { client.close(); server.close(); listener.close() }
            let ranges = [0..<5_000, 12_000..<20_000]
            var model = [Float](repeating: -1, count: 20_000)
            func receive(_ id: UInt32) throws -> Frame {
                try model.withUnsafeMutableBufferPointer { m in
                    try client.receive(until: .after(seconds: 5), placingValues: .init(base: m.baseAddress!, ranges: ranges, requestID: id))
                }
            }
            let values = (0..<13_000).map { Float($0) + 0.5 }
            // The answer awaited: values in place, the message without them, the other fields kept.
            try server.send(Frame(requestID: 9, incarnation: 3, message: .pushReply(PushReply(globalStep: 77, applied: true, done: false, values: values))), until: .after(seconds: 5))
            XCTAssertEqual(try receive(9), Frame(requestID: 9, incarnation: 3, message: .pushReply(PushReply(globalStep: 77, applied: true, done: false, values: []))))
            XCTAssertTrue(client.valuesPlaced)
            XCTAssertEqual(Array(model[0..<5_000]), Array(values[0..<5_000]), "shared \(shared)")
            XCTAssertEqual(Array(model[5_000..<12_000]), [Float](repeating: -1, count: 7_000), "the gap between the pieces is not written")
            XCTAssertEqual(Array(model[12_000..<20_000]), Array(values[5_000...]))
            XCTAssertEqual(client.regionFramesReceived, shared ? 1 : 0)
            // A pull reply with slots after its values: the slots still arrive.
            let pull = Frame(requestID: 10, message: .pullReply(Parameters(globalStep: 78, done: true, values: values.map { -$0 }, slots: [[1, 2, 3]])))
            try server.send(pull, until: .after(seconds: 5))
            XCTAssertEqual(try receive(10), Frame(requestID: 10, message: .pullReply(Parameters(globalStep: 78, done: true, values: [], slots: [[1, 2, 3]]))))
            XCTAssertEqual(model[12_000], -values[5_000])
            // An answer to another request, and one with another count: values kept, model untouched.
            let before = model
            let stale = Frame(requestID: 4, message: .pushReply(PushReply(globalStep: 70, applied: true, done: false, values: values)))
            try server.send(stale, until: .after(seconds: 5))
            XCTAssertEqual(try receive(11), stale)
            XCTAssertFalse(client.valuesPlaced)
            let other = Frame(requestID: 11, message: .pushReply(PushReply(globalStep: 79, applied: true, done: false, values: Array(values[0..<12_999]))))
            try server.send(other, until: .after(seconds: 5))
            XCTAssertEqual(try receive(11), other)
            XCTAssertEqual(model, before)
        }
    }

    /// A push copied out of a region is checked as it is copied: a finite one arrives marked so
    /// (the ps skips its own scan), one with a NaN or ∞ arrives unmarked, for the ps to refuse.
    func testAPushIsCheckedFiniteAsItArrivesFromARegionOrTheSocket() throws {
        for shared in [true, false] {
            let (client, server, listener) = try pair(sharedMemory: shared)
            defer { client.close(); server.close(); listener.close() }
            // Over the socket, larger than one checked piece, the bad value in the last piece.
            let n = shared ? 9_000 : FrameConnection.checkedPiece * 2 + 100
            for position in [nil, 3, n - 3] {
                for bad in [Float.nan, .infinity] {
                    var gradients = (0..<n).map { Float($0) / 100 }
                    if let position { gradients[position] = bad }
                    try client.send(Frame(requestID: 1, message: .push(Push(baseStep: 1, gradients: gradients))), until: .after(seconds: 5))
                    let got = try server.receive(until: .after(seconds: 5))
                    guard case .push(let p) = got.message else { return XCTFail("\(got.message.name)") }
                    XCTAssertEqual(p.gradientsKnownFinite, position == nil, "shared \(shared): \(bad) at \(String(describing: position))")
                    XCTAssertEqual(p.gradients.map(\.bitPattern), gradients.map(\.bitPattern))
                }
            }
            XCTAssertEqual(server.regionFramesReceived, shared ? 6 : 0)
        }
    }

    func testARegionIsNotWrittenAgainBeforeThePeerCopiedTheLastFrameOut() throws {
        let (client, server, listener) = try pair()
        defer { client.close(); server.close(); listener.close() }
        // Two pushes before the server reads either: the second cannot use the region (the first
        // is still in it), so it goes whole over the socket, and both arrive as sent.
        let first = push(8_192, seed: 1), second = push(8_192, seed: 3)
        try client.send(first, until: .after(seconds: 5))
        try client.send(second, until: .after(seconds: 5))
        XCTAssertEqual(client.regionFramesSent, 1)
        XCTAssertEqual(try server.receive(until: .after(seconds: 5)), first)
        XCTAssertEqual(try server.receive(until: .after(seconds: 5)), second)
        // Once it was copied out, the region is free again.
        try client.send(second, until: .after(seconds: 5))
        XCTAssertEqual(client.regionFramesSent, 2)
        XCTAssertEqual(try server.receive(until: .after(seconds: 5)), second)
    }

    /// A ps's connection lends a push's gradients from the trainer's region (`Push.lent`) rather
    /// than copying them out, and keeps the region the ps's until it gives them back (or sends or
    /// receives again): until then the trainer's next push cannot overwrite them and goes over
    /// the socket. Other frames, and pushes over the socket, arrive as before.
    func testAPsConnectionLendsAPushesGradientsUntilItGivesThemBack() throws {
        let (client, server, listener) = try pair()
        defer { client.close(); server.close(); listener.close() }
        server.lendsPushGradients = true
        let first = push(8_192, seed: 1), second = push(8_192, seed: 3)
        try client.send(first, until: .after(seconds: 5))
        let got = try server.receive(until: .after(seconds: 5))
        guard case .push(let p) = got.message, case .push(let sent) = first.message, let lent = p.lent else { return XCTFail("\(got.message.name) without lent gradients") }
        XCTAssertEqual(p.gradients, [])
        XCTAssertEqual(p.gradientCount, 8_192)
        XCTAssertEqual(got.requestID, first.requestID)
        XCTAssertEqual(p.baseStep, sent.baseStep)
        XCTAssertEqual(p.returnValues, sent.returnValues)
        XCTAssertEqual(p.copyingLentGradients(), sent)
        // Not given back yet: the next push cannot use the region, and the lent gradients hold.
        try client.send(second, until: .after(seconds: 5))
        XCTAssertEqual(client.regionFramesSent, 1)
        XCTAssertEqual(UnsafeBufferPointer(start: lent.base.assumingMemoryBound(to: Float.self), count: lent.count).map(\.bitPattern), sent.gradients.map(\.bitPattern))
        XCTAssertEqual(try server.receive(until: .after(seconds: 5)), second)  // over the socket: copied, not lent
        // Given back (the receive above did): the region takes the next push again.
        try client.send(second, until: .after(seconds: 5))
        XCTAssertEqual(client.regionFramesSent, 2)
        guard case .push(let again) = try server.receive(until: .after(seconds: 5)).message, again.lent != nil else { return XCTFail("not lent") }
        server.returnLentGradients()
        try client.send(first, until: .after(seconds: 5))
        XCTAssertEqual(client.regionFramesSent, 3)
        // A reply sent on the connection gives the region back too.
        _ = try server.receive(until: .after(seconds: 5))
        try server.send(Frame(requestID: 7, message: .pushReply(PushReply(globalStep: 1, applied: true, done: false))), until: .after(seconds: 5))
        _ = try client.receive(until: .after(seconds: 5))
        try client.send(second, until: .after(seconds: 5))
        XCTAssertEqual(client.regionFramesSent, 4)
    }

    func testTheSwitchTurnsSharedMemoryOff() throws {
        setenv(RoleEnvironment.sharedMemory, "0", 1)
        defer { unsetenv(RoleEnvironment.sharedMemory) }
        let (client, server, listener) = try pair()
        defer { client.close(); server.close(); listener.close() }
        let sent = push(10_000, seed: 2)
        try client.send(sent, until: .after(seconds: 5))
        XCTAssertEqual(try server.receive(until: .after(seconds: 5)), sent)
        XCTAssertEqual(client.regionFramesSent, 0)
    }

    /// Sends raw bytes on the client's socket, optionally with a descriptor attached.
    private func raw(_ bytes: [UInt8], on connection: FrameConnection, attaching fd: Int32? = nil) throws {
        if let fd { try connection.socket.write(bytes, attaching: fd, until: .after(seconds: 5)) } else { try connection.socket.write(bytes, until: .after(seconds: 5)) }
    }

    private func assertRefused(_ server: FrameConnection, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try server.receive(until: .after(seconds: 5)), file: file, line: line) { error in
            guard let e = error as? FrameError, case .malformed(_, let reason) = e else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(reason.contains(expected), reason, file: file, line: line)
        }
    }

    func testAFrameFlaggedForSharedMemoryWithoutARegionIsRefused() throws {
        let (client, server, listener) = try pair()
        defer { client.close(); server.close(); listener.close() }
        let head = FrameCodec.pushHead(requestID: 1, incarnation: 0, deadlineMillis: 0, baseStep: 0, returnValues: false, count: 5_000)
        try raw(FrameCodec.regionHead(head, tailCount: 0, generation: 1), on: client)
        assertRefused(server, "without a shared region")
    }

    func testARegionThatCouldShrinkIsRefused() throws {
        let (client, server, listener) = try pair()
        defer { client.close(); server.close(); listener.close() }
        // A plain file (no seals): its owner could truncate it under our mapping.
        var template = Array((NSTemporaryDirectory() + "/trainyard-unsealed-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        XCTAssertGreaterThanOrEqual(fd, 0)
        unlink(String(cString: template))
        defer { Glibc.close(fd) }
        XCTAssertEqual(ftruncate(fd, 1 << 20), 0)
        try raw(FrameCodec.regionAnnouncement(size: 1 << 20), on: client, attaching: fd)
        assertRefused(server, "not a sealed memory file")
    }

    func testARegionOfAnotherSizeThanAnnouncedOrWithoutItsDescriptorIsRefused() throws {
        do {
            let (client, server, listener) = try pair()
            defer { client.close(); server.close(); listener.close() }
            let fd = ty_region_create(1 << 20)
            defer { Glibc.close(fd) }
            try raw(FrameCodec.regionAnnouncement(size: 4 << 20), on: client, attaching: fd)
            assertRefused(server, "announced")
        }
        do {
            let (client, server, listener) = try pair()
            defer { client.close(); server.close(); listener.close() }
            try raw(FrameCodec.regionAnnouncement(size: 1 << 20), on: client)
            assertRefused(server, "without its size or its descriptor")
        }
    }

    func testAFrameAnnouncingMoreValuesThanItsRegionHoldsIsRefused() throws {
        let (client, server, listener) = try pair()
        defer { client.close(); server.close(); listener.close() }
        let fd = ty_region_create(1 << 20)
        defer { Glibc.close(fd) }
        try raw(FrameCodec.regionAnnouncement(size: 1 << 20), on: client, attaching: fd)
        let head = FrameCodec.pushHead(requestID: 1, incarnation: 0, deadlineMillis: 0, baseStep: 0, returnValues: false, count: 1 << 20)
        try raw(FrameCodec.regionHead(head, tailCount: 0, generation: 1), on: client)
        assertRefused(server, "the shared region holds")
    }

    func testARegionBeforeHelloIsRefused() throws {
        let (client, server, listener) = try pair(authenticated: false)
        defer { client.close(); server.close(); listener.close() }
        let fd = ty_region_create(1 << 20)
        defer { Glibc.close(fd) }
        try raw(FrameCodec.regionAnnouncement(size: 1 << 20), on: client, attaching: fd)
        assertRefused(server, "before hello")
    }

    func testAServerSendsNoRegionBeforeHello() throws {
        let (client, server, listener) = try pair(authenticated: false)
        defer { client.close(); server.close(); listener.close() }
        let reply = Frame(requestID: 1, message: .pullReply(Parameters(globalStep: 1, done: false, values: [Float](repeating: 0.5, count: 10_000))))
        try server.send(reply, until: .after(seconds: 5))
        XCTAssertEqual(try client.receive(until: .after(seconds: 5)), reply)
        XCTAssertEqual(server.regionFramesSent, 0)
    }
}
