import Glibc
import Synchronization
import TrainyardCore

/// A connection that carries Trainyard frames: one `Socket`, framed by `FrameCodec`.
///
/// Every send and receive has a deadline. Outgoing bytes pass through the `NetworkShaper` the
/// connection was given (bandwidth emulation and injected network faults), if any.
///
/// A server's connection (one a `FrameServer` accepted) also carries the server's `WireLimits`:
/// `receiveRequest` reads a hello-sized frame within the handshake deadline until the handler
/// calls `authenticate(as:)`, then frames up to the handler's limit within the idle deadline.
public final class FrameConnection: @unchecked Sendable {
    public let socket: Socket
    /// The task at the other end, when known (used by the shaper to apply per-link faults).
    public var peer: TaskID?
    public let payloadLimit: Int
    /// The emulated network this connection's traffic passes through; nil = unshaped.
    public let shaper: NetworkShaper?
    /// The peer's address, for logs.
    public let remoteAddress: HostPort
    /// The limits of the server that accepted the connection, and where it reports refusals.
    let limits: WireLimits
    let refusals: RefusalReporter?
    /// When the connection was accepted (`MonotonicClock` seconds).
    public let acceptedAt: Double
    private let authenticatedFlag = Atomic<Bool>(false)
    /// Whether this end may send large Float arrays through a shared region (a Unix-domain
    /// connection, unless `TRAINYARD_SHARED_MEMORY=0`); off for good once a region cannot be made.
    private var sharedMemory: Bool
    /// A server's connection (it accepted): it takes the peer's region only after the hello.
    private let isServerSide: Bool
    /// This end's region (written by the sending thread only) and the generation sent last.
    private var sendRegion: SharedRegion?
    private var sentGeneration: UInt64 = 0
    /// The peer's region (read by the receiving thread only).
    private var peerRegion: SharedRegion?
    /// Frames whose array went through a shared region, sent and received (for tests and profiles),
    /// on this connection and in this process.
    public private(set) var regionFramesSent = 0
    public private(set) var regionFramesReceived = 0
    public static let processRegionFrames = Atomic<Int>(0)
    /// Whether a push that arrives through the peer's region comes back with its gradients lent
    /// (`Push.lent`, left in the region) rather than copied out. For a handler that uses each frame
    /// before it sends or receives again on the connection, from one thread: a ps's.
    public var lendsPushGradients = false
    /// The peer's region and the generation of the frame lent from it, not yet given back.
    private var lent: (region: SharedRegion, generation: UInt64)?

    /// Whether same-host connections may move arrays through shared memory: not when
    /// `TRAINYARD_SHARED_MEMORY` is `0` (`trainyard train --no-shared-memory`).
    public static var sharedMemoryAllowed: Bool {
        guard let v = getenv(RoleEnvironment.sharedMemory) else { return true }
        return String(cString: v) != "0"
    }

    public init(socket: Socket, peer: TaskID? = nil, payloadLimit: Int = FrameCodec.defaultPayloadLimit, shaper: NetworkShaper? = nil) {
        self.socket = socket
        self.peer = peer
        self.payloadLimit = payloadLimit
        self.shaper = shaper
        self.remoteAddress = HostPort(host: "?", port: 0)
        self.limits = WireLimits()
        self.refusals = nil
        self.acceptedAt = MonotonicClock.now()
        self.sharedMemory = socket.isLocal && FrameConnection.sharedMemoryAllowed
        self.isServerSide = false
    }

    init(accepted socket: Socket, shaper: NetworkShaper?, limits: WireLimits, refusals: RefusalReporter?) {
        self.socket = socket
        self.peer = nil
        self.payloadLimit = FrameCodec.defaultPayloadLimit
        self.shaper = shaper
        self.remoteAddress = socket.remoteAddress
        self.limits = limits
        self.refusals = refusals
        self.acceptedAt = MonotonicClock.now()
        self.sharedMemory = socket.isLocal && FrameConnection.sharedMemoryAllowed
        self.isServerSide = true
    }

    /// Whether the peer's hello was welcomed (set by the handler with `authenticate(as:)`).
    public var isAuthenticated: Bool { authenticatedFlag.load(ordering: .acquiring) }

    /// Records that the connection's hello was welcomed as `task`: from now on it may send frames
    /// up to the handler's limit, and is no longer the first to go when the server is full.
    public func authenticate(as task: TaskID) {
        peer = task
        authenticatedFlag.store(true, ordering: .releasing)
    }

    /// Gives the region of a lent push back to the peer (it may write its next frame there):
    /// the gradients `Push.lent` points to must not be read after this. Sending and receiving
    /// on the connection do it first.
    public func returnLentGradients() {
        guard let l = lent else { return }
        l.region.markConsumed(l.generation)
        lent = nil
    }

    public func send(_ frame: Frame, until deadline: Deadline) throws(SocketError) {
        if lendsPushGradients { returnLentGradients() }
        let counters = TimeCounters.process
        // A frame with a large Float array goes out from the array's own buffer (no frame copy).
        if let parts = counters.timeWithoutWaiting(.encode, { FrameCodec.parts(frame) }) {
            try shaper?.beforeSend(bytes: parts.count, to: peer, deadline: deadline)
            var failure: SocketError?
            var done = false
            parts.floats.withUnsafeBytes { floats in
                do throws(SocketError) { done = try sendThroughRegion(head: parts.head, pieces: [floats], tail: parts.tail, until: deadline) } catch { failure = error }
            }
            if let failure { throw failure }
            if done { return }
            counters.time(.send) {
                parts.head.withUnsafeBytes { head in
                    parts.floats.withUnsafeBytes { floats in
                        parts.tail.withUnsafeBytes { tail in
                            do throws(SocketError) { try socket.write(parts: [head, floats, tail], until: deadline) } catch { failure = error }
                        }
                    }
                }
            }
            if let failure { throw failure }
            return
        }
        let bytes = counters.timeWithoutWaiting(.encode) { FrameCodec.encode(frame) }
        try shaper?.beforeSend(bytes: bytes.count, to: peer, deadline: deadline)
        try counters.time(.send) { () throws(SocketError) in try socket.write(bytes, until: deadline) }
    }

    /// Sends a frame given as its first bytes (`head`, whose header announces the whole length)
    /// and the rest as buffers written where they lie (`FrameCodec.pushHead` and the pieces of a
    /// gradient array, say).
    public func send(head: [UInt8], pieces: [UnsafeRawBufferPointer], until deadline: Deadline) throws(SocketError) {
        if lendsPushGradients { returnLentGradients() }
        let total = head.count + pieces.reduce(0) { $0 + $1.count }
        try shaper?.beforeSend(bytes: total, to: peer, deadline: deadline)
        if try sendThroughRegion(head: head, pieces: pieces, tail: [], until: deadline) { return }
        var failure: SocketError?
        TimeCounters.process.time(.send) {
            head.withUnsafeBytes { h in
                do throws(SocketError) { try socket.write(parts: [h] + pieces, until: deadline) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// Sends a frame (its `head`, its array as `pieces`, its `tail`) through this end's shared
    /// region: the array copied into the region, the flagged head, the generation and the tail over
    /// the socket. Makes the region (and announces it, its descriptor attached) when there is none
    /// or it is too small. false when it cannot — not a same-host connection, not yet
    /// authenticated, arrays below `FrameCodec.partsThreshold`, or the peer has not copied out the
    /// last frame sent this way — and the caller sends the frame whole.
    private func sendThroughRegion(head: [UInt8], pieces: [UnsafeRawBufferPointer], tail: [UInt8], until deadline: Deadline) throws(SocketError) -> Bool {
        guard sharedMemory, !isServerSide || isAuthenticated else { return false }
        let bytes = pieces.reduce(0) { $0 + $1.count }
        guard bytes >= FrameCodec.partsThreshold * 4 else { return false }
        if sendRegion.map({ $0.capacity < bytes }) ?? true {
            let region: SharedRegion
            do throws(SystemError) { region = try SharedRegion.make(bytes: bytes) } catch {
                sharedMemory = false
                return false
            }
            try socket.write(FrameCodec.regionAnnouncement(size: region.size), attaching: region.fd, until: deadline)
            sendRegion = region
            sentGeneration = 0
        }
        guard let region = sendRegion, region.consumed == sentGeneration else { return false }
        let counters = TimeCounters.process
        var failure: SocketError?
        counters.time(.send) {
            var at = region.data
            for p in pieces where p.count > 0 {
                at.copyMemory(from: p.baseAddress!, byteCount: p.count)
                at += p.count
            }
            sentGeneration &+= 1
            let flagged = FrameCodec.regionHead(head, tailCount: tail.count, generation: sentGeneration)
            flagged.withUnsafeBytes { h in
                tail.withUnsafeBytes { t in
                    do throws(SocketError) { try socket.write(parts: t.isEmpty ? [h] : [h, t], until: deadline) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        regionFramesSent += 1
        FrameConnection.processRegionFrames.add(1, ordering: .relaxed)
        return true
    }

    /// Takes the peer's region from an announcement (`FrameCodec.regionTag`): only on a same-host
    /// connection, and on a server's only after the hello.
    private func adoptRegion(_ h: FrameCodec.Header, until deadline: Deadline) throws {
        let payload = try readBytes(h.payloadLength, until: deadline)
        let descriptor = socket.takeDescriptor()
        guard socket.isLocal, !isServerSide || isAuthenticated else {
            if let descriptor { Posix.close(descriptor) }
            throw FrameError.malformed(tag: h.tag, reason: socket.isLocal ? "a shared region before hello" : "a shared region over TCP")
        }
        guard h.payloadLength == 8, let descriptor else {
            if let descriptor { Posix.close(descriptor) }
            throw FrameError.malformed(tag: h.tag, reason: "a shared region's announcement without its size or its descriptor")
        }
        var r = ByteReader(payload)
        let size = (try? r.u64()) ?? 0
        peerRegion = try SharedRegion.adopt(fd: descriptor, announcedSize: Int(clamping: size), limit: payloadLimit)
    }

    /// Reads the rest of a frame whose array lies in the peer's region: copies the array out,
    /// then tells the peer the region is free (its generation), and decodes the frame as if it
    /// had come whole. Every figure is checked against the region and `limit` before use.
    private func receiveFromRegion(_ h: FrameCodec.Header, limit: Int, placing destination: ValuesDestination?, until deadline: Deadline) throws -> Frame {
        guard let region = peerRegion, let offset = FrameCodec.floatsOffset(tag: h.tag), h.payloadLength >= offset + 8 else {
            throw FrameError.malformed(tag: h.tag, reason: peerRegion == nil ? "a shared-memory frame without a shared region" : "a shared-memory frame that carries no Float array")
        }
        let counters = TimeCounters.process
        let started = MonotonicClock.now(), startedCPU = Posix.threadCPUSeconds()
        let head = try readBytes(offset, until: deadline)
        let generationBytes = try readBytes(8, until: deadline)
        let tail = try readBytes(h.payloadLength - offset - 8, until: deadline)
        let announced = FrameCodec.announcedCount(head: head)
        guard announced <= UInt64(region.capacity / 4) else {
            throw FrameError.malformed(tag: h.tag, reason: "announces \(announced) values; the shared region holds \(region.capacity / 4)")
        }
        let n = Int(announced)
        let logicalLength = offset + n * 4 + tail.count
        guard logicalLength <= limit else { throw FrameError.oversized(length: logicalLength, limit: limit) }
        var r = ByteReader(generationBytes)
        let generation = try r.u64()
        if let destination, destination.takes(h, count: announced) {
            // Copied out, straight into the model's pieces, before anything reads them.
            var at = region.data
            for range in destination.ranges where !range.isEmpty {
                UnsafeMutableRawPointer(destination.base + range.lowerBound).copyMemory(from: at, byteCount: range.count * 4)
                at += range.count * 4
            }
            region.markConsumed(generation)
            regionFramesReceived += 1
            FrameConnection.processRegionFrames.add(1, ordering: .relaxed)
            counters.add(.receive, seconds: MonotonicClock.now() - started, cpu: Posix.threadCPUSeconds() - startedCPU)
            try shaper?.afterReceive(bytes: FrameCodec.headerSize + logicalLength, from: peer, deadline: deadline)
            return try decodePlaced(h, head: head, tail: tail)
        }
        if lendsPushGradients && h.tag == 7 {
            // Left in the region, lent: the region stays the peer's to read from until the
            // handler is done with the push (`returnLentGradients`, or this end's next send or receive).
            lent = (region, generation)
            regionFramesReceived += 1
            FrameConnection.processRegionFrames.add(1, ordering: .relaxed)
            counters.add(.receive, seconds: MonotonicClock.now() - started, cpu: Posix.threadCPUSeconds() - startedCPU)
            try shaper?.afterReceive(bytes: FrameCodec.headerSize + logicalLength, from: peer, deadline: deadline)
            var frame = try decodeBare(h, head: head, tail: tail)
            guard case .push(var push) = frame.message else {
                throw FrameError.malformed(tag: h.tag, reason: "a shared-memory push that decodes as \(frame.message.name)")
            }
            push.lent = LentFloats(base: UnsafeRawPointer(region.data), count: n)
            frame.message = .push(push)
            return frame
        }
        // Copied out before anything reads it: the peer may write the region again once it sees
        // the generation stored. A push's gradients are checked finite as they are copied.
        let floats: [Float]
        let knownFinite: Bool
        if h.tag == 7 {
            (floats, knownFinite) = FiniteCheck.copy(count: n, from: region.data)
        } else {
            floats = [Float](unsafeUninitializedCapacity: n) { buffer, count in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: region.data, count: n * 4))
                count = n
            }
            knownFinite = false
        }
        region.markConsumed(generation)
        regionFramesReceived += 1
        FrameConnection.processRegionFrames.add(1, ordering: .relaxed)
        counters.add(.receive, seconds: MonotonicClock.now() - started, cpu: Posix.threadCPUSeconds() - startedCPU)
        try shaper?.afterReceive(bytes: FrameCodec.headerSize + logicalLength, from: peer, deadline: deadline)
        var logical = h
        logical.flags &= ~FrameCodec.regionFlag
        logical.payloadLength = logicalLength
        let frame = try counters.timeWithoutWaiting(.decode) { () throws(FrameError) in try FrameCodec.decodePayload(logical, head: head, floats: floats, tail: tail) }
        return FrameConnection.marked(frame, finite: knownFinite)
    }

    /// Where the values of a pull reply or push reply go instead of a new array: `ranges` of the
    /// whole-model array at `base`, filled one after another (a shard's pieces of the model).
    /// Only the answer to request `requestID` puts its values there.
    public struct ValuesDestination {
        public let base: UnsafeMutablePointer<Float>
        public let ranges: [Range<Int>]
        public let count: Int
        public let requestID: UInt32
        public init(base: UnsafeMutablePointer<Float>, ranges: [Range<Int>], requestID: UInt32) {
            self.base = base
            self.ranges = ranges
            self.count = ranges.reduce(0) { $0 + $1.count }
            self.requestID = requestID
        }

        /// Whether a frame may put its values here: the answer to `requestID`, a reply that
        /// carries parameter values, exactly as many as the ranges hold.
        func takes(_ h: FrameCodec.Header, count announced: UInt64) -> Bool {
            h.requestID == requestID && (h.tag == 6 || h.tag == 8) && announced == UInt64(count) && count >= FrameCodec.partsThreshold
        }
    }

    /// Whether the last frame `receive(until:limit:placingValues:)` returned had its values put
    /// in the destination (its message then carries none).
    public private(set) var valuesPlaced = false

    /// Decodes a pull or push reply whose values went to a `ValuesDestination`: its payload head
    /// (`FrameCodec.floatsOffset(tag:)` bytes) made to announce no values, and `valuesPlaced` set.
    private func decodePlaced(_ h: FrameCodec.Header, head: [UInt8], tail: [UInt8]) throws(FrameError) -> Frame {
        let frame = try decodeBare(h, head: head, tail: tail)
        valuesPlaced = true
        return frame
    }

    /// Decodes a frame whose Float array is elsewhere: its payload head made to announce no values.
    private func decodeBare(_ h: FrameCodec.Header, head: [UInt8], tail: [UInt8]) throws(FrameError) -> Frame {
        var bare = head
        for i in (bare.count - 8)..<bare.count { bare[i] = 0 }
        var logical = h
        logical.flags &= ~FrameCodec.regionFlag
        logical.payloadLength = bare.count + tail.count
        return try TimeCounters.process.timeWithoutWaiting(.decode) { () throws(FrameError) in try FrameCodec.decodePayload(logical, head: bare, floats: [], tail: tail) }
    }

    /// `frame`, a push whose gradients were checked finite as they arrived when `finite`, marked so.
    private static func marked(_ frame: Frame, finite: Bool) -> Frame {
        guard finite, case .push(var push) = frame.message else { return frame }
        push.gradientsKnownFinite = true
        var marked = frame
        marked.message = .push(push)
        return marked
    }

    /// How many gradients a push read from the socket brings in before they are checked finite
    /// (256 KiB: a piece checked while it is still in the cache).
    static let checkedPiece = 65_536

    /// Reads one frame. Throws `SocketError` for transport failures and `FrameError` for bytes that
    /// are not a valid frame (the caller should close the connection). A header announcing more
    /// than `limit` is refused before the payload is allocated. A region announcement is taken
    /// on the way (it is not a frame the caller sees).
    ///
    /// With `destination`, a pull reply or push reply whose values fit it exactly has them put
    /// there, straight from the socket or the peer's region (no array of their own), and comes
    /// back without values, `valuesPlaced` set; any other frame comes back as without it.
    public func receive(until deadline: Deadline, limit: Int? = nil, placingValues destination: ValuesDestination? = nil) throws -> Frame {
        if lendsPushGradients { returnLentGradients() }
        valuesPlaced = false
        let counters = TimeCounters.process
        var header = [UInt8](repeating: 0, count: FrameCodec.headerSize)
        var h: FrameCodec.Header
        while true {
            var failure: SocketError?
            counters.time(.waitHeader) {
                header.withUnsafeMutableBytes { raw in
                    do throws(SocketError) { try socket.read(into: raw, until: deadline) } catch { failure = error }
                }
            }
            if let failure { throw failure }
            h = try FrameCodec.decodeHeader(header, limit: limit ?? payloadLimit)
            if h.tag == FrameCodec.regionTag {
                try adoptRegion(h, until: deadline)
                continue
            }
            _ = socket.takeDescriptor()  // a descriptor sent with any other frame is closed unused
            if h.flags & FrameCodec.regionFlag != 0 { return try receiveFromRegion(h, limit: limit ?? payloadLimit, placing: destination, until: deadline) }
            break
        }
        let started = MonotonicClock.now(), startedCPU = Posix.threadCPUSeconds()
        if let offset = FrameCodec.floatsOffset(tag: h.tag), h.payloadLength >= offset + FrameCodec.partsThreshold * 4 {
            // A push, pull reply or push reply: the values go straight from the socket into their array.
            let head = try readBytes(offset, until: deadline)
            let announced = FrameCodec.announcedCount(head: head)
            if let destination, destination.takes(h, count: announced), announced <= UInt64((h.payloadLength - offset) / 4) {
                // Straight from the socket into the model's pieces.
                for range in destination.ranges where !range.isEmpty {
                    try socket.read(into: UnsafeMutableRawBufferPointer(start: destination.base + range.lowerBound, count: range.count * 4), until: deadline)
                }
                let tail = try readBytes(h.payloadLength - offset - destination.count * 4, until: deadline)
                counters.add(.receive, seconds: MonotonicClock.now() - started, cpu: Posix.threadCPUSeconds() - startedCPU)
                try shaper?.afterReceive(bytes: FrameCodec.headerSize + h.payloadLength, from: peer, deadline: deadline)
                return try decodePlaced(h, head: head, tail: tail)
            }
            if announced <= UInt64((h.payloadLength - offset) / 4) {
                let n = Int(announced)
                var failure: SocketError?
                // A push's gradients are checked finite a piece at a time as they arrive, while each
                // piece is still in the cache (not in a pass of their own over the whole array).
                let isPush = h.tag == 7
                var finite = isPush
                let floats = [Float](unsafeUninitializedCapacity: n) { buffer, count in
                    var done = 0
                    while done < n && failure == nil {
                        let k = isPush ? min(FrameConnection.checkedPiece, n - done) : n
                        do throws(SocketError) { try socket.read(into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[done..<(done + k)])), until: deadline) } catch { failure = error }
                        if isPush && failure == nil && finite { finite = FiniteCheck.allFinite(UnsafeBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[done..<(done + k)]))) }
                        done += k
                    }
                    count = failure == nil ? n : 0
                }
                if let failure { throw failure }
                let tail = try readBytes(h.payloadLength - offset - n * 4, until: deadline)
                counters.add(.receive, seconds: MonotonicClock.now() - started, cpu: Posix.threadCPUSeconds() - startedCPU)
                try shaper?.afterReceive(bytes: FrameCodec.headerSize + h.payloadLength, from: peer, deadline: deadline)
                let frame = try counters.timeWithoutWaiting(.decode) { () throws(FrameError) in try FrameCodec.decodePayload(h, head: head, floats: floats, tail: tail) }
                return FrameConnection.marked(frame, finite: finite)
            }
            // A count the payload cannot hold: read the rest and let the one decoder name the error.
            let rest = try readBytes(h.payloadLength - offset, until: deadline)
            return try FrameCodec.decodePayload(h, head + rest)
        }
        // Allocated uninitialized: the socket fills every byte, or the read throws.
        let payload = try readBytes(h.payloadLength, until: deadline)
        counters.add(.receive, seconds: MonotonicClock.now() - started, cpu: Posix.threadCPUSeconds() - startedCPU)
        try shaper?.afterReceive(bytes: FrameCodec.headerSize + h.payloadLength, from: peer, deadline: deadline)
        return try counters.timeWithoutWaiting(.decode) { () throws(FrameError) in try FrameCodec.decodePayload(h, payload) }
    }

    /// Exactly `count` bytes from the socket.
    private func readBytes(_ count: Int, until deadline: Deadline) throws(SocketError) -> [UInt8] {
        var failure: SocketError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                do throws(SocketError) { try socket.read(into: UnsafeMutableRawBufferPointer(buffer), until: deadline) } catch { failure = error }
            }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return bytes
    }

    /// A server's read of the next request, under the server's `WireLimits`: before the hello, a
    /// frame of at most `WireLimits.helloPayloadLimit` bytes, all of it before the handshake
    /// deadline; after it, at most `authenticatedLimit()` bytes, the header within the idle
    /// timeout. Returns nil when the connection should end: the peer went away, or it broke a
    /// limit (then the peer is told why, if it can hear, and the refusal is logged).
    public func receiveRequest(authenticatedLimit: () -> Int) -> Frame? {
        let authenticated = isAuthenticated
        let deadline: Deadline = authenticated ? .after(seconds: limits.idleTimeout)
            : .after(seconds: max(0, limits.handshakeTimeout - (MonotonicClock.now() - acceptedAt)))
        do {
            return try receive(until: deadline, limit: authenticated ? authenticatedLimit() : WireLimits.helloPayloadLimit)
        } catch let error as FrameError {
            let reason = authenticated ? error.description : "before hello: \(error)"
            try? send(Frame(message: .error(WireError(.badRequest, reason))), until: .after(seconds: 1))
            refuse(reason)
        } catch SocketError.timedOut {
            if authenticated {
                refusals?.closed(self, reason: "idle for \(format(limits.idleTimeout)) s (\(RoleEnvironment.idleTimeout))")
            } else {
                refuse("no hello within \(format(limits.handshakeTimeout)) s (\(RoleEnvironment.handshakeTimeout))")
            }
        } catch {
            // The peer went away, or the server is stopping.
        }
        return nil
    }

    /// Reports that the server turned this connection away for `reason` (logged, rate-limited).
    public func refuse(_ reason: String) {
        refusals?.refused(self, reason: reason)
    }

    private func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    public func close() { socket.close() }
}

/// Where a server's refusals go: one `RefusalLog` per server, and the server's log.
final class RefusalReporter: Sendable {
    private let state = Mutex(RefusalLog())
    private let write: @Sendable (String) -> Void

    init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    func refused(_ connection: FrameConnection, reason: String) {
        refused(address: connection.remoteAddress, reason: reason)
    }

    func refused(address: HostPort, reason: String) {
        let now = MonotonicClock.now()
        if let line = state.withLock({ $0.record(address: address.description, host: address.host, reason: reason, now: now) }) {
            write(line)
        }
    }

    /// A connection closed for a reason that is not a refusal (idle): also rate-limited.
    func closed(_ connection: FrameConnection, reason: String) {
        let now = MonotonicClock.now()
        let who = connection.peer.map { " (\($0))" } ?? ""
        if let line = state.withLock({ $0.record(address: connection.remoteAddress.description + who, host: connection.remoteAddress.host, reason: reason, now: now) }) {
            write(line.replacingPrefix("refused connection from", with: "closed connection from"))
        }
    }
}

private extension String {
    func replacingPrefix(_ prefix: String, with other: String) -> String {
        hasPrefix(prefix) ? other + dropFirst(prefix.count) : self
    }
}
