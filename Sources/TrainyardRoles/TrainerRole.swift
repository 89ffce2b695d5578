import Foundation
import Synchronization
import TrainyardCore
import TrainyardPlatform

/// A training task's process — a worker, or the chief — running `TrainerMachine` over real sockets.
///
/// The loop: pull every shard from the parameter servers, compute gradients on a batch of this
/// task's data shard, push each shard's gradients. The chief also initializes or restores the
/// cluster, checkpoints, evaluates, and ends the job. What to do next is `TrainerMachine`'s
/// decision; talking to the shards as one is `ShardSet`'s; this class performs the directives.
public final class TrainerRole {
    private let context: RoleContext
    private let log: RoleLog
    private let settings: TrainSettings
    private let isChief: Bool
    private let architecture: MLPArchitecture
    private let data: DataSplit
    private let trainer: MLPTrainer
    private var sampler: BatchSampler
    private var parameters: [Float]
    /// The parameters of a ps snapshot (a checkpoint or evaluation at an exact step), kept apart
    /// from the ones this task trains on.
    private var snapshot: [Float]
    private var gradients: [Float]
    private var batchFeatures: [Float]
    private var batchLabels: [Int32]
    private let shards: ShardSet
    /// The optimizer slots the last final pull read (whole-model arrays), for the final checkpoint.
    private var finalSlots: [[Float]] = []
    private var machine: TrainerMachine
    private let metrics: MetricsLog
    private let store: CheckpointStore
    private let control: FrameServer
    private let faults: FaultWatcher
    private var resetGeneration = 0
    private let shared: SharedState

    /// What the control server's threads and the training loop share.
    private final class SharedState: Sendable {
        /// Set when the chief (or anyone with the token and the chief's role) ends the job.
        let shutdownReason = Mutex<String?>(nil)
        /// What this task answers to `status`.
        let published: Mutex<Status>
        init(_ status: Status) { published = Mutex(status) }
    }

    // Progress of this task.
    private var localSteps = 0
    private var metricRecords = 0
    private var window = (steps: 0, loss: 0.0, correct: 0, start: MonotonicClock.now())
    private var lastEvaluation: (step: Int64, loss: Double, accuracy: Double)?
    private var stepLoss = 0.0
    private var stepCorrect = 0

    public init(context: RoleContext) throws {
        self.context = context
        log = context.log
        settings = context.settings
        isChief = context.task.type.isChief

        let cluster = context.config.cluster
        let trainingTasks = cluster.trainingTasks
        guard let shard = trainingTasks.firstIndex(of: context.task) else {
            throw FieldError(source: "TF_CONFIG", path: "task", "\(context.task) is not a training task of the cluster")
        }
        data = try DataLoader.load(settings, shard: shard, of: trainingTasks.count)
        guard data.trainExamples.count > 0 else {
            throw FieldError(source: "--dataset", path: "", "shard \(shard) of \(trainingTasks.count) has no training examples: use more examples or fewer workers")
        }
        architecture = MLPArchitecture(inputs: data.trainExamples.inputs, hidden: settings.hidden, classes: data.trainExamples.classes)
        trainer = MLPTrainer(architecture: architecture, maxBatch: settings.batchSize)
        sampler = BatchSampler(examples: data.trainExamples, batchSize: settings.batchSize, seed: settings.seed &+ UInt64(shard) &* 7919)
        parameters = [Float](repeating: 0, count: architecture.parameterCount)
        snapshot = parameters
        gradients = [Float](repeating: 0, count: architecture.parameterCount)
        batchFeatures = [Float](repeating: 0, count: settings.batchSize * architecture.inputs)
        batchLabels = [Int32](repeating: 0, count: settings.batchSize)

        shards = try ShardSet(cluster: cluster, model: architecture, hello: Hello(token: context.token, task: context.task),
                              optimizer: settings.optimizerConfig, shaper: context.shaper, localName: context.localName(for:))
        machine = TrainerMachine(.init(
            isChief: isChief, maxSteps: Int64(settings.maxSteps), checkpointEvery: Int64(settings.checkpointEvery),
            evalEvery: Int64(settings.evalEvery), backoff: Backoff(initial: 0.05, maximum: 1.0),
            peerTimeout: max(settings.startupTimeout, settings.rpcTimeout * 3),
            finalPullWindow: max(settings.rpcTimeout * 3, 10),
            // Long enough for a last push from a trainer the machine has descheduled (on a busy
            // machine two seconds was not: a ps was left one update short); a live cluster's
            // last pushes arrive in milliseconds, so this is only waited out when a trainer died mid-push.
            finalPullSettle: max(settings.rpcTimeout, 10), finalPullBackoff: Backoff(), finalPullPoll: 0.005,
            allowDivergence: settings.allowDivergence))
        metrics = MetricsLog(jobDirectory: context.jobDirectory)
        store = CheckpointStore(jobDirectory: context.jobDirectory)

        let shared = SharedState(Status(task: context.task, initialized: false, incarnation: 0, globalStep: 0, done: false, shardElements: 0))
        self.shared = shared
        let controlLogic = TaskControl(token: context.token, members: context.members)
        let log = context.log
        let control = FrameServer(listener: context.listener, localListener: context.localListener, shaper: context.shaper, limits: context.wireLimits, log: { log($0) }) { connection in
            var peer = TaskControl.Peer()
            while let frame = connection.receiveRequest(authenticatedLimit: { TaskControl.payloadLimit }) {
                let status = shared.published.withLock { $0 }
                let directives = controlLogic.handle(frame, from: &peer, status: status)
                if let task = peer.task, !connection.isAuthenticated { connection.authenticate(as: task) }
                for directive in directives {
                    switch directive {
                    case .reply(let reply): try? connection.send(reply, until: .after(seconds: 2))
                    case .close:
                        if case .reply(let last)? = directives.first, case .error(let e) = last.message, !connection.isAuthenticated {
                            connection.refuse("\(e.code): \(e.message)")
                        }
                        return
                    case .shutdown(let reason): shared.shutdownReason.withLock { $0 = $0 ?? reason }
                    }
                }
            }
        }
        self.control = control
        faults = FaultWatcher.fromEnvironment(shaper: context.shaper, onReset: { control.resetConnections() })
    }

    public func run() -> ExitCode {
        let code = runLoop()
        writeProfile()
        return code
    }

    /// When this task's first training step began and its last one ended (`MonotonicClock`).
    private var trainingSpan: (first: Double, last: Double)?

    /// The task's own profile, one `kind: "profile"` record in `metrics.jsonl`: seconds in each
    /// `TimeCounters` bucket, the steps taken, the span from the first step's pull to the last
    /// push, and the process's CPU seconds (`trainyard bench cluster` reads it).
    private func writeProfile() {
        guard localSteps > 0 else { return }
        var fields: [(String, JSONValue)] = [("task", .string(context.task.description)), ("kind", "profile"),
                                             ("local_steps", JSONValue(localSteps)), ("batch", JSONValue(settings.batchSize))]
        if let span = trainingSpan { fields.append(("training_seconds", JSONValue(((span.last - span.first) * 1e6).rounded() / 1e6))) }
        fields.append(("cpu_seconds", JSONValue((Posix.processCPUSeconds() * 1e3).rounded() / 1e3)))
        metrics.append(fields + TimeCounters.process.fields)
    }

    private func runLoop() -> ExitCode {
        control.start(name: context.task.description)
        defer { control.stop() }
        faults.start(log: log)
        let placement = shards.isLocal ? "kept in this process (no parameter servers)" : "over \(shards.count) ps"
        log("model \(architecture) (\(architecture.parameterCount) parameters) \(placement); "
            + "\(data.trainExamples.count) training examples in this task's shard, batch \(settings.batchSize), kernel \(KernelInfo.backend)")

        feed(.started(now: MonotonicClock.now()))
        while machine.hasPendingDirectives {
            if !machine.isFinishingTheJob, let signal = Signals.take() {
                if signal == Signals.terminate {
                    log("SIGTERM: preemption notice")
                    feed(.preempted)
                } else {
                    log("interrupted")
                    return .interrupted
                }
            } else if let reason = shared.shutdownReason.withLock({ $0 }) {
                feed(.shutdownRequested(reason: "the chief ended the job: \(reason)"))  // ignored while finishing
            }
            let generation = faults.resetGeneration
            if generation != resetGeneration {
                resetGeneration = generation
                shards.reset()
            }
            guard let directive = machine.nextDirective() else { break }
            switch directive {
            case .pollCluster:
                feed(pollCluster())
            case .initializeCluster(let incarnation):
                feed(initializeCluster(incarnation: incarnation))
            case .pull(let incarnation):
                shards.incarnation = incarnation
                let started = MonotonicClock.now()
                if machine.phase == .training, trainingSpan == nil { trainingSpan = (started, started) }
                feed(TimeCounters.process.time(.pull) { pull() })
            case .computeStep:
                if !isChief { TrialVerdictGate.holdWhileChiefWaits(jobDirectory: context.jobDirectory) }
                let started = MonotonicClock.now()
                if trainingSpan == nil { trainingSpan = (started, started) }
                let gradientsFinite = computeStep()
                let factor = faults.slowFactor
                if factor > 1 { sleepInterruptibly((MonotonicClock.now() - started) * (factor - 1)) }
                feed(.stepComputed(loss: stepLoss, gradientsFinite: gradientsFinite))
            case .push:
                feed(TimeCounters.process.time(.push) { push() })
                trainingSpan?.last = MonotonicClock.now()
            case .writeCheckpoint:
                feed(writeCheckpoint())
            case .checkpointSnapshot(let step):
                feed(writeCheckpoint(snapshotAt: step))
            case .evaluate(let step):
                let evaluated = evaluate(snapshotAt: step)
                // A sweep trial waits here for the sweep's verdict on this evaluation.
                if case .evaluated = evaluated {
                    TrialVerdictGate.hold(afterEvaluationAt: step, jobDirectory: context.jobDirectory, log: log)
                }
                feed(evaluated)
            case .pullFinalState:
                feed(pullFinalState())
            case .finishJob(let step):
                feed(finishJob(globalStep: step))
            case .note(let line):
                log(line)
            case .wait(let seconds):
                sleepInterruptibly(seconds)
            case .exit(let code, let reason):
                log("exit \(code): \(reason)")
                if (1...127).contains(code.rawValue) {
                    // The launcher quotes a failed task's last line in the job's outcome.
                    Posix.write(TaskLog.errorLine(reason), to: 1)
                }
                return code
            }
        }
        return .success
    }

    /// Hands an event to the machine (which plans what comes next) and publishes the new status.
    private func feed(_ event: TrainerMachine.Event) {
        machine.handle(event)
        shared.published.withLock {
            $0.initialized = machine.phase == .training
            $0.incarnation = machine.incarnation
            $0.globalStep = machine.globalStep
        }
    }

    private func sleepInterruptibly(_ seconds: Double) {
        if machine.isFinishingTheJob { return MonotonicClock.sleep(seconds: seconds) }  // holds signals
        let end = MonotonicClock.now() + seconds
        while MonotonicClock.now() < end {
            if Signals.pending != nil || shared.shutdownReason.withLock({ $0 != nil }) { return }
            MonotonicClock.sleep(seconds: min(0.05, end - MonotonicClock.now()))
        }
    }

    private var rpcDeadline: Deadline { .after(seconds: settings.rpcTimeout) }

    // MARK: Directives

    private func pollCluster() -> TrainerMachine.Event {
        switch shards.poll(timeout: settings.rpcTimeout, model: "\(architecture)") {
        case .answered(let statuses): return .clusterPolled(statuses, now: MonotonicClock.now())
        case .refused(let code, let reason): return .rpcFailed(code, reason: reason, now: MonotonicClock.now())
        case .unreachable(let reason): return .clusterUnreachable(reason: reason, now: MonotonicClock.now())
        }
    }

    private func pull() -> TrainerMachine.Event {
        do throws(RPCError) {
            let result = try shards.pull(includeSlots: false, into: &parameters, until: rpcDeadline)
            return .pulled(globalStep: result.merged.globalStep, done: result.merged.allDone, now: MonotonicClock.now())
        } catch {
            return .rpcFailed(error.code, reason: error.description, now: MonotonicClock.now())
        }
    }

    /// Computes the next batch's loss and gradients; returns whether every gradient is finite.
    private func computeStep() -> Bool {
        TimeCounters.process.time(.data) {
            batchFeatures.withUnsafeMutableBufferPointer { x in
                batchLabels.withUnsafeMutableBufferPointer { y in
                    sampler.next(features: x.baseAddress!, labels: y.baseAddress!)
                }
            }
        }
        let rows = settings.batchSize
        let result = TimeCounters.process.time(.compute) { parameters.withUnsafeBufferPointer { p in
            batchFeatures.withUnsafeBufferPointer { x in
                batchLabels.withUnsafeBufferPointer { y in
                    gradients.withUnsafeMutableBufferPointer { g in
                        trainer.lossAndGradients(parameters: p.baseAddress!, inputs: x.baseAddress!, labels: y.baseAddress!, rows: rows, gradients: g.baseAddress!)
                    }
                }
            }
        } }
        stepLoss = result.loss
        stepCorrect = result.correct
        let finite = FiniteCheck.allFinite(gradients)
        if !finite && settings.allowDivergence {
            // Training on (--allow-divergence) sends non-finite values as 0: a parameter server
            // refuses a push that carries any (non-finite-gradients), so the shard stays finite.
            gradients.withUnsafeMutableBufferPointer { g in
                for i in g.indices where !g[i].isFinite { g[i] = 0 }
            }
        }
        return finite
    }

    private func push() -> TrainerMachine.Event {
        do throws(RPCError) {
            let result = try shards.push(gradients: gradients, baseStep: machine.globalStep, updating: &parameters, until: rpcDeadline)
            recordStep(globalStep: result.reply.globalStep)
            return .pushed(result.reply, now: MonotonicClock.now(), carriedValues: result.carriedValues)
        } catch {
            return .rpcFailed(error.code, reason: error.description, now: MonotonicClock.now())
        }
    }

    private func recordStep(globalStep: Int64) {
        localSteps += 1
        window.steps += 1
        window.loss += stepLoss
        window.correct += stepCorrect
        // The very first step is always logged, so that a job's first loss is its untrained loss.
        guard window.steps >= settings.logEvery || localSteps == 1 else { return }
        let now = MonotonicClock.now()
        let examples = Double(window.steps * settings.batchSize)
        let rate = examples / max(now - window.start, 1e-9)
        let loss = window.loss / Double(window.steps)
        let accuracy = Double(window.correct) / examples
        metrics.append([
            ("task", .string(context.task.description)), ("kind", "train"), ("step", JSONValue(Int(globalStep))),
            ("local_step", JSONValue(localSteps)), ("loss", JSONValue(loss)), ("accuracy", JSONValue(accuracy)),
            ("examples_per_sec", JSONValue(rate.rounded())),
        ])
        metricRecords += 1
        if metricRecords % 10 == 2 {
            log("global step \(globalStep): loss \(String(format: "%.4f", loss)), \(Int(rate)) examples/s")
        }
        window = (0, 0, 0, now)
    }

    // MARK: Chief duties

    private func initializeCluster(incarnation: UInt32) -> TrainerMachine.Event {
        var values: [Float]
        var slots: [[Float]] = []
        var step: Int64 = 0
        var origin = "fresh variables (seed \(settings.seed))"
        let search = store.search()
        let skipped = search.skipped.count
        for damaged in search.skipped { log("warning: skipping damaged checkpoint \(damaged.path): \(damaged.reason)") }
        if let found = search.found {
            if found.checkpoint.architecture == architecture {
                values = found.checkpoint.parameters
                slots = found.checkpoint.slots.count == settings.optimizerConfig.slotCount ? found.checkpoint.slots : []
                step = found.checkpoint.globalStep
                origin = "checkpoint \((found.path as NSString).lastPathComponent) (step \(step))"
            } else {
                log("warning: the latest checkpoint is of a \(found.checkpoint.architecture) model, not \(architecture): starting fresh")
                values = architecture.initialParameters(seed: settings.seed)
            }
        } else {
            values = architecture.initialParameters(seed: settings.seed)
        }
        do throws(RPCError) {
            try shards.initialize(incarnation: incarnation, globalStep: step, maxSteps: Int64(settings.maxSteps),
                                  values: values, slots: slots,
                                  snapshotEvery: [Int64(settings.evalEvery)], checkpointEvery: Int64(settings.checkpointEvery), until: rpcDeadline)
        } catch {
            return .rpcFailed(error.code, reason: "initializing: \(error)", now: MonotonicClock.now())
        }
        let held = shards.isLocal ? "the variables in this process" : "\(shards.count) ps"
        log("initialized \(held) from \(origin) under incarnation \(incarnation)")
        metrics.append([("task", .string(context.task.description)), ("kind", "restore"), ("step", JSONValue(Int(step))),
                        ("incarnation", JSONValue(Int(incarnation))), ("source", .string(origin)), ("skipped_damaged", JSONValue(skipped))])
        return .clusterInitialized(incarnation: incarnation, globalStep: step)
    }

    private func writeCheckpoint() -> TrainerMachine.Event {
        let result: (merged: MergedPull, slots: [[Float]])
        do throws(RPCError) {
            result = try shards.pull(includeSlots: true, into: &parameters, until: rpcDeadline)
        } catch {
            return .rpcFailed(error.code, reason: "checkpointing: \(error)", now: MonotonicClock.now())
        }
        let step = result.merged.globalStep
        saveCheckpoint(step: step, parameters: parameters, slots: result.slots, source: "")
        return .checkpointWritten(step: step)
    }

    /// Writes one checkpoint (atomically, keeping the newest `--keep-checkpoints`) and logs it; a
    /// periodic checkpoint that cannot be written is a warning (the final one decides the outcome).
    private func saveCheckpoint(step: Int64, parameters: [Float], slots: [[Float]], source: String) {
        do {
            let checkpoint = Checkpoint(globalStep: step, incarnation: machine.incarnation, architecture: architecture,
                                        parameters: parameters, slots: slots)
            let path = try store.save(checkpoint, keep: settings.keepCheckpoints)
            log("checkpoint \((path as NSString).lastPathComponent) at global step \(step)\(source)")
        } catch {
            log("warning: checkpoint at step \(step) failed: \(error)")
        }
    }

    /// The checkpoint of exactly global step `step`, from every ps's snapshot of it.
    private func writeCheckpoint(snapshotAt step: Int64) -> TrainerMachine.Event {
        // Every shard must have reached the step first: a shard that hands over its snapshot
        // trains on past it, so none may do that before all can.
        if case .answered(let statuses) = shards.poll(timeout: settings.rpcTimeout, model: "\(architecture)"),
           let behind = statuses.first(where: { $0.globalStep < step }) {
            return .snapshotUnavailable(step: step, reason: "\(behind.task) is at step \(behind.globalStep)")
        }
        let result: (merged: MergedPull, slots: [[Float]])
        do throws(RPCError) {
            result = try shards.pull(includeSlots: true, snapshot: step, into: &snapshot, until: rpcDeadline)
        } catch {
            if error.code == .noSnapshot { return .snapshotUnavailable(step: step, reason: error.description) }
            return .rpcFailed(error.code, reason: "checkpointing: \(error)", now: MonotonicClock.now())
        }
        saveCheckpoint(step: result.merged.globalStep, parameters: snapshot, slots: result.slots, source: " (every ps's snapshot of that step)")
        return .checkpointWritten(step: step)
    }

    /// The evaluation of exactly global step `step`, on every ps's snapshot of it.
    private func evaluate(snapshotAt step: Int64) -> TrainerMachine.Event {
        do throws(RPCError) {
            _ = try shards.pull(includeSlots: false, snapshot: step, into: &snapshot, until: rpcDeadline)
        } catch {
            if error.code == .noSnapshot { return .snapshotUnavailable(step: step, reason: error.description) }
            return .rpcFailed(error.code, reason: "evaluating: \(error)", now: MonotonicClock.now())
        }
        evaluate(step: step, parameters: snapshot)
        return .evaluated(step: step)
    }

    @discardableResult
    private func evaluate(step: Int64, parameters: [Float]) -> (loss: Double, accuracy: Double) {
        let result = parameters.withUnsafeBufferPointer { trainer.evaluate(parameters: $0.baseAddress!, on: data.eval) }
        lastEvaluation = (step, result.loss, result.accuracy)
        metrics.append([("task", .string(context.task.description)), ("kind", "eval"), ("step", JSONValue(Int(step))),
                        ("loss", JSONValue(result.loss)), ("accuracy", JSONValue(result.accuracy)),
                        ("examples", JSONValue(data.evalExamples.count))])
        log("evaluation at global step \(step): loss \(String(format: "%.4f", result.loss)), accuracy \(String(format: "%.4f", result.accuracy))")
        return result
    }

    /// The final state: every shard, with optimizer slots (the machine decides whether to accept it).
    private func pullFinalState() -> TrainerMachine.Event {
        // A chief restarted after the cluster finished has pulled nothing yet: ask under the
        // incarnation it adopted from the cluster, not the one it started with.
        shards.incarnation = machine.incarnation
        do throws(RPCError) {
            let result = try shards.pull(includeSlots: true, into: &parameters, until: rpcDeadline)
            finalSlots = result.slots
            return .finalStatePulled(globalStep: result.merged.globalStep, allDone: result.merged.allDone, now: MonotonicClock.now())
        } catch {
            return .rpcFailed(error.code, reason: error.description, now: MonotonicClock.now())
        }
    }

    /// The end of the job: the final checkpoint and the model, each written and read back, then
    /// every task told to stop. Reports `finishFailed` (naming what could not be saved) when either
    /// did not read back: the job's results are not there, so it must not be reported a success.
    private func finishJob(globalStep step: Int64) -> TrainerMachine.Event {
        var failures: [String] = []
        do {
            let checkpoint = Checkpoint(globalStep: step, incarnation: machine.incarnation, architecture: architecture, parameters: parameters, slots: finalSlots)
            let path = try store.save(checkpoint, keep: settings.keepCheckpoints)
            log("final checkpoint \((path as NSString).lastPathComponent) at global step \(step), read back and verified")
        } catch {
            log("final checkpoint failed: \(error)")
            failures.append("final checkpoint at step \(step) not saved: \(error)")
        }
        let evaluation = evaluate(step: step, parameters: parameters)
        do {
            try ModelExport.write(architecture: architecture, parameters: parameters, globalStep: step, settings: settings,
                                  evaluation: evaluation, jobDirectory: context.jobDirectory)
            log("model written to \(context.jobDirectory)/model, read back and verified")
        } catch {
            log("model export failed: \(error)")
            failures.append("model not exported to \(context.jobDirectory)/model: \(error)")
        }
        shutDownCluster()
        return failures.isEmpty ? .jobFinished : .finishFailed(reason: failures.joined(separator: "; "))
    }

    /// Tells every worker and then every ps that the job is over (best effort: a task that does
    /// not answer is left to the launcher).
    private func shutDownCluster() {
        let hello = Hello(token: context.token, task: context.task)
        for (i, address) in context.config.cluster.addresses(of: .worker).enumerated() {
            let client = PeerClient(server: .worker(i), address: address, hello: hello, shaper: context.shaper,
                                    localName: context.localName(for: .worker(i)))
            _ = try? client.call(.shutdown(reason: "the job finished"), timeout: 2)
            client.disconnect()
        }
        shards.shutDown(reason: "the job finished", timeout: 2)
        // Only the tasks there are: a chief training alone (BASIC) has no ps to tell.
        var told: [String] = []
        let workers = context.config.cluster.count(of: .worker)
        if workers > 0 { told.append(workers == 1 ? "1 worker" : "\(workers) workers") }
        if !shards.isLocal { told.append("\(shards.count) ps") }
        log(told.isEmpty ? "no other task to shut down" : "told \(told.joined(separator: " and ")) to shut down")
    }
}

/// Which kernel build runs (for logs).
enum KernelInfo {
    static var backend: String { KernelBackendName.current }
}
