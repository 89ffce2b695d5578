/// How much a server lets one connection cost it: how large a frame it reads before and after a
/// hello, how long it waits for each, and how many connections one listener keeps.
///
/// Pure values; `TrainyardPlatform`'s `FrameServer` and `FrameConnection` enforce them. Set from the
/// environment a role starts with (`RoleEnvironment.handshakeTimeout` and friends), with the
/// defaults below.
public struct WireLimits: Sendable, Equatable {
    /// The largest payload read before a connection has proved its task: a hello or a proof is far
    /// below this. A header announcing more is refused before anything is allocated.
    public static let helloPayloadLimit = 4096

    /// Seconds a new connection has to send its whole hello (from accept).
    public var handshakeTimeout: Double = 10
    /// Seconds a connection that said hello may stay silent before the server closes it.
    public var idleTimeout: Double = 300
    /// Connections one listener keeps open at once; past it, the oldest connection that has not
    /// said hello is dropped for the new one, and if every one has, the new one is refused.
    public var maxConnections = 256

    public init(handshakeTimeout: Double = 10, idleTimeout: Double = 300, maxConnections: Int = 256) {
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    /// Reads the limits from `environment`; a variable that is set must be a positive number.
    public static func from(environment: [String: String]) throws(FieldError) -> WireLimits {
        var limits = WireLimits()
        func seconds(_ name: String) throws(FieldError) -> Double? {
            guard let text = environment[name] else { return nil }
            guard let value = Double(text), value > 0, value.isFinite else {
                throw FieldError(source: "environment", path: name, "must be a positive number of seconds, not '\(text)'")
            }
            return value
        }
        if let v = try seconds(RoleEnvironment.handshakeTimeout) { limits.handshakeTimeout = v }
        if let v = try seconds(RoleEnvironment.idleTimeout) { limits.idleTimeout = v }
        if let text = environment[RoleEnvironment.maxConnections] {
            guard let value = Int(text), value > 0 else {
                throw FieldError(source: "environment", path: RoleEnvironment.maxConnections, "must be a positive number of connections, not '\(text)'")
            }
            limits.maxConnections = value
        }
        return limits
    }

    /// Keeps `maxConnections` below a descriptor limit (`RLIMIT_NOFILE`), leaving `reserve`
    /// descriptors for the process's own files and its outgoing connections, so that the cap, not
    /// the kernel's EMFILE, decides who gets in.
    public func fitting(descriptorLimit: Int, reserve: Int = 24) -> WireLimits {
        var limits = self
        limits.maxConnections = max(4, min(maxConnections, descriptorLimit - reserve))
        return limits
    }

    /// What to do with a new connection when `open` are already open (`unauthenticated` of them
    /// oldest first, by an id the server chose).
    public enum Admission<ID: Sendable & Equatable>: Sendable, Equatable {
        case admit
        /// Drop this connection (the oldest that has not said hello), then admit the new one.
        case admitEvicting(ID)
        /// Close the new connection at once.
        case refuse
    }

    /// Whether a new connection gets in, given `open` connections of which `unauthenticated`
    /// (oldest first) have not said hello.
    public func admission<ID>(open: Int, unauthenticated: [ID]) -> Admission<ID> {
        guard open >= maxConnections else { return .admit }
        if let oldest = unauthenticated.first { return .admitEvicting(oldest) }
        return .refuse
    }
}

/// Decides which refused connections get a log line: the first refusal of each (host, reason)
/// in a window, and at most `burst` lines a window in all; the count of lines held back is added to
/// the next line written. So a flood of connections costs a few lines, and a real peer refused is
/// always seen once. Pure: the caller supplies the clock.
public struct RefusalLog: Sendable {
    public let window: Double
    public let burst: Int
    private var lastLogged: [String: Double] = [:]
    private var windowStart = -Double.infinity
    private var linesInWindow = 0
    /// Refusals not logged since the last line.
    public private(set) var suppressed = 0

    public init(window: Double = 60, burst: Int = 10) {
        self.window = window
        self.burst = burst
    }

    /// The line to log for a refusal of `address` (host:port) for `reason` at `now`, or nil.
    public mutating func record(address: String, host: String, reason: String, now: Double) -> String? {
        if now - windowStart >= window {
            windowStart = now
            linesInWindow = 0
            lastLogged = lastLogged.filter { now - $0.value < window }
        }
        let key = host + " " + reason
        if let last = lastLogged[key], now - last < window {
            suppressed += 1
            return nil
        }
        guard linesInWindow < burst else {
            suppressed += 1
            return nil
        }
        lastLogged[key] = now
        linesInWindow += 1
        var line = "refused connection from \(address): \(reason)"
        if suppressed > 0 {
            line += " (\(suppressed) more refusal\(suppressed == 1 ? "" : "s") not logged)"
            suppressed = 0
        }
        return line
    }
}
