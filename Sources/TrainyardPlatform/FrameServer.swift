import Synchronization
import TrainyardCore

/// Accepts connections on a listening socket and serves each on its own thread.
///
/// `handler` owns the connection for its lifetime and returns when it is done with it. `stop()`
/// closes the listener and shuts down every open connection, which wakes their handlers.
public final class FrameServer: Sendable {
    private let listener: Socket
    private let handler: @Sendable (FrameConnection) -> Void
    private let open = Mutex<[ObjectIdentifier: Socket]>([:])
    private let stopped = Atomic<Bool>(false)

    /// The emulated network every accepted connection's traffic passes through; nil = unshaped.
    public let shaper: NetworkShaper?

    public init(listener: Socket, shaper: NetworkShaper? = nil, handler: @escaping @Sendable (FrameConnection) -> Void) {
        self.listener = listener
        self.shaper = shaper
        self.handler = handler
    }

    public var address: HostPort { listener.localAddress }

    public func start(name: String) {
        startThread(name: "\(name)-accept") { [self] in acceptLoop(name: name) }
    }

    private func acceptLoop(name: String) {
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
            let key = ObjectIdentifier(socket)
            open.withLock { $0[key] = socket }
            startThread(name: "\(name)-conn") { [self] in
                handler(FrameConnection(socket: socket, shaper: shaper))
                socket.close()
                open.withLock { _ = $0.removeValue(forKey: key) }
            }
        }
    }

    /// Stops accepting and wakes every connection handler.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        listener.shutdown()
        let sockets = open.withLock { Array($0.values) }
        for s in sockets { s.shutdown() }
    }

    /// Resets every open connection (TCP RST), as a network fault.
    public func resetConnections() {
        let sockets = open.withLock { Array($0.values) }
        for s in sockets { s.shutdown() }
    }

    public var openConnections: Int { open.withLock { $0.count } }
}
