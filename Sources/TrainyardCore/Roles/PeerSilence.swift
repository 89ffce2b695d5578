/// What a trainer knows about the peers that do not answer while it connects: for each, its
/// address, the kinds of failure seen since it last answered (in the order first seen) and whether
/// it ever answered. It names the silent task in the error a trainer gives up with, e.g.
/// `ps-1 (myjob-ps-1.default.svc:2222) never answered: name not resolved / connection refused`.
///
/// A name that does not resolve yet (a pod not scheduled, a DNS record not published) is retried
/// like a refused connection: both are what a peer that has not started yet looks like.
public struct PeerSilence: Sendable, Equatable {
    public enum Failure: String, Sendable, Equatable {
        case notResolved = "name not resolved"
        case refused = "connection refused"
        case timedOut = "no answer in time"
        case closed = "connection closed"
        case other = "connection failed"
    }

    private struct Record: Sendable, Equatable {
        var address: HostPort
        var failures: [Failure] = []
    }

    private var silent: [TaskID: Record] = [:]
    private var answered: Set<TaskID> = []

    public init() {}

    /// `task` at `address` did not answer, for `failure`.
    public mutating func failed(_ task: TaskID, at address: HostPort, _ failure: Failure) {
        var record = silent[task] ?? Record(address: address)
        record.address = address
        if !record.failures.contains(failure) { record.failures.append(failure) }
        silent[task] = record
    }

    /// `task` answered: it is no longer silent.
    public mutating func answered(_ task: TaskID) {
        silent[task] = nil
        answered.insert(task)
    }

    /// Whether `task` is silent now.
    public func isSilent(_ task: TaskID) -> Bool { silent[task] != nil }

    /// One line about a silent task: `ps-1 (host:2222) never answered: name not resolved / connection
    /// refused` (`stopped answering` for a task that answered before); nil when it is not silent.
    public func describe(_ task: TaskID) -> String? {
        guard let record = silent[task] else { return nil }
        let verb = answered.contains(task) ? "stopped answering" : "never answered"
        let why = record.failures.map(\.rawValue).joined(separator: " / ")
        return "\(task) (\(record.address)) \(verb): \(why)"
    }
}
