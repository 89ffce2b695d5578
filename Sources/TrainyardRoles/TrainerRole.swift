import Foundation
import Synchronization
import TrainyardCore
import TrainyardPlatform

/// A training task's process — a worker, or the chief — running `TrainerMachine` over real sockets.
///
/// The loop: pull every shard from the parameter servers (requests pipelined: all sent, then all
/// answered), compute gradients on a batch of this task's data shard, push each shard's gradients.
/// The chief also initializes or restores the cluster, checkpoints, evaluates, and ends the job.
public final class TrainerRole {
    private let context: RoleContext
    private let log: RoleLog
    private let settings: TrainSettings
    private let isChief: Bool
    private let architecture: MLPArchitecture
    private let partition: Partition
    private let data: DataSplit
    private let trainer: MLPTrainer
    private var sampler: BatchSampler
    private var parameters: [Float]
    private var gradients: [Float]
    private var batchFeatures: [Float]
    private var batchLabels: [Int32]
    private let clients: [ShardClient]
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
    /// The values the last push brought back (every shard's, after the update): the next pull
    /// uses them instead of asking again.
    private var freshFromPush: (step: Int64, done: Bool)?

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
        guard data.train.count > 0 else {
            throw FieldError(source: "--dataset", path: "", "shard \(shard) of \(trainingTasks.count) has no training examples: use more examples or fewer workers")
        }
        architecture = MLPArchitecture(inputs: data.train.inputs, hidden: settings.hidden, classes: data.train.classes)
        let psCount = cluster.count(of: .ps)
        partition = Partition(variables: architecture.variables, shardCount: max(1, psCount))
        trainer = MLPTrainer(architecture: architecture, maxBatch: settings.batchSize)
        sampler = BatchSampler(data: data.train, batchSize: settings.batchSize, seed: settings.seed &+ UInt64(shard) &* 7919)
        parameters = [Float](repeating: 0, count: architecture.parameterCount)
        gradients = [Float](repeating: 0, count: architecture.parameterCount)
        batchFeatures = [Float](repeating: 0, count: settings.batchSize * architecture.inputs)
        batchLabels = [Int32](repeating: 0, count: settings.batchSize)

        let hello = Hello(token: context.token, task: context.task)
        if psCount == 0 {
            // No parameter servers (BASIC): the chief keeps the variables itself.
            guard context.task.type.isChief else {
                throw FieldError(source: "TF_CONFIG", path: "cluster.ps", "a worker needs parameter servers; only the chief may train without them")
            }
            clients = [LocalShard(owner: context.task, token: context.token, optimizer: settings.optimizerConfig)]
        } else {
            clients = cluster.addresses(of: .ps).enumerated().map { PeerClient(server: .ps($0.offset), address: $0.element, hello: hello) }
        }
        machine = TrainerMachine(.init(
            isChief: isChief, maxSteps: Int64(settings.maxSteps), checkpointEvery: Int64(settings.checkpointEvery),
            evalEvery: Int64(settings.evalEvery), backoff: Backoff(initial: 0.05, maximum: 1.0),
            peerTimeout: max(settings.startupTimeout, settings.rpcTimeout * 3)))
        metrics = MetricsLog(jobDirectory: context.jobDirectory)
        store = CheckpointStore(jobDirectory: context.jobDirectory)

        let shared = SharedState(Status(task: context.task, initialized: false, incarnation: 0, globalStep: 0, done: false, shardElements: 0))
        self.shared = shared
        let controlLogic = TaskControl(token: context.token)
        let control = FrameServer(listener: context.listener) { connection in
            var peer = TaskControl.Peer()
            while let frame = try? connection.receive(until: .never) {
                let status = shared.published.withLock { $0 }
                for directive in controlLogic.handle(frame, from: &peer, status: status) {
                    switch directive {
                    case .reply(let reply): try? connection.send(reply, until: .after(seconds: 2))
                    case .close: return
                    case .shutdown(let reason): shared.shutdownReason.withLock { $0 = $0 ?? reason }
                    }
                }
            }
        }
        self.control = control
        faults = FaultWatcher.fromEnvironment(onReset: { control.resetConnections() })
    }

    public func run() -> ExitCode {
        control.start(name: context.task.description)
        defer { control.stop() }
        faults.start(log: log)
        let placement = clients.first is LocalShard ? "kept in this process (no parameter servers)" : "over \(clients.count) ps"
        log("model \(architecture) (\(architecture.parameterCount) parameters) \(placement); "
            + "\(data.train.count) training examples in this task's shard, batch \(settings.batchSize), kernel \(KernelInfo.backend)")

        var queue = machine.handle(.started(now: MonotonicClock.now()))
        while !queue.isEmpty {
            if let signal = Signals.take() {
                if signal == Signals.terminate {
                    log("SIGTERM: preemption notice")
                    queue = machine.handle(.preempted)
                } else {
                    log("interrupted")
                    return .interrupted
                }
            } else if let reason = shared.shutdownReason.withLock({ $0 }), machine.phase != .finishing {
                queue = machine.handle(.shutdownRequested(reason: "the chief ended the job: \(reason)"))
            }
            guard !queue.isEmpty else { break }
            let generation = faults.resetGeneration
            if generation != resetGeneration {
                resetGeneration = generation
                for c in clients { c.reset() }
            }
            let directive = queue.removeFirst()
            switch directive {
            case .pollCluster:
                feed(pollCluster(), into: &queue)
            case .initializeCluster(let incarnation):
                feed(initializeCluster(incarnation: incarnation), into: &queue)
            case .pull(let incarnation):
                for c in clients { c.incarnation = incarnation }
                feed(pull(), into: &queue)
            case .computeStep:
                if !isChief { TrialVerdictGate.holdWhileChiefWaits(jobDirectory: context.jobDirectory) }
                let started = MonotonicClock.now()
                computeStep()
                let factor = faults.slowFactor
                if factor > 1 { sleepInterruptibly((MonotonicClock.now() - started) * (factor - 1)) }
                feed(.stepComputed, into: &queue)
            case .push:
                feed(push(), into: &queue)
            case .writeCheckpoint:
                feed(writeCheckpoint(), into: &queue)
            case .evaluate:
                evaluate(step: machine.globalStep)
                TrialVerdictGate.hold(afterEvaluationAt: machine.globalStep, jobDirectory: context.jobDirectory, log: log)
                feed(.evaluated(step: machine.globalStep), into: &queue)
            case .finishJob:
                feed(finishJob(), into: &queue)
            case .wait(let seconds):
                sleepInterruptibly(seconds)
            case .exit(let code, let reason):
                log("exit \(code): \(reason)")
                return code
            }
        }
        return .success
    }

    /// Hands an event to the machine. A failure replaces the queued directives (they were planned
    /// for a world that no longer holds); anything else runs before what is already queued.
    private func feed(_ event: TrainerMachine.Event, into queue: inout [TrainerMachine.Directive]) {
        switch event {
        case .rpcFailed, .clusterUnreachable, .clusterPolled, .clusterInitialized:
            freshFromPush = nil  // values from before a failure or a restore are not to be trained on
        default: break
        }
        let next = machine.handle(event)
        switch event {
        case .rpcFailed, .clusterUnreachable, .clusterPolled, .preempted, .shutdownRequested: queue = next
        default: queue = next + queue
        }
        shared.published.withLock {
            $0.initialized = machine.phase == .training
            $0.incarnation = machine.incarnation
            $0.globalStep = machine.globalStep
        }
    }

    private func sleepInterruptibly(_ seconds: Double) {
        let end = MonotonicClock.now() + seconds
        while MonotonicClock.now() < end {
            if Signals.pending != nil || shared.shutdownReason.withLock({ $0 != nil }) { return }
            MonotonicClock.sleep(seconds: min(0.05, end - MonotonicClock.now()))
        }
    }

    private var rpcDeadline: Deadline { .after(seconds: settings.rpcTimeout) }

    // MARK: Directives

    private func pollCluster() -> TrainerMachine.Event {
        var statuses: [Status] = []
        for (i, client) in clients.enumerated() {
            do {
                let status: Status
                if client.isConnected {
                    guard case .statusReply(let s) = try client.call(.status, timeout: settings.rpcTimeout) else {
                        throw RPCError.transport("unexpected reply to status")
                    }
                    status = s
                } else {
                    status = try client.connect(until: rpcDeadline)
                }
                if status.initialized && status.shardElements != partition.elements(inShard: i) {
                    return .rpcFailed(.badRequest, reason: "ps-\(i) holds \(status.shardElements) values but this task's \(architecture) model puts \(partition.elements(inShard: i)) there: do all tasks have the same --hidden and data?", now: MonotonicClock.now())
                }
                statuses.append(status)
            } catch {
                if let code = (error as? RPCError)?.code, code == .badToken || code == .badRequest {
                    return .rpcFailed(code, reason: "ps-\(i): \(error)", now: MonotonicClock.now())
                }
                return .clusterUnreachable(reason: "ps-\(i): \(error)", now: MonotonicClock.now())
            }
        }
        return .clusterPolled(statuses, now: MonotonicClock.now())
    }

    private func pull(includeSlots: Bool = false) -> TrainerMachine.Event {
        if !includeSlots, let fresh = freshFromPush {
            freshFromPush = nil
            return .pulled(globalStep: fresh.step, done: fresh.done)
        }
        switch pullShards(includeSlots: includeSlots) {
        case .success(let result): return .pulled(globalStep: result.step, done: result.done)
        case .failure(let error): return .rpcFailed(error.code, reason: error.description, now: MonotonicClock.now())
        }
    }

    private struct PullResult {
        var step: Int64
        var done: Bool
        /// Every shard has reached the last step (no push still on its way to one of them).
        var allDone: Bool
        var slots: [[Float]]
    }

    /// Pulls every shard into `parameters`; with `includeSlots`, also the optimizer slots (whole-model arrays).
    private func pullShards(includeSlots: Bool) -> Result<PullResult, RPCError> {
        let deadline = rpcDeadline
        do {
            let ids = try clients.map { try $0.send(.pull(Pull(includeSlots: includeSlots)), until: deadline) }
            var step: Int64 = 0
            var done = false
            var allDone = true
            var slots: [[Float]] = []
            for (i, client) in clients.enumerated() {
                let reply = try client.receive(ids[i], until: deadline)
                guard case .pullReply(let p) = reply else { throw RPCError.transport("ps-\(i) answered pull with \(reply.name)") }
                guard p.values.count == partition.elements(inShard: i) else {
                    throw RPCError.server(WireError(.badRequest, "ps-\(i) sent \(p.values.count) values; expected \(partition.elements(inShard: i))"))
                }
                partition.scatter(shard: i, values: p.values, into: &parameters)
                if includeSlots {
                    if slots.isEmpty { slots = Array(repeating: [Float](repeating: 0, count: parameters.count), count: p.slots.count) }
                    for (k, slot) in p.slots.enumerated() where k < slots.count { partition.scatter(shard: i, values: slot, into: &slots[k]) }
                }
                step = i == 0 ? p.globalStep : min(step, p.globalStep)
                done = done || p.done
                allDone = allDone && p.done
            }
            return .success(PullResult(step: step, done: done, allDone: allDone, slots: slots))
        } catch let error as RPCError {
            return .failure(error)
        } catch {
            return .failure(.transport("\(error)"))
        }
    }

    private func computeStep() {
        batchFeatures.withUnsafeMutableBufferPointer { x in
            batchLabels.withUnsafeMutableBufferPointer { y in
                sampler.next(features: x.baseAddress!, labels: y.baseAddress!)
            }
        }
        let rows = settings.batchSize
        let result = parameters.withUnsafeBufferPointer { p in
            batchFeatures.withUnsafeBufferPointer { x in
                batchLabels.withUnsafeBufferPointer { y in
                    gradients.withUnsafeMutableBufferPointer { g in
                        trainer.lossAndGradients(parameters: p.baseAddress!, inputs: x.baseAddress!, labels: y.baseAddress!, rows: rows, gradients: g.baseAddress!)
                    }
                }
            }
        }
        stepLoss = result.loss
        stepCorrect = result.correct
    }

    private func push() -> TrainerMachine.Event {
        let deadline = rpcDeadline
        do {
            let base = machine.globalStep
            let ids = try clients.enumerated().map { i, client in
                try client.send(.push(Push(baseStep: base, gradients: partition.gather(shard: i, from: gradients), returnValues: true)), until: deadline)
            }
            var reply = PushReply(globalStep: 0, applied: true, done: false)
            var complete = true
            for (i, client) in clients.enumerated() {
                let answer = try client.receive(ids[i], until: deadline)
                guard case .pushReply(let r) = answer else { throw RPCError.transport("ps-\(i) answered push with \(answer.name)") }
                reply.globalStep = i == 0 ? r.globalStep : max(reply.globalStep, r.globalStep)
                reply.applied = reply.applied && r.applied
                reply.done = reply.done || r.done
                if r.values.count == partition.elements(inShard: i) { partition.scatter(shard: i, values: r.values, into: &parameters) } else { complete = false }
            }
            freshFromPush = complete ? (reply.globalStep, reply.done) : nil
            recordStep(globalStep: reply.globalStep)
            return .pushed(reply, now: MonotonicClock.now())
        } catch let error as RPCError {
            freshFromPush = nil
            return .rpcFailed(error.code, reason: error.description, now: MonotonicClock.now())
        } catch {
            freshFromPush = nil
            return .rpcFailed(nil, reason: "\(error)", now: MonotonicClock.now())
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
        let deadline = rpcDeadline
        do {
            for (i, client) in clients.enumerated() {
                client.incarnation = incarnation
                let message = Message.initialize(Initialize(
                    incarnation: incarnation, globalStep: step, maxSteps: Int64(settings.maxSteps),
                    values: partition.gather(shard: i, from: values), slots: slots.map { partition.gather(shard: i, from: $0) }))
                let id = try client.send(message, until: deadline)
                guard case .ack = try client.receive(id, until: deadline) else { throw RPCError.transport("ps-\(i) did not acknowledge initialize") }
            }
        } catch let error as RPCError {
            return .rpcFailed(error.code, reason: "initializing: \(error)", now: MonotonicClock.now())
        } catch {
            return .rpcFailed(nil, reason: "initializing: \(error)", now: MonotonicClock.now())
        }
        log("initialized \(clients.count) ps from \(origin) under incarnation \(incarnation)")
        metrics.append([("task", .string(context.task.description)), ("kind", "restore"), ("step", JSONValue(Int(step))),
                        ("incarnation", JSONValue(Int(incarnation))), ("source", .string(origin)), ("skipped_damaged", JSONValue(skipped))])
        return .clusterInitialized(incarnation: incarnation, globalStep: step)
    }

    private func writeCheckpoint() -> TrainerMachine.Event {
        switch pullShards(includeSlots: true) {
        case .failure(let error):
            return .rpcFailed(error.code, reason: "checkpointing: \(error)", now: MonotonicClock.now())
        case .success(let result):
            do {
                let checkpoint = Checkpoint(globalStep: result.step, incarnation: machine.incarnation, architecture: architecture,
                                            parameters: parameters, slots: result.slots)
                let path = try store.save(checkpoint, keep: settings.keepCheckpoints)
                log("checkpoint \((path as NSString).lastPathComponent) at global step \(result.step)")
            } catch {
                log("warning: checkpoint at step \(result.step) failed: \(error)")
            }
            return .checkpointWritten(step: result.step)
        }
    }

    @discardableResult
    private func evaluate(step: Int64) -> (loss: Double, accuracy: Double) {
        let result = parameters.withUnsafeBufferPointer { trainer.evaluate(parameters: $0.baseAddress!, on: data.eval) }
        lastEvaluation = (step, result.loss, result.accuracy)
        metrics.append([("task", .string(context.task.description)), ("kind", "eval"), ("step", JSONValue(Int(step))),
                        ("loss", JSONValue(result.loss)), ("accuracy", JSONValue(result.accuracy)),
                        ("examples", JSONValue(data.eval.count))])
        log("evaluation at global step \(step): loss \(String(format: "%.4f", result.loss)), accuracy \(String(format: "%.4f", result.accuracy))")
        return result
    }

    private func finishJob() -> TrainerMachine.Event {
        // The final state: every shard, with optimizer slots.
        var final: PullResult?
        let deadline = Deadline.after(seconds: max(settings.rpcTimeout * 3, 10))
        var attempt = 0
        while final == nil && !deadline.hasPassed {
            switch pullShards(includeSlots: true) {
            case .success(let r) where r.allDone || deadline.remaining < max(settings.rpcTimeout * 3, 10) - 2:
                final = r
            case .success:
                MonotonicClock.sleep(seconds: 0.005)  // a last push is still arriving at a shard
            case .failure(let error):
                log("final pull failed (\(error)); retrying")
                MonotonicClock.sleep(seconds: Backoff().delay(attempt: attempt))
                attempt += 1
            }
        }
        guard let final else {
            return .rpcFailed(nil, reason: "could not read the final variables from the parameter servers", now: MonotonicClock.now())
        }
        let step = final.step
        do {
            let checkpoint = Checkpoint(globalStep: step, incarnation: machine.incarnation, architecture: architecture, parameters: parameters, slots: final.slots)
            let path = try store.save(checkpoint, keep: settings.keepCheckpoints)
            log("final checkpoint \((path as NSString).lastPathComponent) at global step \(step)")
        } catch {
            log("error: final checkpoint failed: \(error)")
        }
        let evaluation = evaluate(step: step)
        do {
            try ModelExport.write(architecture: architecture, parameters: parameters, globalStep: step, settings: settings,
                                  evaluation: evaluation, jobDirectory: context.jobDirectory)
            log("model written to \(context.jobDirectory)/model")
        } catch {
            log("error: model export failed: \(error)")
        }
        shutDownCluster()
        return .jobFinished
    }

    /// Tells every worker and then every ps that the job is over (best effort: a task that does
    /// not answer is left to the launcher).
    private func shutDownCluster() {
        let hello = Hello(token: context.token, task: context.task)
        for (i, address) in context.config.cluster.addresses(of: .worker).enumerated() {
            let client = PeerClient(server: .worker(i), address: address, hello: hello)
            _ = try? client.call(.shutdown(reason: "the job finished"), timeout: 2)
            client.disconnect()
        }
        for client in clients {
            _ = try? client.call(.shutdown(reason: "the job finished"), timeout: 2)
            client.disconnect()
        }
        log("told \(context.config.cluster.count(of: .worker)) workers and \(clients.count) ps to shut down")
    }
}

/// Which kernel build runs (for logs).
enum KernelInfo {
    static var backend: String { KernelBackendName.current }
}
