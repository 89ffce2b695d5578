#if canImport(Glibc)
import Glibc
#endif
import CTrainyardSupport
import TrainyardCore

/// Why a socket operation did not complete.
public enum SocketError: TrainyardError, Equatable {
    /// The deadline passed first.
    case timedOut(String)
    /// The peer closed the connection (EOF, reset, broken pipe).
    case closed(String)
    case system(SystemError)
    case resolve(String)

    public var exitCode: ExitCode {
        switch self {
        case .system: return .systemError
        default: return .clusterError
        }
    }

    public var description: String {
        switch self {
        case .timedOut(let what): return "timed out: \(what)"
        case .closed(let what): return "connection closed: \(what)"
        case .system(let e): return e.description
        case .resolve(let what): return "cannot resolve \(what)"
        }
    }
}

/// A TCP socket that owns its descriptor: non-blocking underneath, with deadlines on every wait,
/// TCP_NODELAY on every connection, writes that send everything and reads that read exactly.
/// Or a Unix-domain stream socket in Linux's abstract namespace (`isLocal`): the same-host fast
/// path, with the same reads, writes and deadlines (Docs/wire-protocol.md#same-host-connections).
///
/// Not for concurrent use from several threads, except `shutdown()`, which may be called from any
/// thread to wake a blocked reader. Every system call goes through `Posix` (EINTR retried there);
/// this type decides what each errno means for a connection.
public final class Socket: @unchecked Sendable {
    public private(set) var fd: Int32
    private var closed = false
    /// Whether this is a Unix-domain socket (a local listener or connection) rather than TCP.
    public private(set) var isLocal = false

    /// Descriptors that arrived with the bytes read last (a Unix-domain socket's SCM_RIGHTS), for
    /// the reader to take (`takeDescriptor`); any it does not take are closed at the next read.
    private var receivedDescriptors: [Int32] = []

    private init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// The last descriptor that arrived with the bytes read since the previous read call that
    /// brought any (the others are closed); nil when none came.
    public func takeDescriptor() -> Int32? {
        let last = receivedDescriptors.popLast()
        discardDescriptors()
        return last
    }

    private func discardDescriptors() {
        for d in receivedDescriptors { Posix.close(d) }
        receivedDescriptors = []
    }

    /// Sends `bytes` with descriptor `descriptor` attached (a Unix-domain socket only), every
    /// byte or throws like `write`.
    public func write(_ bytes: [UInt8], attaching descriptor: Int32, until deadline: Deadline) throws(SocketError) {
        guard isLocal else { throw .system(SystemError("sendmsg", errno: EINVAL, detail: "descriptors travel on Unix-domain sockets only")) }
        var sent = 0
        while sent == 0 {
            var failure: SystemError?
            bytes.withUnsafeBytes { raw in
                do throws(SystemError) {
                    sent = try Posix.call("sendmsg") { ty_send_with_descriptor(fd, raw.baseAddress!, raw.count, descriptor) }
                } catch { failure = error }
            }
            if let error = failure {
                switch error.errno {
                case EAGAIN, EWOULDBLOCK:
                    guard try wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut("sending \(bytes.count) bytes") }
                case EPIPE, ECONNRESET, ENOTCONN: throw .closed("peer went away while sending")
                default: throw .system(error)
                }
            }
        }
        // The descriptor went with the first byte; the rest, if any, as any bytes go.
        if sent < bytes.count { try write(Array(bytes[sent...]), until: deadline) }
    }

    /// Takes ownership of an open descriptor (for example a listening socket the launcher passed on).
    public static func adopt(fd: Int32) throws(SocketError) -> Socket {
        let s = Socket(fd: fd)
        try s.setNonBlocking()
        try? Posix.setCloseOnExec(fd)
        if let storage = try? Posix.localAddress(fd), Int32(storage.ss_family) == AF_UNIX { s.isLocal = true }
        return s
    }

    // MARK: Addresses

    static func resolve(_ address: HostPort) throws(SocketError) -> (sockaddr_storage, socklen_t) {
        // Prefer IPv4 (loopback is 127.0.0.1 in every cluster spec Trainyard writes).
        let host = address.host == "localhost" ? "127.0.0.1" : address.host
        switch Posix.resolveStream(host: host, port: address.port) {
        case .success(let resolved): return resolved
        case .failure(let error): throw .resolve("\(address): \(error)")
        }
    }

    /// The address this socket is bound to (`local:0` for a Unix-domain socket).
    public var localAddress: HostPort {
        if isLocal { return Socket.localPeer }
        guard let storage = try? Posix.localAddress(fd) else { return Socket.hostPort(sockaddr_storage()) }
        return Socket.hostPort(storage)
    }

    /// The address of the peer at the other end of a connection (0.0.0.0:0 when unknown).
    public var remoteAddress: HostPort {
        if isLocal { return Socket.localPeer }
        guard let storage = try? Posix.peerAddress(fd) else { return Socket.hostPort(sockaddr_storage()) }
        return Socket.hostPort(storage)
    }

    /// What a Unix-domain socket gives as its address and its peer's, for logs.
    static let localPeer = HostPort(host: "local", port: 0)

    static func hostPort(_ storage: sockaddr_storage) -> HostPort {
        let (host, port) = Posix.numericHostPort(storage)
        return HostPort(host: host, port: port)
    }

    // MARK: Creating

    private static func make(family: Int32) throws(SocketError) -> Socket {
        let s: Socket
        do throws(SystemError) {
            s = Socket(fd: try Posix.socket(family: family, type: Int32(SOCK_STREAM.rawValue)))
        } catch {
            throw .system(error)
        }
        try s.setNonBlocking()
        return s
    }

    private func setNonBlocking() throws(SocketError) {
        do throws(SystemError) { try Posix.setNonBlocking(fd) } catch { throw .system(error) }
    }

    /// Sets an integer option, best effort (as before: a failure only costs latency).
    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        try? Posix.setSocketOption(fd, level: level, name: name, value: value)
    }

    /// A Unix-domain connection's send buffer: room for a whole shard message in one write. The
    /// default (`net.core.wmem_default`, 208 KiB here) split a 470 KB shard into several writes,
    /// each blocking until the other process had read the last (a sleep and a wake-up of both
    /// per piece); the kernel doubles this and caps it at `net.core.wmem_max`.
    static let localSendBuffer: Int32 = 2 << 20

    /// A listening socket bound to `address` (port 0: the system picks a free port).
    public static func listen(on address: HostPort, backlog: Int32 = 128) throws(SocketError) -> Socket {
        let (storage, length) = try resolve(address)
        let s = try make(family: Int32(storage.ss_family))
        s.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        do throws(SystemError) {
            try Posix.bind(s.fd, to: storage, length: length, address.description)
            try Posix.listen(s.fd, backlog: backlog, address.description)
        } catch {
            throw .system(error)
        }
        return s
    }

    /// Connects to `address`, failing at `deadline`.
    public static func connect(to address: HostPort, deadline: Deadline) throws(SocketError) -> Socket {
        let (storage, length) = try resolve(address)
        let s = try make(family: Int32(storage.ss_family))
        let connected: Bool
        do throws(SystemError) {
            connected = try Posix.connect(s.fd, to: storage, length: length, address.description)
        } catch {
            if error.errno == ECONNREFUSED { throw .closed("\(address) refused the connection") }
            throw .system(error)
        }
        if !connected {
            guard try s.wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut("connecting to \(address)") }
            let err = (try? Posix.pendingSocketError(s.fd)) ?? 0
            if err == ECONNREFUSED { throw .closed("\(address) refused the connection") }
            if err != 0 { throw .system(SystemError("connect", errno: err, detail: address.description)) }
        }
        s.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        return s
    }

    /// The abstract Unix-domain address `name` (Linux: no file is made, nothing to remove).
    static func abstractAddress(_ name: String) throws(SocketError) -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        let length = ty_abstract_unix_address(&storage, name)
        guard length > 0 else { throw .resolve("local socket name \"\(name)\": empty, over 107 bytes, or no abstract Unix-domain sockets here") }
        return (storage, socklen_t(length))
    }

    /// A Unix-domain socket listening on the abstract name `name`.
    public static func listenLocal(name: String, backlog: Int32 = 128) throws(SocketError) -> Socket {
        let (storage, length) = try abstractAddress(name)
        let s = try make(family: AF_UNIX)
        s.isLocal = true
        do throws(SystemError) {
            try Posix.bind(s.fd, to: storage, length: length, "local socket \(name)")
            try Posix.listen(s.fd, backlog: backlog, "local socket \(name)")
        } catch {
            throw .system(error)
        }
        return s
    }

    /// Connects to the Unix-domain socket listening on the abstract name `name`. A Unix-domain
    /// connect completes at once or fails: `closed` when nobody listens there or its backlog is full.
    public static func connectLocal(name: String, deadline: Deadline) throws(SocketError) -> Socket {
        let (storage, length) = try abstractAddress(name)
        let s = try make(family: AF_UNIX)
        s.isLocal = true
        let connected: Bool
        do throws(SystemError) {
            connected = try Posix.connect(s.fd, to: storage, length: length, "local socket \(name)")
        } catch {
            if error.errno == ECONNREFUSED || error.errno == ENOENT { throw .closed("nothing listens on local socket \(name)") }
            if error.errno == EAGAIN { throw .closed("local socket \(name) has a full backlog") }
            throw .system(error)
        }
        if !connected {
            guard try s.wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut("connecting to local socket \(name)") }
            let err = (try? Posix.pendingSocketError(s.fd)) ?? 0
            if err != 0 { throw .closed("local socket \(name): \(SystemError("connect", errno: err, detail: name))") }
        }
        s.setOption(SOL_SOCKET, SO_SNDBUF, localSendBuffer)
        return s
    }

    /// Waits for a connection until `deadline`; nil when none came.
    public func accept(until deadline: Deadline) throws(SocketError) -> Socket? {
        while true {
            let fd: Int32
            do throws(SystemError) {
                fd = try Posix.accept(self.fd)
            } catch {
                switch error.errno {
                case ECONNABORTED, EPROTO: continue
                case EAGAIN, EWOULDBLOCK:
                    guard try wait(for: Int16(POLLIN), until: deadline) else { return nil }
                    continue
                case EBADF, EINVAL: throw .closed("listening socket closed")
                default: throw .system(error)
                }
            }
            let s = Socket(fd: fd)
            if isLocal { s.isLocal = true; s.setOption(SOL_SOCKET, SO_SNDBUF, Socket.localSendBuffer) } else { s.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1) }
            return s
        }
    }

    /// Polls for `events`; false when the deadline passed first.
    func wait(for events: Int16, until deadline: Deadline) throws(SocketError) -> Bool {
        while true {
            if closed { throw .closed("socket closed locally") }
            // Wake at least every 250 ms so that a local shutdown() is noticed.
            let timeout = deadline.pollTimeout < 0 ? 250 : min(deadline.pollTimeout, 250)
            do throws(SystemError) {
                if try Posix.poll(fd, events: events, timeoutMillis: timeout) { return true }
            } catch {
                throw .system(error)
            }
            if deadline.hasPassed { return false }
        }
    }

    // MARK: Data

    /// Sends every byte, or throws: `timedOut` at the deadline, `closed` if the peer went away.
    public func write(_ bytes: UnsafeRawBufferPointer, until deadline: Deadline) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            do throws(SystemError) {
                let n = try Posix.send(fd, bytes.baseAddress! + offset, count: bytes.count - offset)
                if n > 0 { offset += n; continue }
            } catch {
                switch error.errno {
                case EAGAIN, EWOULDBLOCK:
                    guard try wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut("sending \(bytes.count) bytes") }
                case EPIPE, ECONNRESET, ENOTCONN: throw .closed("peer went away while sending")
                default: throw .system(error)
                }
            }
        }
    }

    /// Sends several buffers as one stream of bytes, each from where it lies (no copy into one
    /// buffer): all but the last go with MSG_MORE, so the kernel packs them as one write would.
    public func write(parts: [UnsafeRawBufferPointer], until deadline: Deadline) throws(SocketError) {
        let total = parts.reduce(0) { $0 + $1.count }
        var sent = 0
        for (i, part) in parts.enumerated() where part.count > 0 {
            let more = parts[(i + 1)...].contains { $0.count > 0 }
            var offset = 0
            while offset < part.count {
                do throws(SystemError) {
                    let n = try Posix.send(fd, part.baseAddress! + offset, count: part.count - offset, more: more)
                    if n > 0 { offset += n; continue }
                } catch {
                    switch error.errno {
                    case EAGAIN, EWOULDBLOCK:
                        guard try wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut("sending \(total) bytes (\(sent + offset) sent)") }
                    case EPIPE, ECONNRESET, ENOTCONN: throw .closed("peer went away while sending")
                    default: throw .system(error)
                    }
                }
            }
            sent += part.count
        }
    }

    public func write(_ bytes: [UInt8], until deadline: Deadline) throws(SocketError) {
        var failure: SocketError?
        bytes.withUnsafeBytes { raw in
            do throws(SocketError) { try write(raw, until: deadline) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads exactly `buffer.count` bytes, or throws (`closed` on EOF, even mid-message).
    public func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: Deadline) throws(SocketError) {
        var offset = 0
        while offset < buffer.count {
            let n: Int
            do throws(SystemError) {
                if isLocal {
                    // A Unix-domain socket may carry descriptors with its bytes (a peer's shared
                    // region): take them, or the kernel closes them unseen.
                    var fds: (Int32, Int32, Int32, Int32) = (-1, -1, -1, -1)
                    var got: Int32 = 0
                    let p = buffer.baseAddress! + offset, c = buffer.count - offset
                    n = try withUnsafeMutableBytes(of: &fds) { raw throws(SystemError) in
                        try Posix.call("recvmsg") { ty_recv_with_descriptors(fd, p, c, raw.baseAddress!.assumingMemoryBound(to: Int32.self), 4, &got) }
                    }
                    if got > 0 {
                        discardDescriptors()
                        withUnsafeBytes(of: fds) { raw in receivedDescriptors = Array(raw.bindMemory(to: Int32.self).prefix(Int(got))) }
                    }
                } else {
                    n = try Posix.recv(fd, buffer.baseAddress! + offset, count: buffer.count - offset)
                }
            } catch {
                switch error.errno {
                case EAGAIN, EWOULDBLOCK:
                    guard try wait(for: Int16(POLLIN), until: deadline) else { throw .timedOut("waiting for \(buffer.count - offset) bytes") }
                    continue
                case ECONNRESET, ENOTCONN: throw .closed("connection reset by peer")
                default: throw .system(error)
                }
            }
            if n > 0 { offset += n; continue }
            throw .closed(offset == 0 ? "peer closed the connection" : "peer closed the connection mid-message (\(offset) of \(buffer.count) bytes)")
        }
    }

    /// Stops further reads and writes on the connection; wakes blocked readers. Safe from any thread.
    public func shutdown() {
        Posix.shutdown(fd)
    }

    /// Closes the descriptor (idempotent).
    public func close() {
        discardDescriptors()
        guard !closed else { return }
        closed = true
        Posix.close(fd)
    }

    /// Sends a TCP reset instead of a clean close (SO_LINGER 0): used to inject connection resets.
    /// (A Unix-domain connection has no reset: it is closed, and its peer reads an end of stream.)
    public func reset() {
        if !isLocal { try? Posix.setLinger(fd, seconds: 0) }
        close()
    }
}
