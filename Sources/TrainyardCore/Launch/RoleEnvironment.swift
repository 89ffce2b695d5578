/// The environment variables the launcher sets for each role process: the contract between the
/// launcher (TrainyardLaunch) and the roles (TrainyardRoles).
public enum RoleEnvironment {
    /// TensorFlow's cluster spec and this task's place in it.
    public static let tfConfig = "TF_CONFIG"
    /// The per-job secret every hello must carry.
    public static let token = "TRAINYARD_JOB_TOKEN"
    /// A listening socket the launcher already bound for this task (descriptor number).
    public static let listenFD = "TRAINYARD_LISTEN_FD"
    /// The launcher's pid: the task exits when its parent is no longer this process.
    public static let parentPID = "TRAINYARD_PARENT_PID"
    /// Bytes per second for this task's outgoing traffic (bandwidth emulation).
    public static let bandwidth = "TRAINYARD_NET_BANDWIDTH"
    /// A JSON file of network and compute faults the task polls (fault injection).
    public static let faultFile = "TRAINYARD_FAULT_FILE"
    /// Seconds a new connection has to send its hello (`WireLimits.handshakeTimeout`, 10 by default).
    public static let handshakeTimeout = "TRAINYARD_HANDSHAKE_TIMEOUT"
    /// Seconds a connection that said hello may stay silent (`WireLimits.idleTimeout`, 300 by default).
    public static let idleTimeout = "TRAINYARD_IDLE_TIMEOUT"
    /// Connections a task's listener keeps at once (`WireLimits.maxConnections`, 256 by default).
    public static let maxConnections = "TRAINYARD_MAX_CONNECTIONS"
}

extension RoleEnvironment {
    /// A Unix-domain listening socket the launcher bound for this task beside its TCP one
    /// (descriptor number): the same-host fast path. The task serves both alike.
    public static let localListenFD = "TRAINYARD_LOCAL_LISTEN_FD"
    /// The prefix of this cluster's local socket names: task T listens on the abstract Unix-domain
    /// name `<prefix>/<T>` (`localSocketName`). Set by the launcher; a task connects to a peer there
    /// first and over TCP at its TF_CONFIG address when nothing answers.
    public static let localSockets = "TRAINYARD_LOCAL_SOCKETS"
    /// `0`: same-host connections move every array through the socket, not through shared memory
    /// (`trainyard train --no-shared-memory`). Unset or anything else: shared memory where it can.
    public static let sharedMemory = "TRAINYARD_SHARED_MEMORY"

    /// The abstract Unix-domain name task `task` listens on in the cluster whose prefix is `prefix`.
    public static func localSocketName(prefix: String, task: TaskID) -> String { "\(prefix)/\(task)" }

    /// A file holding the job token (a mounted Kubernetes Secret), for roles run without the launcher.
    public static let tokenFile = "TRAINYARD_JOB_TOKEN_FILE"
    /// The host a role run by hand listens on instead of its TF_CONFIG address's (`0.0.0.0`: every
    /// interface); the port always comes from TF_CONFIG. Ignored when the launcher passes a socket.
    public static let listenHost = "TRAINYARD_LISTEN_HOST"

    /// The most a token file may hold: a token is a short secret, and the file is not trusted.
    public static let tokenFileLimit = 4096

    /// The job token from `TRAINYARD_JOB_TOKEN` or the file `TRAINYARD_JOB_TOKEN_FILE` names (its
    /// trailing newlines stripped). `readFile` reads at most `limit` bytes of a file (more: it
    /// throws, like an unreadable file). Both set is allowed only when they agree.
    public static func token(environment: [String: String], readFile: (_ path: String, _ limit: Int) throws -> [UInt8]) throws(UsageError) -> String {
        let direct = environment[token]
        guard let path = environment[tokenFile] else {
            guard let direct, !direct.isEmpty else {
                throw UsageError("\(token) is not set: every task of a job needs the same job token (the launcher sets it; run by hand, set \(token), or \(tokenFile) to a file that holds it)")
            }
            return direct
        }
        guard !path.isEmpty else {
            throw UsageError("\(tokenFile) is set but empty: give the path of a file holding the job token (a mounted Secret), or unset it")
        }
        let bytes: [UInt8]
        do {
            bytes = try readFile(path, tokenFileLimit + 1)
        } catch {
            throw UsageError("\(tokenFile): cannot read the job token from \(path): \(error)")
        }
        guard bytes.count <= tokenFileLimit else {
            throw UsageError("\(tokenFile): \(path) is larger than \(tokenFileLimit) bytes: it should hold only the job token")
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text.removeLast() }
        guard !text.isEmpty else {
            throw UsageError("\(tokenFile): \(path) is empty: it must hold the job token (every task of a job needs the same one)")
        }
        guard !text.contains("\n") && !text.contains("\r") else {
            throw UsageError("\(tokenFile): \(path) holds several lines: it must hold only the job token")
        }
        if let direct, !direct.isEmpty, direct != text {
            throw UsageError("\(token) and \(tokenFile) (\(path)) give different job tokens: set only one of them")
        }
        return text
    }

    /// The host to listen on given by `TRAINYARD_LISTEN_HOST` (nil: the TF_CONFIG address's own host).
    public static func listenHost(environment: [String: String]) throws(UsageError) -> String? {
        guard let host = environment[listenHost] else { return nil }
        let trimmed = String(host.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
        guard !trimmed.isEmpty else {
            throw UsageError("\(listenHost) is set but empty: give a host or address to listen on (0.0.0.0 for every interface), or unset it to listen on the TF_CONFIG address")
        }
        // One colon is host:port; an IPv6 address has several.
        if trimmed.filter({ $0 == ":" }).count == 1 || trimmed.hasPrefix("[") {
            throw UsageError("\(listenHost) is '\(host)': give only the host (e.g. 0.0.0.0, or :: for IPv6); the port always comes from TF_CONFIG")
        }
        guard trimmed.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }) else {
            throw UsageError("\(listenHost) is '\(host)': not a host name or address")
        }
        return trimmed
    }
}
