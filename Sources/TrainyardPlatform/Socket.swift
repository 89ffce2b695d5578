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
///
/// Not for concurrent use from several threads, except `shutdown()`, which may be called from any
/// thread to wake a blocked reader.
public final class Socket: @unchecked Sendable {
    public private(set) var fd: Int32
    private var closed = false

    private init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// Takes ownership of an open descriptor (for example a listening socket the launcher passed on).
    public static func adopt(fd: Int32) throws(SocketError) -> Socket {
        let s = Socket(fd: fd)
        try s.setNonBlocking()
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return s
    }

    // MARK: Addresses

    static func resolve(_ address: HostPort) throws(SocketError) -> (sockaddr_storage, socklen_t) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let host = address.host == "localhost" ? "127.0.0.1" : address.host
        let rc = getaddrinfo(host, String(address.port), &hints, &result)
        guard rc == 0, let first = result else { throw .resolve("\(address): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(result) }
        // Prefer IPv4 (loopback is 127.0.0.1 in every cluster spec Trainyard writes).
        var chosen = first
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let cur = p {
            if cur.pointee.ai_family == AF_INET { chosen = cur; break }
            p = cur.pointee.ai_next
        }
        var storage = sockaddr_storage()
        let length = chosen.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: Int(length)))
        }
        return (storage, length)
    }

    /// The address this socket is bound to.
    public var localAddress: HostPort {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Socket.hostPort(storage)
    }

    static func hostPort(_ storage: sockaddr_storage) -> HostPort {
        var storage = storage
        if storage.ss_family == sa_family_t(AF_INET6) {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var addr = sin6.pointee.sin6_addr
                    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
                    return HostPort(host: String(cString: buffer), port: Int(UInt16(bigEndian: sin6.pointee.sin6_port)))
                }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var addr = sin.pointee.sin_addr
                var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
                return HostPort(host: String(cString: buffer), port: Int(UInt16(bigEndian: sin.pointee.sin_port)))
            }
        }
    }

    // MARK: Creating

    private static func make(family: Int32) throws(SocketError) -> Socket {
        do {
            let fd = try Posix.call("socket") { socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
            let s = Socket(fd: fd)
            try s.setNonBlocking()
            return s
        } catch let e as SystemError {
            throw .system(e)
        } catch {
            throw .closed("\(error)")
        }
    }

    private func setNonBlocking() throws(SocketError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw .system(SystemError("fcntl", errno: errno, detail: "O_NONBLOCK"))
        }
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A listening socket bound to `address` (port 0: the system picks a free port).
    public static func listen(on address: HostPort, backlog: Int32 = 128) throws(SocketError) -> Socket {
        var (storage, length) = try resolve(address)
        let s = try make(family: Int32(storage.ss_family))
        s.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s.fd, $0, length) }
        }
        guard rc == 0 else { throw .system(SystemError("bind", errno: errno, detail: address.description)) }
        guard Glibc.listen(s.fd, backlog) == 0 else { throw .system(SystemError("listen", errno: errno, detail: address.description)) }
        return s
    }

    /// Connects to `address`, failing at `deadline`.
    public static func connect(to address: HostPort, deadline: Deadline) throws(SocketError) -> Socket {
        var (storage, length) = try resolve(address)
        let s = try make(family: Int32(storage.ss_family))
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s.fd, $0, length) }
        }
        if rc != 0 {
            let e = errno
            guard e == EINPROGRESS || e == EINTR else {
                if e == ECONNREFUSED { throw .closed("\(address) refused the connection") }
                throw .system(SystemError("connect", errno: e, detail: address.description))
            }
            guard try s.wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut("connecting to \(address)") }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err == ECONNREFUSED { throw .closed("\(address) refused the connection") }
            if err != 0 { throw .system(SystemError("connect", errno: err, detail: address.description)) }
        }
        s.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        return s
    }

    /// Waits for a connection until `deadline`; nil when none came.
    public func accept(until deadline: Deadline) throws(SocketError) -> Socket? {
        while true {
            let fd = ty_accept_cloexec_nonblock(self.fd)
            if fd >= 0 {
                let s = Socket(fd: fd)
                s.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                return s
            }
            let e = errno
            switch e {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EAGAIN, EWOULDBLOCK:
                guard try wait(for: Int16(POLLIN), until: deadline) else { return nil }
            case EBADF, EINVAL: throw .closed("listening socket closed")
            default: throw .system(SystemError("accept", errno: e))
            }
        }
    }

    /// Polls for `events`; false when the deadline passed first.
    func wait(for events: Int16, until deadline: Deadline) throws(SocketError) -> Bool {
        while true {
            if closed { throw .closed("socket closed locally") }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            // Wake at least every 250 ms so that a local shutdown() is noticed.
            let timeout = deadline.pollTimeout < 0 ? 250 : min(deadline.pollTimeout, 250)
            let rc = poll(&pfd, 1, timeout)
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { throw .system(SystemError("poll", errno: errno)) }
            if deadline.hasPassed { return false }
        }
    }

    // MARK: Data

    /// Sends every byte, or throws: `timedOut` at the deadline, `closed` if the peer went away.
    public func write(_ bytes: UnsafeRawBufferPointer, until deadline: Deadline) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n > 0 { offset += n; continue }
            let e = errno
            switch e {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                guard try wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut("sending \(bytes.count) bytes") }
            case EPIPE, ECONNRESET, ENOTCONN: throw .closed("peer went away while sending")
            default: throw .system(SystemError("send", errno: e))
            }
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
            let n = recv(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
            if n > 0 { offset += n; continue }
            if n == 0 { throw .closed(offset == 0 ? "peer closed the connection" : "peer closed the connection mid-message (\(offset) of \(buffer.count) bytes)") }
            let e = errno
            switch e {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                guard try wait(for: Int16(POLLIN), until: deadline) else { throw .timedOut("waiting for \(buffer.count - offset) bytes") }
            case ECONNRESET, ENOTCONN: throw .closed("connection reset by peer")
            default: throw .system(SystemError("recv", errno: e))
            }
        }
    }

    /// Stops further reads and writes on the connection; wakes blocked readers. Safe from any thread.
    public func shutdown() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Closes the descriptor (idempotent).
    public func close() {
        guard !closed else { return }
        closed = true
        Posix.close(fd)
    }

    /// Sends a TCP reset instead of a clean close (SO_LINGER 0): used to inject connection resets.
    public func reset() {
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close()
    }
}
