/// The decisions of a training task (a worker, or the chief, which trains like a worker and does
/// more), as a value-type state machine: the shell reports what happened, the machine answers
/// with what to do next. No sockets, no clocks: time arrives inside events, so every recovery path
/// is a plain unit test.
///
/// The loop, once the cluster is initialized: pull → compute → push → pull …
/// Failures: an unreachable or silent ps is retried with backoff until `peerTimeout`; a stale
/// incarnation means the chief restored the cluster, so re-learn it and pull again; an empty
/// (restarted) ps makes the chief restore every shard from the latest checkpoint under a new
/// incarnation, while workers wait for that.
///
/// The machine also keeps the plan: `handle(_:)` returns the directives it just decided and merges
/// them into `pending` (a failure replaces the plan, anything else runs before what was already
/// planned); the shell takes them one at a time with `nextDirective()`.
public struct TrainerMachine: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var isChief: Bool
        public var maxSteps: Int64
        public var checkpointEvery: Int64
        public var evalEvery: Int64
        public var backoff: Backoff
        /// Seconds of continuous failure to reach the cluster before giving up.
        public var peerTimeout: Double
        /// Chief, at the end: seconds to keep trying to read the final variables before falling
        /// back to polling the cluster.
        public var finalPullWindow: Double
        /// Chief, at the end: seconds after which a final pull is accepted even though some shard
        /// has not reached the last step yet (a push that will never arrive).
        public var finalPullSettle: Double
        /// Chief, at the end: the pause between failed final pulls.
        public var finalPullBackoff: Backoff
        /// Chief, at the end: the pause before pulling again while a last push is still arriving.
        public var finalPullPoll: Double
        /// Keep training when a step's loss or gradients are not finite (`--allow-divergence`);
        /// otherwise such a step fails the job.
        public var allowDivergence: Bool

        public init(isChief: Bool, maxSteps: Int64, checkpointEvery: Int64, evalEvery: Int64,
                    backoff: Backoff = Backoff(), peerTimeout: Double = 60, finalPullWindow: Double = 10,
                    finalPullSettle: Double = 2, finalPullBackoff: Backoff = Backoff(), finalPullPoll: Double = 0.005,
                    allowDivergence: Bool = false) {
            self.isChief = isChief
            self.maxSteps = maxSteps
            self.checkpointEvery = checkpointEvery
            self.evalEvery = evalEvery
            self.backoff = backoff
            self.peerTimeout = peerTimeout
            self.finalPullWindow = finalPullWindow
            self.finalPullSettle = finalPullSettle
            self.finalPullBackoff = finalPullBackoff
            self.finalPullPoll = finalPullPoll
            self.allowDivergence = allowDivergence
        }
    }

    public enum Phase: Sendable, Equatable {
        /// Learning the cluster's state (at start, and after a failure).
        case connecting
        /// The chief is setting or restoring the variables.
        case initializing
        case training
        /// The chief is writing the final checkpoint and shutting the job down.
        case finishing
        case exited
    }

    public enum Event: Sendable, Equatable {
        case started(now: Double)
        /// Every ps answered hello/status.
        case clusterPolled([Status], now: Double)
        /// At least one ps could not be reached or did not answer in time.
        case clusterUnreachable(reason: String, now: Double)
        /// The chief finished initializing every ps under `incarnation`, at `globalStep`.
        case clusterInitialized(incarnation: UInt32, globalStep: Int64)
        /// Every shard answered the pull: `globalStep` is the lowest shard's, `done` whether every one is done.
        case pulled(globalStep: Int64, done: Bool, now: Double)
        /// The gradients of a step are computed: the batch's mean `loss`, and whether every
        /// gradient is finite.
        case stepComputed(loss: Double, gradientsFinite: Bool = true)
        /// Every shard answered the push (merged: see `MergedPush`). `carriedValues`: the replies
        /// held every shard's values after the update, so there is nothing to pull before the next step.
        case pushed(PushReply, now: Double, carriedValues: Bool = false)
        /// Chief, at the end: every shard answered the final pull (values and optimizer slots).
        case finalStatePulled(globalStep: Int64, allDone: Bool, now: Double)
        /// An RPC failed: with a server's error code, or none for a transport failure or timeout.
        case rpcFailed(WireError.Code?, reason: String, now: Double)
        case checkpointWritten(step: Int64)
        case evaluated(step: Int64)
        /// Chief: some ps holds no snapshot of `step` yet (its global step is short of it); the next
        /// push asks again.
        case snapshotUnavailable(step: Int64, reason: String)
        /// The chief (or the launcher) asked this task to stop.
        case shutdownRequested(reason: String)
        /// SIGTERM: a preemption notice.
        case preempted
        /// The chief finished the job: final checkpoint and model written and read back, every task
        /// told to stop.
        case jobFinished
        /// The chief could not finish the job truthfully: its final checkpoint or model could not be
        /// written or did not read back (every task was told to stop all the same).
        case finishFailed(reason: String)
    }

    public enum Directive: Sendable, Equatable {
        /// Hello (or status) every ps; report `clusterPolled` or `clusterUnreachable`.
        case pollCluster
        /// Chief: set every shard under `incarnation`, from the latest valid checkpoint if there is
        /// one, else fresh; report `clusterInitialized`.
        case initializeCluster(incarnation: UInt32)
        /// Pull every shard under `incarnation`; report `pulled`.
        case pull(incarnation: UInt32)
        /// Compute gradients on the next batch; report `stepComputed` with the loss.
        case computeStep
        /// Push the gradients to every shard; report `pushed`.
        case push
        /// Chief: write a checkpoint of the current parameters; report `checkpointWritten`.
        case writeCheckpoint
        /// Chief: write the checkpoint of exactly global step `step` (a multiple of
        /// `checkpointEvery`) from the snapshot every ps took when it reached that step; report
        /// `checkpointWritten` or `snapshotUnavailable`.
        case checkpointSnapshot(step: Int64)
        /// Chief: evaluate on the held-out data the parameters every ps snapshotted at exactly
        /// `step` (a multiple of `evalEvery`); report `evaluated` or `snapshotUnavailable`.
        case evaluate(step: Int64)
        /// Chief, at the end: pull every shard with its optimizer slots; report `finalStatePulled`
        /// (or `rpcFailed`).
        case pullFinalState
        /// Chief: with the state the final pull read (at `globalStep`), write the final checkpoint,
        /// evaluate, export the model, read both back and shut every task down; report
        /// `jobFinished`, or `finishFailed` when the checkpoint or the model did not read back.
        case finishJob(globalStep: Int64)
        /// Write a line to the task's log.
        case note(String)
        /// Sleep, then carry on with the next directive.
        case wait(seconds: Double)
        case exit(ExitCode, reason: String)
    }

    /// The exit code of a task that stopped on a preemption notice: 128 + SIGTERM, which
    /// restart policies treat as retryable.
    public static let preemptedExitCode = ExitCode(143)

    public let configuration: Configuration
    public private(set) var phase = Phase.connecting
    public private(set) var incarnation: UInt32 = 0
    public private(set) var globalStep: Int64 = 0
    public private(set) var lastCheckpointStep: Int64 = 0
    public private(set) var lastEvalStep: Int64 = 0
    public private(set) var failingSince: Double?
    public private(set) var attempts = 0
    /// How many times this task saw the cluster restored under a new incarnation.
    public private(set) var restores = 0
    /// Whether a non-finite loss was already reported (with `allowDivergence`, once).
    public private(set) var divergenceNoted = false
    /// Chief, at the end: when the final pull began and how many attempts failed; nil otherwise.
    public private(set) var finalPull: (since: Double, failures: Int)?
    /// The chief is reading the final state and finishing the job (from the first final pull to
    /// `jobFinished`, unless the final pull gives up). The shell performs this stretch as one step:
    /// it holds signals until it ends, and its pauses are not cut short.
    public private(set) var isFinishingTheJob = false
    /// The directives planned and not yet taken, in order.
    public private(set) var pending: [Directive] = []

    public init(_ configuration: Configuration) { self.configuration = configuration }

    /// Whether a directive is waiting for the shell.
    public var hasPendingDirectives: Bool { !pending.isEmpty }

    /// The next directive to perform, removed from the plan; nil when nothing is planned.
    public mutating func nextDirective() -> Directive? {
        pending.isEmpty ? nil : pending.removeFirst()
    }

    /// Takes an event: returns the directives it calls for and merges them into `pending`. After a
    /// failure, a restore, a preemption or a shutdown request they replace the plan (it was made for
    /// a world that no longer holds); otherwise they run before what was already planned.
    @discardableResult
    public mutating func handle(_ event: Event) -> [Directive] {
        if case .shutdownRequested = event, phase == .finishing {
            return []  // the chief finishing the job is the one that asked everyone to stop
        }
        let exitedBefore = phase == .exited
        let next = decide(event)
        switch event {
        case .rpcFailed, .clusterUnreachable, .clusterPolled, .preempted, .shutdownRequested: pending = next
        default:
            // A decision to exit replaces the plan: nothing planned outlives it.
            pending = !exitedBefore && phase == .exited ? next : next + pending
        }
        return next
    }

    private mutating func decide(_ event: Event) -> [Directive] {
        guard phase != .exited else { return [] }
        switch event {
        case .started(let now):
            failingSince = now
            phase = .connecting
            return [.pollCluster]

        case .clusterPolled(let statuses, let now):
            return clusterPolled(statuses, now: now)

        case .clusterUnreachable(let reason, let now):
            return retry(reason: reason, now: now)

        case .clusterInitialized(let inc, let step):
            incarnation = inc
            globalStep = step
            // The schedules restart from the restored step, even one before checkpoints already
            // written (a damaged newest checkpoint): its multiples are trained, and held at, again.
            lastCheckpointStep = step
            lastEvalStep = step
            recovered()
            phase = .training
            if configuration.isChief && step >= configuration.maxSteps {
                // Restored from a checkpoint of a finished job: no step to take; the pull finds every
                // shard done, and the job's end (final checkpoint, model) is written again.
                return [.note("already at step \(step) of \(configuration.maxSteps): nothing to train"), .pull(incarnation: incarnation)]
            }
            return [.pull(incarnation: incarnation)]

        case .pulled(let step, let done, let now):
            recovered()
            globalStep = max(globalStep, step)
            if done { return reachedEnd(now: now) }
            return [.computeStep]

        case .stepComputed(let loss, let gradientsFinite):
            guard loss.isFinite && gradientsFinite else { return diverged(loss: loss, gradientsFinite: gradientsFinite) }
            return [.push]

        case .pushed(let reply, let now, let carriedValues):
            recovered()
            globalStep = max(globalStep, reply.globalStep)
            // Every shard done: the end. A shard already done while another is not yet answers
            // without applying, and the trainer goes on until the last one is done too.
            if reply.done { return reachedEnd(now: now) }
            var next: [Directive] = []
            if configuration.isChief {
                // Exactly the multiples of the intervals, however far past one this push landed: the
                // ps snapshotted each when its step reached it. Several passed at once: the latest.
                let checkpointAt = globalStep / configuration.checkpointEvery * configuration.checkpointEvery
                if checkpointAt > lastCheckpointStep { next.append(.checkpointSnapshot(step: checkpointAt)) }
                let evaluateAt = globalStep / configuration.evalEvery * configuration.evalEvery
                if evaluateAt > lastEvalStep { next.append(.evaluate(step: evaluateAt)) }
            }
            // The push brought every shard's values back: train on them without asking again.
            return next + [carriedValues ? .computeStep : .pull(incarnation: incarnation)]

        case .finalStatePulled(let step, let allDone, let now):
            guard let final = finalPull else { return [] }
            if allDone || now - final.since > configuration.finalPullSettle {
                finalPull = nil
                return [.finishJob(globalStep: step)]
            }
            // A last push is still arriving at some shard.
            return finalPullAgain(after: configuration.finalPullPoll, now: now)

        case .rpcFailed(_, let reason, let now) where finalPull != nil:
            let failures = finalPull?.failures ?? 0
            finalPull?.failures = failures + 1
            return [.note("final pull failed (\(reason)); retrying")]
                + finalPullAgain(after: configuration.finalPullBackoff.delay(attempt: failures), now: now)

        case .rpcFailed(let code, let reason, let now):
            switch code {
            case .held?:
                // The ps hold the cluster (the start barrier, or a failure scenario's fault step):
                // try again shortly.
                recovered()
                return [.wait(seconds: 0.02), .pull(incarnation: incarnation)]
            case .checkpointPending?:
                // A ps holds at a multiple of checkpointEvery until the chief collects it.
                recovered()
                if configuration.isChief {
                    let due = (lastCheckpointStep / configuration.checkpointEvery + 1) * configuration.checkpointEvery
                    return [.checkpointSnapshot(step: due), .pull(incarnation: incarnation)]
                }
                return [.wait(seconds: 0.005), .pull(incarnation: incarnation)]
            case .nonFiniteGradients?:
                // The ps refused gradients that are NaN or infinite: the model diverged.
                return stop(.jobFailed, reason)
            case .badToken?, .badRequest?, .helloRequired?, .unknownTask?:
                return stop(.clusterError, reason)
            case .shuttingDown?:
                return stop(.success, "the job is over: \(reason)")
            case .staleIncarnation?:
                phase = .connecting
                return [.pollCluster]
            case .notInitialized?:
                phase = .connecting
                if configuration.isChief {
                    // A parameter server came back empty: restore every shard, one consistent version.
                    phase = .initializing
                    restores += 1
                    return [.initializeCluster(incarnation: incarnation + 1)]
                }
                return retry(reason: reason, now: now)
            default:
                return retry(reason: reason, now: now)
            }

        case .checkpointWritten(let step):
            lastCheckpointStep = max(lastCheckpointStep, step)
            return []

        case .evaluated(let step):
            lastEvalStep = max(lastEvalStep, step)
            return []

        case .snapshotUnavailable:
            return []  // lastCheckpointStep / lastEvalStep unchanged: the next push asks again

        case .shutdownRequested(let reason):
            return stop(.success, reason)

        case .preempted:
            if configuration.isChief && phase == .training {
                phase = .exited
                return [.writeCheckpoint, .exit(TrainerMachine.preemptedExitCode, reason: "preempted (SIGTERM): checkpointed at step \(globalStep) and stopped")]
            }
            return stop(TrainerMachine.preemptedExitCode, "preempted (SIGTERM)")

        case .jobFinished:
            isFinishingTheJob = false
            return stop(.success, "finished at global step \(globalStep)")

        case .finishFailed(let reason):
            isFinishingTheJob = false
            return stop(.jobFailed, reason)
        }
    }

    /// A step whose loss or gradients are not finite: the job fails (exit 6, which no restart
    /// policy retries), unless `allowDivergence`, when it is reported once and the step is pushed.
    private mutating func diverged(loss: Double, gradientsFinite: Bool) -> [Directive] {
        let what = loss.isFinite ? "gradients are not finite (loss \(loss))" : "loss is \(loss)"
        if configuration.allowDivergence {
            if divergenceNoted { return [.push] }
            divergenceNoted = true
            return [.note("warning: diverged at step \(globalStep): \(what); training on (--allow-divergence)"), .push]
        }
        return stop(.jobFailed, "diverged at step \(globalStep): \(what) (pass --allow-divergence to train on)")
    }

    private mutating func clusterPolled(_ statuses: [Status], now: Double) -> [Directive] {
        let incarnations = Set(statuses.map(\.incarnation))
        let intact = !statuses.isEmpty && statuses.allSatisfy(\.initialized) && incarnations.count == 1
        if intact {
            incarnation = incarnations.first!
            globalStep = max(globalStep, statuses.map(\.globalStep).max() ?? 0)
            if phase == .connecting && configuration.isChief && lastCheckpointStep == 0 {
                // A (re)started chief adopting live state: the schedules go on from where training
                // is; a ps holding at exactly this step for its checkpoint still gets it collected.
                lastCheckpointStep = max(0, globalStep - 1)
                lastEvalStep = globalStep
            }
            recovered()
            if !statuses.isEmpty && statuses.allSatisfy(\.done) { return reachedEnd(now: now) }
            phase = .training
            return [.pull(incarnation: incarnation)]
        }
        if configuration.isChief {
            // Fresh cluster, or some ps lost its state: (re)initialize everyone under a new incarnation.
            phase = .initializing
            let newest = max(incarnation, incarnations.max() ?? 0)
            if newest > 0 { restores += 1 }
            return [.initializeCluster(incarnation: newest + 1)]
        }
        let waiting = statuses.filter { !$0.initialized }.map(\.task.description)
        let reason = waiting.isEmpty
            ? "parameter servers disagree on the cluster incarnation (the chief is restoring them)"
            : "waiting for the chief to initialize \(waiting.joined(separator: ", "))"
        return retry(reason: reason, now: now)
    }

    private mutating func reachedEnd(now: Double) -> [Directive] {
        if configuration.isChief {
            phase = .finishing
            finalPull = (since: now, failures: 0)
            isFinishingTheJob = true
            return [.pullFinalState]
        }
        return stop(.success, "the job reached its last step (\(globalStep))")
    }

    /// Pauses, then pulls the final state again, unless that would pass the final-pull window:
    /// then the pause, and the ordinary retry (polling the cluster, which leads back here).
    private mutating func finalPullAgain(after delay: Double, now: Double) -> [Directive] {
        guard let final = finalPull else { return [] }
        if now + delay - final.since >= configuration.finalPullWindow {
            finalPull = nil
            isFinishingTheJob = false
            return [.wait(seconds: delay)] + retry(reason: "could not read the final variables from the parameter servers", now: now + delay)
        }
        return [.wait(seconds: delay), .pullFinalState]
    }

    private mutating func retry(reason: String, now: Double) -> [Directive] {
        if phase == .training { phase = .connecting }
        let since = failingSince ?? now
        failingSince = since
        if now - since > configuration.peerTimeout {
            return stop(.clusterError, "gave up after \(Int(configuration.peerTimeout)) s: \(reason)")
        }
        let delay = configuration.backoff.delay(attempt: attempts)
        attempts += 1
        return [.wait(seconds: delay), .pollCluster]
    }

    private mutating func recovered() {
        failingSince = nil
        attempts = 0
    }

    private mutating func stop(_ code: ExitCode, _ reason: String) -> [Directive] {
        phase = .exited
        return [.exit(code, reason: reason)]
    }
}
