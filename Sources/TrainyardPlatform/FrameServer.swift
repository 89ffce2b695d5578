import Synchronization
import TrainyardCore

/// Accepts connections on a listening socket and serves each on its own thread.
///
/// `handler` owns the connection for its lifetime and returns when it is done with it; it reads
/// with `FrameConnection.receiveRequest`, which enforces the server's `WireLimits` (hello-sized
/// frames and the handshake deadline until the handler calls `authenticate(as:)`, then the
/// handler's frame limit and the idle deadline). The listener keeps at most
/// `limits.maxConnections` open: a newcomer past that displaces the oldest connection that has not
/// said hello, or is refused. Every refusal is logged (rate-limited) through `log`.
/// `stop()` closes the listener and shuts down every open connection, which wakes their handlers.
///
/// A server may also listen on a Unix-domain socket (`localListener`: the same-host fast path the
/// launcher sets up); its connections are served exactly as the TCP ones, under the same limits.
public final class FrameServer: Sendable {
    private struct Entry: Sendable {
        var sequence: Int
        var connection: FrameConnection
    }

    private let listener: Socket
    private let localListener: Socket?
    /// Connections accepted so far: over TCP, and over the local (Unix-domain) listener.
    private let acceptedCounts = Mutex<(tcp: Int, local: Int)>((0, 0))
    private let handler: @Sendable (FrameConnection) -> Void
    private let open = Mutex<(next: Int, entries: [ObjectIdentifier: Entry])>((0, [:]))
    private let stopped = Atomic<Bool>(false)
    private let refusals: RefusalReporter

    /// The emulated network every accepted connection's traffic passes through; nil = unshaped.
    public let shaper: NetworkShaper?
    public let limits: WireLimits

    public init(listener: Socket, localListener: Socket? = nil, shaper: NetworkShaper? = nil, limits: WireLimits = WireLimits(),
                log: @escaping @Sendable (String) -> Void = { _ in }, handler: @escaping @Sendable (FrameConnection) -> Void) {
        self.listener = listener
        self.localListener = localListener
        self.shaper = shaper
        self.limits = limits
        self.refusals = RefusalReporter(write: log)
        self.handler = handler
    }

    public var address: HostPort { listener.localAddress }

    public func start(name: String) {
        startThread(name: "\(name)-accept") { [self] in acceptLoop(name: name, listener: listener) }
        if let localListener {
            startThread(name: "\(name)-accept-local") { [self] in acceptLoop(name: name, listener: localListener) }
        }
    }

    /// How many connections were accepted so far over TCP and over the local listener.
    public var accepted: (tcp: Int, local: Int) { acceptedCounts.withLock { $0 } }

    private func acceptLoop(name: String, listener: Socket) {
        while !stopped.load(ordering: .acquiring) {
            let socket: Socket?
            do {
                socket = try listener.accept(until: .after(seconds: 0.25))
            } catch {
                if stopped.load(ordering: .acquiring) { return }
                MonotonicClock.sleep(seconds: 0.05)
                continue
            }
            guard let socket else { continue }
            acceptedCounts.withLock { if listener.isLocal { $0.local += 1 } else { $0.tcp += 1 } }
            let connection = FrameConnection(accepted: socket, shaper: shaper, limits: limits, refusals: refusals)
            let key = ObjectIdentifier(connection)
            var evictedAddress: HostPort?
            let admission: WireLimits.Admission<ObjectIdentifier> = open.withLock { open in
                let waiting = open.entries.filter { !$0.value.connection.isAuthenticated }
                    .sorted { $0.value.sequence < $1.value.sequence }.map(\.key)
                let decision = limits.admission(open: open.entries.count, unauthenticated: waiting)
                switch decision {
                case .refuse:
                    break
                case .admit, .admitEvicting:
                    if case .admitEvicting(let old) = decision, let evicted = open.entries.removeValue(forKey: old) {
                        evicted.connection.socket.shutdown()
                        evictedAddress = evicted.connection.remoteAddress
                    }
                    open.entries[key] = Entry(sequence: open.next, connection: connection)
                    open.next += 1
                }
                return decision
            }
            switch admission {
            case .refuse:
                refusals.refused(address: connection.remoteAddress,
                                 reason: "\(limits.maxConnections) connections open, all past hello (\(RoleEnvironment.maxConnections))")
                socket.close()
                continue
            case .admitEvicting:
                if let evictedAddress {
                    refusals.refused(address: evictedAddress,
                                     reason: "dropped before its hello: \(limits.maxConnections) connections open (\(RoleEnvironment.maxConnections))")
                }
            case .admit:
                break
            }
            startThread(name: "\(name)-conn") { [self] in
                handler(connection)
                socket.close()
                open.withLock { _ = $0.entries.removeValue(forKey: key) }
            }
        }
    }

    /// Stops accepting and wakes every connection handler.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        listener.shutdown()
        localListener?.shutdown()
        let sockets = open.withLock { $0.entries.values.map(\.connection.socket) }
        for s in sockets { s.shutdown() }
    }

    /// Resets every open connection (TCP RST), as a network fault.
    public func resetConnections() {
        let sockets = open.withLock { $0.entries.values.map(\.connection.socket) }
        for s in sockets { s.shutdown() }
    }

    public var openConnections: Int { open.withLock { $0.entries.count } }
}
