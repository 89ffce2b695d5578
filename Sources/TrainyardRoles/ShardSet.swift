import TrainyardCore
import TrainyardPlatform

/// Every parameter shard a training task talks to, used as one: owns the shard clients (one per
/// ps, or a single `LocalShard`) and the partition of the model over them, sends each request to
/// every shard (pipelined: all sent, then all answered), and returns one merged result.
///
/// Values and gradients move between the whole-model arrays the caller owns and the shards'
/// pieces here, and nowhere else. Not for concurrent use: one training loop owns it.
public final class ShardSet {
    /// The clients, in shard order: `clients[i]` holds shard `i` of `partition`.
    public let clients: [ShardClient]
    public let partition: Partition
    /// The shards that do not answer the status rounds, and why (names them when a trainer gives up).
    public private(set) var silence = PeerSilence()

    public init(clients: [ShardClient], partition: Partition) {
        precondition(clients.count == partition.shardCount, "one client per shard")
        self.clients = clients
        self.partition = partition
    }

    /// The shards of a cluster's parameter servers, or, with none, a `LocalShard` in this process.
    /// `localName` gives a ps's local (Unix-domain) socket name on this host's fast path, if any.
    public convenience init(cluster: ClusterSpec, model: MLPArchitecture, hello: Hello, optimizer: OptimizerConfig, shaper: NetworkShaper?,
                            localName: (TaskID) -> String? = { _ in nil }) throws {
        let psCount = cluster.count(of: .ps)
        let partition = Partition(variables: model.variables, shardCount: max(1, psCount))
        let clients: [ShardClient]
        if psCount == 0 {
            // No parameter servers (BASIC): the chief keeps the variables itself.
            guard hello.task.type.isChief else {
                throw FieldError(source: "TF_CONFIG", path: "cluster.ps", "a worker needs parameter servers; only the chief may train without them")
            }
            clients = [LocalShard(owner: hello.task, token: hello.token, optimizer: optimizer)]
        } else {
            clients = cluster.addresses(of: .ps).enumerated().map {
                PeerClient(server: .ps($0.offset), address: $0.element, hello: hello, shaper: shaper, localName: localName(.ps($0.offset)))
            }
        }
        self.init(clients: clients, partition: partition)
    }

    public var count: Int { clients.count }

    /// Whether the variables live in this process (no parameter servers).
    public var isLocal: Bool { clients.first is LocalShard }

    /// The cluster incarnation every request carries.
    public var incarnation: UInt32 {
        get { clients.first?.incarnation ?? 0 }
        set { for c in clients { c.incarnation = newValue } }
    }

    /// Drops every connection with a reset (injected connection faults).
    public func reset() {
        for c in clients { c.reset() }
    }

    /// How a status round ended.
    public enum PollOutcome: Sendable, Equatable {
        /// Every shard answered, in shard order.
        case answered([Status])
        /// A shard refused this task for good (wrong token, a model that does not fit).
        case refused(WireError.Code, reason: String)
        /// A shard could not be reached or did not answer in time.
        case unreachable(reason: String)
    }

    /// Asks every shard for its status (a hello on a new connection), one after the other;
    /// `model` names this task's model in the complaint about a shard of the wrong size.
    public func poll(timeout: Double, model: String) -> PollOutcome {
        var statuses: [Status] = []
        for (i, client) in clients.enumerated() {
            do {
                let status: Status
                if client.isConnected {
                    guard case .statusReply(let s) = try client.call(.status, timeout: timeout) else {
                        throw RPCError.transport("unexpected reply to status")
                    }
                    status = s
                } else {
                    status = try client.connect(until: .after(seconds: timeout))
                }
                if status.initialized && status.shardElements != partition.elements(inShard: i) {
                    return .refused(.badRequest, reason: "ps-\(i) holds \(status.shardElements) values but this task's \(model) model puts \(partition.elements(inShard: i)) there: do all tasks have the same --hidden and data?")
                }
                statuses.append(status)
                silence.answered(client.server)
            } catch {
                if let code = (error as? RPCError)?.code, code == .badToken || code == .badRequest || code == .unknownTask {
                    return .refused(code, reason: "ps-\(i): \(error)")
                }
                if let peer = client as? PeerClient, (error as? RPCError)?.code == nil {
                    let kind = ShardSet.failure(peer.lastTransportFailure)
                    silence.failed(peer.server, at: peer.address, kind)
                    if let line = silence.describe(peer.server) {
                        return .unreachable(reason: kind == .other ? "\(line) (last: \(error))" : line)
                    }
                }
                return .unreachable(reason: "ps-\(i): \(error)")
            }
        }
        return .answered(statuses)
    }

    /// The kind of a transport failure, as `PeerSilence` reports it.
    static func failure(_ error: SocketError?) -> PeerSilence.Failure {
        switch error {
        case .resolve?: return .notResolved
        case .timedOut?: return .timedOut
        case .closed(let why)? where why.contains("refused"): return .refused
        case .closed?: return .closed
        case .system?, nil: return .other
        }
    }

    /// Sets every shard, under `incarnation`, to its piece of `values` (and of each optimizer slot
    /// array in `slots`, whole-model arrays), one shard after the other; each shard snapshots itself
    /// at every multiple of a step in `snapshotEvery`.
    public func initialize(incarnation: UInt32, globalStep: Int64, maxSteps: Int64, values: [Float], slots: [[Float]],
                           snapshotEvery: [Int64] = [], checkpointEvery: Int64 = 0, until deadline: Deadline) throws(RPCError) {
        for (i, client) in clients.enumerated() {
            client.incarnation = incarnation
            let message = Message.initialize(Initialize(
                incarnation: incarnation, globalStep: globalStep, maxSteps: maxSteps,
                values: partition.gather(shard: i, from: values), slots: slots.map { partition.gather(shard: i, from: $0) },
                snapshotEvery: snapshotEvery, checkpointEvery: checkpointEvery))
            let id = try client.send(message, until: deadline)
            guard case .ack = try client.receive(id, until: deadline) else { throw .transport("ps-\(i) did not acknowledge initialize") }
        }
    }

    /// Pulls every shard into `parameters` (the whole model); with `includeSlots`, also returns the
    /// optimizer slots as whole-model arrays (empty without). Throws at the first shard that fails
    /// or sends the wrong number of values; `parameters` may then hold some shards' new values,
    /// and part of the failing shard's (its values are read into place before the rest of its
    /// reply): pull again before using them.
    /// With `snapshot`, every shard's snapshot of exactly that step instead (`no-snapshot` from a
    /// shard that holds none).
    public func pull(includeSlots: Bool, snapshot: Int64? = nil, into parameters: inout [Float], until deadline: Deadline) throws(RPCError) -> (merged: MergedPull, slots: [[Float]]) {
        var ids: [UInt32] = []
        for client in clients { ids.append(try client.send(.pull(Pull(includeSlots: includeSlots, snapshotStep: snapshot)), until: deadline)) }
        var replies: [Parameters] = []
        var slots: [[Float]] = []
        for (i, client) in clients.enumerated() {
            let (reply, placed) = try receive(i, ids[i], placingValuesIn: &parameters, until: deadline)
            guard case .pullReply(let p) = reply else { throw .transport("ps-\(i) answered pull with \(reply.name)") }
            if !placed {
                guard p.values.count == partition.elements(inShard: i) else {
                    throw .server(WireError(.badRequest, "ps-\(i) sent \(p.values.count) values; expected \(partition.elements(inShard: i))"))
                }
                partition.scatter(shard: i, values: p.values, into: &parameters)
            }
            if includeSlots {
                if slots.isEmpty { slots = Array(repeating: [Float](repeating: 0, count: parameters.count), count: p.slots.count) }
                for (k, slot) in p.slots.enumerated() where k < slots.count { partition.scatter(shard: i, values: slot, into: &slots[k]) }
            }
            replies.append(Parameters(globalStep: p.globalStep, done: p.done, values: []))
        }
        return (MergedPull(merging: replies), slots)
    }

    /// Pushes each shard its piece of `gradients` (computed at `baseStep`), asking for the values
    /// back; every shard that sends all of its values has them put into `parameters`. When it
    /// throws, `parameters` may hold part of a shard's new values: pull again before using them.
    public func push(gradients: [Float], baseStep: Int64, updating parameters: inout [Float], until deadline: Deadline) throws(RPCError) -> MergedPush {
        var ids: [UInt32] = []
        for (i, client) in clients.enumerated() {
            if let peer = client as? PeerClient, partition.elements(inShard: i) >= FrameCodec.partsThreshold {
                // Straight from the gradient array's pieces to the socket: no gathered copy.
                let ranges = partition.shards[i].map { $0.flatStart..<($0.flatStart + $0.count) }
                var result: Result<UInt32, RPCError> = .failure(.transport("no gradients"))
                gradients.withUnsafeBufferPointer { g in
                    do throws(RPCError) { result = .success(try peer.sendPush(baseStep: baseStep, returnValues: true, from: g, ranges: ranges, until: deadline)) } catch { result = .failure(error) }
                }
                ids.append(try result.get())
            } else {
                ids.append(try client.send(.push(Push(baseStep: baseStep, gradients: partition.gather(shard: i, from: gradients), returnValues: true)), until: deadline))
            }
        }
        var replies: [PushReply] = []
        var carried: [Bool] = []
        for i in clients.indices {
            let (answer, placed) = try receive(i, ids[i], placingValuesIn: &parameters, until: deadline)
            guard case .pushReply(let r) = answer else { throw .transport("ps-\(i) answered push with \(answer.name)") }
            let expected = partition.elements(inShard: i)
            if !placed && r.values.count == expected { partition.scatter(shard: i, values: r.values, into: &parameters) }
            replies.append(PushReply(globalStep: r.globalStep, applied: r.applied, done: r.done))
            carried.append(placed || r.values.count == expected)
        }
        return MergedPush(merging: replies, carried: carried)
    }

    /// The answer to request `id` from shard `i`; a parameter server's reply values go straight
    /// into the shard's pieces of `parameters` when they fit (`placed`).
    private func receive(_ i: Int, _ id: UInt32, placingValuesIn parameters: inout [Float], until deadline: Deadline) throws(RPCError) -> (message: Message, placed: Bool) {
        guard let peer = clients[i] as? PeerClient, partition.elements(inShard: i) >= FrameCodec.partsThreshold else {
            return (try clients[i].receive(id, until: deadline), false)
        }
        let ranges = partition.shards[i].map { $0.flatStart..<($0.flatStart + $0.count) }
        var result: Result<(message: Message, placed: Bool), RPCError> = .failure(.transport("no answer"))
        parameters.withUnsafeMutableBufferPointer { p in
            do throws(RPCError) { result = .success(try peer.receive(id, placingValuesAt: p.baseAddress!, ranges: ranges, until: deadline)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Tells every shard the job is over and disconnects (best effort: a shard that does not answer
    /// within `timeout` is left to the launcher).
    public func shutDown(reason: String, timeout: Double) {
        for client in clients {
            _ = try? client.call(.shutdown(reason: reason), timeout: timeout)
            client.disconnect()
        }
    }
}
