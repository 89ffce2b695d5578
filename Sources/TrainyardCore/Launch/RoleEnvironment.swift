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
