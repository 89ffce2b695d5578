#if canImport(Glibc)
import Glibc
#endif
import CTrainyardSupport
import TrainyardCore

/// What to run and how: executable, arguments, environment, working folder, output file, and
/// descriptors to pass on.
public struct SpawnRequest: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    /// Working folder; nil = the launcher's.
    public var workingDirectory: String?
    /// stdout and stderr go here (appended); nil = inherit the launcher's.
    public var outputPath: String?
    /// Descriptors to hand over: the child sees `inherited[i]` as descriptor 3 + i.
    public var inherited: [Int32]
    /// How the child is grouped: its own process group (the default), a new session (detached
    /// from the terminal: a job's supervisor), or the spawner's group (a shim's program).
    public var grouping: Grouping = .newProcessGroup
    /// Keep the spawner's stdin, stdout and stderr (instead of /dev/null and `outputPath`).
    public var keepStandardStreams = false
    /// stdout and stderr go to this descriptor of the spawner (a pipe's write end); wins over
    /// `outputPath` and `keepStandardStreams` for those two.
    public var outputDescriptor: Int32?

    public enum Grouping: Sendable {
        case newProcessGroup
        case newSession
        case sameGroup
    }

    public init(executable: String, arguments: [String] = [], environment: [String: String] = [:],
                workingDirectory: String? = nil, outputPath: String? = nil, inherited: [Int32] = [],
                grouping: Grouping = .newProcessGroup, keepStandardStreams: Bool = false) {
        self.grouping = grouping
        self.keepStandardStreams = keepStandardStreams
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.outputPath = outputPath
        self.inherited = inherited
    }
}

/// How a child process ended.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// The shell-style status: the exit code, or 128 + the signal number.
    public var code: Int32 {
        switch self {
        case .exited(let c): return c
        case .signaled(let s): return 128 + s
        }
    }

    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let c): return "exit \(c)"
        case .signaled(let s): return "killed by \(signalName(s))"
        }
    }
}

public func signalName(_ s: Int32) -> String {
    switch s {
    case SIGKILL: return "SIGKILL"
    case SIGTERM: return "SIGTERM"
    case SIGINT: return "SIGINT"
    case SIGSEGV: return "SIGSEGV"
    case SIGABRT: return "SIGABRT"
    case SIGILL: return "SIGILL"
    case SIGBUS: return "SIGBUS"
    case SIGSTOP: return "SIGSTOP"
    case SIGPIPE: return "SIGPIPE"
    case SIGTRAP: return "SIGTRAP"
    default: return "signal \(s)"
    }
}

/// Starts and reaps child processes (posix_spawn). Each child leads its own process group, so a
/// signal to the group reaches anything it starts, and a terminal's Ctrl-C reaches only the
/// launcher, which then stops its children in order.
public enum ProcessSpawner {
    public static func spawn(_ request: SpawnRequest) throws(SystemError) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // Each file action is checked: glibc refuses a descriptor number at or above the soft
        // RLIMIT_NOFILE with EBADF, and an action left out would start the child without it.
        func add(_ name: String, _ rc: Int32) throws(SystemError) {
            if rc != 0 { throw SystemError(name, errno: rc, detail: request.executable) }
        }
        // Passed descriptors go out of the way first, then into place at 3, 4, …: first to spare
        // numbers, the lowest from 3 + count up that are neither a passed descriptor nor the
        // output one, so no move overwrites a descriptor still to be moved, and every spare stays
        // under 3 + 2·count, far below any descriptor limit. (Fixed spares at 100, 101, … did
        // overwrite: a launcher with 50 ps holds its listeners around 100, and ps-40's Unix-domain
        // listener became its TCP one.) Moving them before 0, 1 and 2 are set up keeps a passed
        // descriptor that is one of those.
        let count = request.inherited.count
        let taken = Set(request.inherited + (request.outputDescriptor.map { [$0] } ?? []))
        var spares: [Int32] = []
        var candidate = Int32(3 + count)
        while spares.count < count {
            if !taken.contains(candidate) { spares.append(candidate) }
            candidate += 1
        }
        for (fd, spare) in zip(request.inherited, spares) {
            try add("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, fd, spare))
        }
        if !request.keepStandardStreams {
            try add("posix_spawn_file_actions_addopen", posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0))
        }
        if let out = request.outputPath {
            try add("posix_spawn_file_actions_addopen", posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0o644))
            try add("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, 1, 2))
        }
        if let fd = request.outputDescriptor {
            try add("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, fd, 1))
            try add("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, fd, 2))
        }
        for (i, spare) in spares.enumerated() {
            try add("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, spare, Int32(3 + i)))
            try add("posix_spawn_file_actions_addclose", posix_spawn_file_actions_addclose(&actions, spare))
        }
        // Nothing else of ours leaks into the child: a descriptor a child keeps open can make a
        // parent (or a test harness) wait for an EOF that never comes.
        _ = ty_spawn_file_actions_addclosefrom(&actions, Int32(3 + request.inherited.count))
        if let dir = request.workingDirectory {
            guard ty_spawn_file_actions_addchdir(&actions, dir) == 0 else {
                throw SystemError("posix_spawn_file_actions_addchdir", errno: ENOSYS, detail: dir)
            }
        }

        var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        switch request.grouping {
        case .newProcessGroup:
            flags |= Int16(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        case .newSession:
            flags |= 0x80  // POSIX_SPAWN_SETSID (glibc ≥ 2.26)
        case .sameGroup:
            break
        }
        posix_spawnattr_setflags(&attributes, flags)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = [request.executable] + request.arguments
        let env = request.environment.map { "\($0.key)=\($0.value)" }.sorted()
        let result: Result<Int32, SystemError> = withCStrings(argv) { cArgv in
            withCStrings(env) { cEnv in
                Result { () throws(SystemError) -> Int32 in
                    try Posix.spawn(request.executable, actions: &actions, attributes: &attributes, argv: cArgv, environment: cEnv)
                }
            }
        }
        return try result.get()
    }

    /// Reaps `pid` if it has ended: how it ended and its peak resident set in bytes; nil while it
    /// runs. Only that child is touched (`wait4` on that pid, WNOHANG), so other children of this
    /// process are left to their owners.
    public static func reap(_ pid: Int32) -> (termination: Termination, peakRSSBytes: Int)? {
        guard pid > 0, let reaped = try? Posix.reap(pid), reaped.pid == pid else { return nil }
        return (termination(reaped.status), reaped.maxRSSBytes)
    }

    /// Waits for `pid` to end, up to `timeout` seconds; nil if it is still running.
    public static func wait(_ pid: Int32, timeout: Double) -> Termination? {
        let deadline = Deadline.after(seconds: timeout)
        while true {
            if let (t, _) = reap(pid) { return t }
            if deadline.hasPassed { return nil }
            MonotonicClock.sleep(seconds: 0.01)
        }
    }

    static func termination(_ status: Int32) -> Termination {
        let low = status & 0x7F
        if low == 0 { return .exited((status >> 8) & 0xFF) }
        return .signaled(low)
    }

    /// Sends `signal` to the child's whole process group (falls back to the child alone); `0`
    /// means this process's own group.
    public static func signalGroup(_ pid: Int32, _ signal: Int32) {
        if !Posix.kill(-pid, signal) && pid != 0 { Posix.kill(pid, signal) }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
