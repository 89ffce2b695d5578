/// What the machine says about a job's supervisor right now, measured by the shell (JobStore) and
/// judged here, so that a record shown to a user never claims a job runs when nothing runs it.
public struct SupervisorObservation: Sendable, Equatable {
    /// The start time (clock ticks after boot, `/proc/PID/stat` field 22) of the live, non-zombie
    /// process that now holds the record's supervisor pid; nil when no live process holds it.
    public var startTicksOfPID: Int?
    /// The supervisor's last heartbeat (Unix seconds); nil when it never wrote one.
    public var lastHeartbeat: Double?

    public init(startTicksOfPID: Int?, lastHeartbeat: Double?) {
        self.startTicksOfPID = startTicksOfPID
        self.lastHeartbeat = lastHeartbeat
    }
}

extension JobRecord {
    /// Whether `observation` shows the recorded supervisor is gone: no live process holds its pid,
    /// or the one that does started at another time (the pid was reused). False for a record with
    /// no supervisor yet (the submit has not recorded it) and for a record without a start time
    /// (written before start times were recorded), whose pid alone is trusted.
    public func supervisorIsGone(_ observation: SupervisorObservation) -> Bool {
        guard supervisorPID != nil else { return false }
        guard let ticks = observation.startTicksOfPID else { return true }
        if let recorded = supervisorStartTicks { return ticks != recorded }
        return false
    }

    /// The record as it should read given `observation`: an unfinished job whose supervisor is
    /// gone has ended — FAILED ("the job's supervisor (pid N) died"), or CANCELLED when it was
    /// being cancelled — at the supervisor's last heartbeat, the best estimate of when it died
    /// (never before the record's last change). Cost stops accruing there. Otherwise unchanged.
    public func reconciled(with observation: SupervisorObservation) -> JobRecord {
        guard !state.isTerminal, supervisorIsGone(observation), let pid = supervisorPID else { return self }
        let lastChange = history.last!.time
        let died = max(observation.lastHeartbeat ?? lastChange, lastChange)
        var r = self
        // Every unfinished state may end this way (JobState.next), so the transition cannot fail.
        try? r.transition(to: state == .cancelling ? .cancelled : .failed, at: died, error: "the job's supervisor (pid \(pid)) died")
        return r
    }
}
