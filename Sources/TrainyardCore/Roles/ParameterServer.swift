import TrainyardKernel

/// The optimizer a parameter server applies to its shard.
public struct OptimizerConfig: Sendable, Equatable {
    public var kind: OptimizerKind
    public var learningRate: Float
    public var momentum: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-7

    public init(kind: OptimizerKind, learningRate: Float, momentum: Float = 0.9) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
    }

    /// How many slot arrays (same length as the values) this optimizer keeps.
    public var slotCount: Int {
        switch kind {
        case .sgd: return 0
        case .momentum: return 1
        case .adam: return 2
        }
    }
}

/// What a parameter server's shell must do after handling a frame.
public enum ParameterServerDirective: Sendable, Equatable {
    /// Send this frame back on the connection the request came from.
    case reply(Frame)
    /// Close the connection (after any reply before it).
    case close
    /// The job is over: stop accepting, let connections drain, exit 0.
    case exitCleanly(reason: String)
    /// Synchronous training: the push joined the aggregate for step `after`; answer it (with
    /// `syncPushReply(after:)`) once the global step has passed `after`, or the cluster was
    /// restored, or the request's deadline passed.
    case awaitStep(after: Int64, requestID: UInt32, returnValues: Bool)
    /// The global step advanced: wake every push waiting in `awaitStep`.
    case stepAdvanced
    /// Write this line to the task's log (a refused push, say).
    case log(String)
}

/// One parameter server's whole logic, without sockets: the shard's values and optimizer state,
/// the cluster incarnation, the step count, and the answer to every request.
///
/// The shell owns one of these behind a lock, and one `Peer` per connection.
public struct ParameterServer: Sendable {
    /// What the server knows about one connection (whether it said hello, and as whom).
    public typealias Peer = HelloGate.Peer

    public let task: TaskID
    /// Checks every connection's hello and the job's token.
    public let gate: HelloGate
    public var token: String { gate.token }
    public let optimizer: OptimizerConfig
    /// How many values the shard holds: set by the chief's `initialize` (0 before).
    public private(set) var shardElements = 0

    public private(set) var initialized = false
    public private(set) var incarnation: UInt32 = 0
    public private(set) var globalStep: Int64 = 0
    public private(set) var maxSteps: Int64 = .max
    public private(set) var values: [Float] = []
    public private(set) var slots: [[Float]] = []
    /// Where a push with lent gradients writes its result before it replaces `values` (asynchronous
    /// SGD) or the sync accumulator (the arrays swap): the check and the update in one pass.
    private var spare: [Float] = []
    public private(set) var shuttingDown = false
    /// Pushes applied since start (for logs and tests).
    public private(set) var appliedPushes = 0
    /// Of those, the ones applied where they lay (lent gradients, one pass, no copy).
    public private(set) var appliedWhereTheyLay = 0
    /// Whether this shard applies lent gradients where they lie (each read once: checked and
    /// applied in one pass): asynchronous SGD, and any synchronous accumulation. Asynchronous
    /// momentum and Adam take them copied out (a connection need not lend them).
    public var appliesLentGradientsInPlace: Bool { replicasToAggregate != nil || optimizer.kind == .sgd }

    /// The shard as it was when the global step reached `step`: what a checkpoint or an evaluation
    /// of exactly that step reads, however late the chief asks for it.
    public struct Snapshot: Sendable, Equatable {
        public var step: Int64
        public var values: [Float]
        public var slots: [[Float]]
    }
    /// Steps whose multiples are snapshotted (the chief's checkpoint and evaluation intervals).
    public private(set) var snapshotEvery: [Int64] = []
    /// The snapshots kept, oldest first: the newest `snapshotsKept`, and each interval's newest
    /// multiple; cleared by `initialize` (a snapshot belongs to its incarnation).
    public private(set) var snapshots: [Snapshot] = []
    public static let snapshotsKept = 4
    /// Asynchronous training holds at each multiple of this (0: never) until the chief collects
    /// its snapshot (`Initialize.checkpointEvery`).
    public private(set) var checkpointEvery: Int64 = 0
    /// The newest checkpoint step the chief collected (or the step the shard was initialized at).
    public private(set) var collectedStep: Int64 = 0

    /// The start barrier: the training tasks none of whose pushes has been applied since a fresh
    /// start (an initialize at step 0). While any is missing, a push from a trainer already
    /// counted is held (`held`) and one from a missing trainer is applied, so the first steps
    /// take one push from every trainer: every trainer takes part however the processes are
    /// scheduled. Set
    /// by the shell from TF_CONFIG; opened early by `openStartBarrier` after the startup timeout.
    public private(set) var startBarrier: Set<TaskID> = []
    /// The trainers the start barrier waits for at each fresh start.
    public var trainers: Set<TaskID> = []

    /// Opens the start barrier whatever is missing (the shell's startup timeout); returns who was.
    public mutating func openStartBarrier() -> Set<TaskID> {
        defer { startBarrier = [] }
        return startBarrier
    }

    /// Steps a failure scenario holds pushes at until its fault fires (`TaskFaults.holdAtSteps`).
    public var faultHolds: Set<Int64> = []

    /// Whether a push must wait for a scenario's fault: the step is one it holds at.
    public var holdsForFault: Bool { !done && faultHolds.contains(globalStep) }

    /// Whether a push must wait: the step is at a multiple of `checkpointEvery` the chief has not
    /// collected yet (asynchronous training only; sync steps are paced by their aggregate).
    public var holdsForCheckpoint: Bool {
        replicasToAggregate == nil && checkpointEvery > 0 && !done && globalStep > collectedStep && globalStep % checkpointEvery == 0
    }

    /// Synchronous training: how many gradients make one update (SyncReplicasOptimizer's
    /// `replicas_to_aggregate`); nil = asynchronous, every push is applied as it arrives.
    public let replicasToAggregate: Int?
    /// Synchronous training: the sum of this step's gradients so far, and how many.
    public private(set) var accumulator: [Float] = []
    public private(set) var accumulated = 0
    /// Synchronous training: gradients dropped because they were computed for an older step.
    public private(set) var droppedStale = 0

    /// Pushes refused because their gradients held NaN or infinity.
    public private(set) var refusedNonFinite = 0

    /// The largest payload read from a connection before the chief's `initialize` (which carries
    /// the shard, its size unknown until then); after it, `payloadLimit` is the shard's size.
    public let initialPayloadLimit: Int

    /// `members`: the tasks a hello may name (TF_CONFIG's cluster); nil = any task.
    public init(task: TaskID, token: String, optimizer: OptimizerConfig, replicasToAggregate: Int? = nil, members: Set<TaskID>? = nil,
                initialPayloadLimit: Int = FrameCodec.defaultPayloadLimit) {
        self.task = task
        self.gate = HelloGate(token: token, members: members)
        self.initialPayloadLimit = initialPayloadLimit
        self.optimizer = optimizer
        self.replicasToAggregate = replicasToAggregate
    }

    /// Says hello as `hello.task` and answers the challenge (for an in-process client: a
    /// `LocalShard`, tests). Returns the directives of the last step.
    @discardableResult
    public mutating func handshake(_ hello: Hello, from peer: inout Peer) -> [ParameterServerDirective] {
        let first = handle(Frame(message: .hello(hello)), from: &peer)
        for case .reply(let frame) in first {
            guard case .challenge(let nonce) = frame.message else { continue }
            return handle(Frame(message: .proof(mac: HelloGate.proof(token: hello.token, task: hello.task, nonce: nonce))), from: &peer)
        }
        return first
    }

    /// The answer to a synchronous push that waited for step `after` to be applied.
    public func syncPushReply(after: Int64, incarnation requested: UInt32, returnValues: Bool = false) -> Message {
        if shuttingDown { return .error(WireError(.shuttingDown, "the job is over")) }
        guard requested == incarnation else {
            return .error(WireError(.staleIncarnation, "the cluster was restored (incarnation \(incarnation)) while the push waited"))
        }
        if globalStep > after { return .pushReply(PushReply(globalStep: globalStep, applied: true, done: done, values: returnValues ? values : [])) }
        return .error(WireError(.deadlineExceeded, "step \(after + 1) is still waiting for \(replicasToAggregate ?? 1) gradients (has \(accumulated))"))
    }

    public var done: Bool { globalStep >= maxSteps }

    /// Room for everything in a payload besides the Float arrays (counts, steps, strings).
    public static let payloadOverhead = 64 << 10

    /// The largest payload to read from a connection that said hello: once initialized, what the
    /// shard needs (an `initialize` of its values and every optimizer slot, the largest request),
    /// before that `initialPayloadLimit`. Connections that have not said hello read far less
    /// (`WireLimits.helloPayloadLimit`).
    public var payloadLimit: Int {
        guard initialized else { return initialPayloadLimit }
        return shardElements * MemoryLayout<Float>.size * (1 + optimizer.slotCount) + ParameterServer.payloadOverhead
    }

    public var status: Status {
        Status(task: task, initialized: initialized, incarnation: incarnation, globalStep: globalStep, done: done, shardElements: shardElements)
    }

    /// Handles one request frame from `peer`.
    public mutating func handle(_ frame: Frame, from peer: inout Peer) -> [ParameterServerDirective] {
        func reply(_ m: Message) -> ParameterServerDirective {
            .reply(Frame(requestID: frame.requestID, incarnation: incarnation, message: m))
        }
        func fail(_ code: WireError.Code, _ text: String) -> ParameterServerDirective { reply(.error(WireError(code, text))) }

        switch gate.admit(frame.message, from: &peer) {
        case .challenged(let nonce): return [reply(.challenge(nonce: nonce))]
        case .welcomed: return [reply(.helloReply(status))]
        case .refused(let error): return [reply(.error(error)), .close]
        case .admitted: break
        }
        if shuttingDown, frame.message != .status {
            return [fail(.shuttingDown, "the job is over")]
        }

        switch frame.message {
        case .status:
            return [reply(.statusReply(status))]

        case .initialize(let i):
            guard peer.task?.type.isChief == true else { return [fail(.badRequest, "only the chief initializes variables")] }
            // A shard may be empty: a small model over many ps leaves some with no variable.
            guard !initialized || i.values.count == shardElements else {
                return [fail(.badRequest, "initialize carries \(i.values.count) values; this shard holds \(shardElements)")]
            }
            guard i.incarnation > incarnation || (i.incarnation == incarnation && !initialized) else {
                return [fail(.staleIncarnation, "incarnation \(i.incarnation) is not newer than \(incarnation)")]
            }
            guard i.slots.isEmpty || (i.slots.count == optimizer.slotCount && i.slots.allSatisfy { $0.count == i.values.count }) else {
                return [fail(.badRequest, "initialize carries \(i.slots.count) optimizer slots; \(optimizer.kind.rawValue) keeps \(optimizer.slotCount) of \(i.values.count) values")]
            }
            shardElements = i.values.count
            incarnation = i.incarnation
            globalStep = i.globalStep
            maxSteps = i.maxSteps
            values = i.values
            spare = []
            slots = i.slots.isEmpty ? Array(repeating: [Float](repeating: 0, count: shardElements), count: optimizer.slotCount) : i.slots
            accumulator = []
            accumulated = 0
            snapshotEvery = (i.snapshotEvery + [i.checkpointEvery]).filter { $0 > 0 }
            checkpointEvery = max(0, i.checkpointEvery)
            collectedStep = i.globalStep
            snapshots = []
            initialized = true
            // A fresh start waits for every trainer; a restore resumes at once.
            startBarrier = i.globalStep == 0 ? trainers : []
            return [reply(.ack(globalStep: globalStep)), .stepAdvanced]

        case .pull(let p):
            guard initialized else { return [fail(.notInitialized, "waiting for the chief to initialize the variables")] }
            guard frame.incarnation == incarnation else {
                return [fail(.staleIncarnation, "request from incarnation \(frame.incarnation); the cluster is at \(incarnation)")]
            }
            if let step = p.snapshotStep {
                guard let s = snapshots.last(where: { $0.step == step }) else {
                    let why = step > globalStep ? "the global step is \(globalStep), short of \(step)"
                        : snapshots.isEmpty ? "none is kept" : "the ones kept are of steps \(snapshots.map { String($0.step) }.joined(separator: ", "))"
                    return [fail(.noSnapshot, "no snapshot of step \(step): \(why)")]
                }
                if p.includeSlots && checkpointEvery > 0 && step % checkpointEvery == 0 {
                    collectedStep = max(collectedStep, step)  // the chief has this checkpoint: train on
                }
                return [reply(.pullReply(Parameters(globalStep: s.step, done: done, values: s.values, slots: p.includeSlots ? s.slots : [])))]
            }
            return [reply(.pullReply(Parameters(globalStep: globalStep, done: done, values: values, slots: p.includeSlots ? slots : [])))]

        case .push(var p):
            guard initialized else { return [fail(.notInitialized, "waiting for the chief to initialize the variables")] }
            guard frame.incarnation == incarnation else {
                return [fail(.staleIncarnation, "request from incarnation \(frame.incarnation); the cluster is at \(incarnation)")]
            }
            guard p.gradientCount == shardElements else {
                return [fail(.badRequest, "push carries \(p.gradientCount) gradients; this shard holds \(shardElements)")]
            }
            guard peer.task?.type.trains == true else {
                return [fail(.badRequest, "only training tasks push gradients, not \(peer.task.map(\.description) ?? "an unknown task")")]
            }
            // Lent gradients (a same-host trainer's shared region), for asynchronous SGD or any
            // synchronous accumulation: the check and the update (values − lr·g, or accumulator + g)
            // in one pass, into `spare`, taken below if the push is applied. Anything else copies
            // them out first, checking them as they are copied.
            let updated: Bool?
            if let lent = p.lent, shardElements > 0, appliesLentGradientsInPlace {
                if replicasToAggregate != nil {
                    // acc − (−1)·g: `Updates.accumulate`'s bits (from zeros for a step's first push).
                    let base = accumulator.count == shardElements ? accumulator : [Float](repeating: 0, count: shardElements)
                    updated = ParameterServer.update(base, with: lent, rate: -1, into: &spare)
                } else {
                    updated = ParameterServer.update(values, with: lent, rate: optimizer.learningRate, into: &spare)
                }
            } else {
                p = p.copyingLentGradients()
                updated = nil
            }
            if !(updated ?? (p.gradientsKnownFinite || FiniteCheck.allFinite(p.gradients))) {
                refusedNonFinite += 1
                let sender = peer.task.map(\.description) ?? "an unknown task"
                // Counted again for the message (a sender's region may have changed since: said so).
                let bad = ParameterServer.nonFinite(p.copyingLentGradients().gradients)
                let what = bad.map { "\($0.count) of \(p.gradientCount) gradients are NaN or infinite (the first at index \($0.first))" }
                    ?? "the update was not finite: gradients were NaN or infinite as they were read, then changed in the sender's shared memory, or finite ones took a value past the float range"
                return [.log("refused a push from \(sender) at step \(globalStep): \(what) (\(refusedNonFinite) refused so far)"),
                        fail(.nonFiniteGradients, "push refused, shard unchanged: \(what); the model diverged: lower the learning rate or check the data")]
            }
            if done { return [reply(.pushReply(PushReply(globalStep: globalStep, applied: false, done: true, values: p.returnValues ? values : [])))] }
            if !startBarrier.isEmpty {
                if let t = peer.task, startBarrier.contains(t) {
                    startBarrier.remove(t)  // its first push: applied below
                } else {
                    let missing = startBarrier.sorted().map(\.description).joined(separator: ", ")
                    return [fail(.held, "the first steps take one push from every trainer (waiting for \(missing))")]
                }
            }
            if holdsForFault {
                return [fail(.held, "step \(globalStep) is held until the scenario's fault for it fires")]
            }
            if holdsForCheckpoint {
                return [fail(.checkpointPending, "step \(globalStep) waits for the chief to collect its checkpoint")]
            }
            if let k = replicasToAggregate {
                // SyncReplicasOptimizer: drop stale gradients, average k, then apply and advance.
                if p.baseStep < globalStep {
                    droppedStale += 1
                    return [reply(.pushReply(PushReply(globalStep: globalStep, applied: false, done: done, values: p.returnValues ? values : [])))]
                }
                let n = shardElements
                if updated == true {
                    swap(&accumulator, &spare)
                    appliedWhereTheyLay += 1
                } else {
                    if accumulator.count != n { accumulator = [Float](repeating: 0, count: n) }
                    accumulator.withUnsafeMutableBufferPointer { a in
                        p.gradients.withUnsafeBufferPointer { g in
                            if n > 0 { Updates.accumulate(count: n, into: a.baseAddress!, gradients: g.baseAddress!) }
                        }
                    }
                }
                accumulated += 1
                appliedPushes += 1
                guard accumulated >= k else { return [.awaitStep(after: globalStep, requestID: frame.requestID, returnValues: p.returnValues)] }
                var average = accumulator
                let factor = 1 / Float(accumulated)
                average.withUnsafeMutableBufferPointer { a in if n > 0 { Updates.scale(count: n, values: a.baseAddress!, by: factor) } }
                apply(average)
                accumulator = [Float](repeating: 0, count: shardElements)
                accumulated = 0
                advance()
                // The waiting pushes are woken first, so that their answers go out while this
                // one's does (each on its own connection's thread), not after it.
                return [.stepAdvanced, reply(.pushReply(PushReply(globalStep: globalStep, applied: true, done: done, values: p.returnValues ? values : [])))]
            }
            if updated == true {
                swap(&values, &spare)
                appliedWhereTheyLay += 1
            } else {
                apply(p.gradients)
            }
            advance()
            appliedPushes += 1
            return [reply(.pushReply(PushReply(globalStep: globalStep, applied: true, done: done, values: p.returnValues ? values : [])))]

        case .shutdown(let reason):
            guard peer.task?.type.isChief == true else { return [fail(.badRequest, "only the chief shuts the job down")] }
            shuttingDown = true
            return [reply(.ack(globalStep: globalStep)), .stepAdvanced, .exitCleanly(reason: reason)]

        case .hello, .proof, .challenge, .helloReply, .ack, .pullReply, .pushReply, .statusReply, .error:
            return [fail(.badRequest, "\(frame.message.name) is not a request a parameter server answers")]
        }
    }

    /// One more update applied: count it, and snapshot the shard if the step is a multiple of a
    /// snapshot interval. Every update passes here one step at a time, so however pushes arrive
    /// (one by one, in bursts, several tasks at once) the snapshot is of exactly that step.
    private mutating func advance() {
        globalStep += 1
        guard snapshotEvery.contains(where: { globalStep % $0 == 0 }) else { return }
        snapshots.append(Snapshot(step: globalStep, values: values, slots: slots))
        // Keep the newest few, and for each interval its newest multiple (a frequent evaluation
        // interval must not push out the last checkpoint's snapshot).
        let newestPerInterval = Set(snapshotEvery.compactMap { every in snapshots.last { $0.step % every == 0 }?.step })
        let recent = snapshots.suffix(ParameterServer.snapshotsKept).map(\.step)
        snapshots.removeAll { !newestPerInterval.contains($0.step) && !recent.contains($0.step) }
    }

    /// How many of `gradients` are NaN or infinite, and the first one's index; nil when all are finite.
    static func nonFinite(_ gradients: [Float]) -> (count: Int, first: Int)? {
        if FiniteCheck.allFinite(gradients) { return nil }  // the common case, at memory speed
        var count = 0, first = -1
        gradients.withUnsafeBufferPointer { g in
            for i in g.indices where !g[i].isFinite {
                if count == 0 { first = i }
                count += 1
            }
        }
        return count == 0 ? nil : (count, first)
    }

    /// `out` = `base` − rate · the lent gradients, each read once; whether every one was finite.
    private static func update(_ base: [Float], with lent: LentFloats, rate: Float, into out: inout [Float]) -> Bool {
        let n = base.count
        if out.count != n { out = [Float](repeating: 0, count: n) }
        return base.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                Updates.sgdChecked(count: n, params: p.baseAddress!, gradients: lent.base, learningRate: rate, into: o.baseAddress!)
            }
        }
    }

    private mutating func apply(_ gradients: [Float]) {
        let n = shardElements
        guard n > 0 else { return }  // an empty shard (more ps than pieces of the model)
        let o = optimizer
        let step = Int(globalStep) + 1
        values.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeBufferPointer { g in
                switch o.kind {
                case .sgd:
                    Updates.sgd(count: n, params: p.baseAddress!, gradients: g.baseAddress!, learningRate: o.learningRate)
                case .momentum:
                    slots[0].withUnsafeMutableBufferPointer { v in
                        Updates.momentum(count: n, params: p.baseAddress!, velocity: v.baseAddress!, gradients: g.baseAddress!,
                                         learningRate: o.learningRate, momentum: o.momentum, nesterov: false)
                    }
                case .adam:
                    var m = slots[0], v = slots[1]
                    slots = []
                    m.withUnsafeMutableBufferPointer { mp in
                        v.withUnsafeMutableBufferPointer { vp in
                            Updates.adam(count: n, params: p.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!, gradients: g.baseAddress!,
                                         learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, step: step)
                        }
                    }
                    slots = [m, v]
                }
            }
        }
    }
}
