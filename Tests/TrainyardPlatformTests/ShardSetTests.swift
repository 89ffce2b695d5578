import Synchronization
import XCTest
import TrainyardCore
import TrainyardPlatform
import TrainyardRoles

/// `ShardSet` over two in-process shards (`LocalShard`): the partition, the scatter and gather of
/// values and gradients, and the merged answers, without sockets.
final class ShardSetTests: XCTestCase {
    // a→shard 0, b→1, c→1, d→0 (see PartitionTests): 28 values, 14 per shard.
    let partition = Partition(variables: [VariableSpec(name: "a", rows: 10, cols: 1), VariableSpec(name: "b", rows: 8, cols: 1),
                                          VariableSpec(name: "c", rows: 6, cols: 1), VariableSpec(name: "d", rows: 4, cols: 1)],
                              shardCount: 2, minimumPiece: 100)

    func makeShards() -> ShardSet {
        let sgd = OptimizerConfig(kind: .sgd, learningRate: 0.5)
        return ShardSet(clients: [LocalShard(owner: .chief(0), token: "t", optimizer: sgd), LocalShard(owner: .chief(0), token: "t", optimizer: sgd)],
                        partition: partition)
    }

    /// Over real sockets, a push goes to each ps straight from the pieces of the gradient array
    /// (no gathered copy): each ps applies exactly its own values' gradients, in partition order.
    func testPushesSentFromTheGradientArraysPiecesReachEachShardExactly() throws {
        let big = Partition(variables: [VariableSpec(name: "w", rows: 300, cols: 100), VariableSpec(name: "b", rows: 1, cols: 100),
                                        VariableSpec(name: "v", rows: 100, cols: 90), VariableSpec(name: "c", rows: 1, cols: 90)],
                            shardCount: 2, minimumPiece: 5000)
        final class Box: Sendable { let ps = Mutex(ParameterServer(task: .ps(0), token: "tok", optimizer: OptimizerConfig(kind: .sgd, learningRate: 1))) }
        var servers: [FrameServer] = []
        var boxes: [Box] = []
        var clients: [ShardClient] = []
        defer { for s in servers { s.stop() } }
        for i in 0..<2 {
            let box = Box()
            let listener = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
            let server = FrameServer(listener: listener) { conn in
                var peer = ParameterServer.Peer()
                while let frame = try? conn.receive(until: .never) {
                    for case .reply(let f) in box.ps.withLock({ $0.handle(frame, from: &peer) }) { try? conn.send(f, until: .after(seconds: 5)) }
                }
            }
            server.start(name: "ps-\(i)")
            servers.append(server)
            boxes.append(box)
            clients.append(PeerClient(server: .ps(i), address: listener.localAddress, hello: Hello(token: "tok", task: .chief(0))))
        }
        XCTAssertTrue(big.shards.allSatisfy { $0.reduce(0) { $0 + $1.count } >= FrameCodec.partsThreshold })
        let shards = ShardSet(clients: clients, partition: big)
        let values = (0..<big.totalElements).map { Float($0 % 997) }
        try shards.initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: values, slots: [], until: .after(seconds: 10))
        let gradients = (0..<big.totalElements).map { Float($0 % 13) - 6 }
        var parameters = [Float](repeating: 0, count: big.totalElements)
        let merged = try shards.push(gradients: gradients, baseStep: 0, updating: &parameters, until: .after(seconds: 10))
        XCTAssertTrue(merged.reply.applied)
        XCTAssertTrue(merged.carriedValues)
        let expected = zip(values, gradients).map { $0 - $1 }
        XCTAssertEqual(parameters, expected)
        for i in 0..<2 {
            XCTAssertEqual(boxes[i].ps.withLock { $0.values }, big.gather(shard: i, from: expected), "ps-\(i)")
        }
    }

    /// `FrameCodec.pushHead` is the head `parts` gives the same push.
    func testPushHeadIsTheSplitPushesHead() throws {
        let gradients = [Float](repeating: 0.5, count: FrameCodec.partsThreshold + 1)
        let frame = Frame(requestID: 9, incarnation: 4, deadlineMillis: 1234, message: .push(Push(baseStep: 77, gradients: gradients, returnValues: true)))
        XCTAssertEqual(FrameCodec.pushHead(requestID: 9, incarnation: 4, deadlineMillis: 1234, baseStep: 77, returnValues: true, count: gradients.count),
                       FrameCodec.parts(frame)?.head)
    }

    func testPullScattersEveryShardAndMergesTheirSteps() throws {
        let shards = makeShards()
        let values = (0..<28).map(Float.init)
        try shards.initialize(incarnation: 1, globalStep: 0, maxSteps: 3, values: values, slots: [], until: .after(seconds: 1))
        XCTAssertEqual(shards.incarnation, 1)
        guard case .answered(let statuses) = shards.poll(timeout: 1, model: "test") else { return XCTFail("the shards did not answer") }
        XCTAssertEqual(statuses.map(\.shardElements), [14, 14])

        var parameters = [Float](repeating: -1, count: 28)
        let first = try shards.pull(includeSlots: false, into: &parameters, until: .after(seconds: 1))
        XCTAssertEqual(parameters, values)
        XCTAssertEqual(first.merged, MergedPull(globalStep: 0, done: false, allDone: false))
        XCTAssertEqual(first.slots, [])

        // The gradients reach each shard as its own piece; the values come back updated.
        let pushed = try shards.push(gradients: [Float](repeating: 1, count: 28), baseStep: 0, updating: &parameters, until: .after(seconds: 1))
        XCTAssertEqual(pushed.reply, PushReply(globalStep: 1, applied: true, done: false))
        XCTAssertTrue(pushed.carriedValues)
        XCTAssertEqual(parameters, values.map { $0 - 0.5 })

        // Shard 1 runs ahead by a step: a pull reports the slowest shard's step, a push the furthest.
        let id = try shards.clients[1].send(.push(Push(baseStep: 1, gradients: [Float](repeating: 0, count: 14))), until: .after(seconds: 1))
        _ = try shards.clients[1].receive(id, until: .after(seconds: 1))
        XCTAssertEqual(try shards.pull(includeSlots: false, into: &parameters, until: .after(seconds: 1)).merged.globalStep, 1)
        let last = try shards.push(gradients: [Float](repeating: 0, count: 28), baseStep: 2, updating: &parameters, until: .after(seconds: 1))
        // Shard 1 reached the last step; shard 0 has not: the push is not done (shard 0 needs one
        // more), and a pull says some shard is done, but not all.
        XCTAssertEqual(last.reply, PushReply(globalStep: 3, applied: true, done: false))
        XCTAssertEqual(try shards.pull(includeSlots: false, into: &parameters, until: .after(seconds: 1)).merged,
                       MergedPull(globalStep: 2, done: true, allDone: false))
        // One more push: shard 1 answers without applying, shard 0 reaches the last step: done.
        let end = try shards.push(gradients: [Float](repeating: 0, count: 28), baseStep: 3, updating: &parameters, until: .after(seconds: 1))
        XCTAssertEqual(end.reply, PushReply(globalStep: 3, applied: false, done: true))
    }

    func testPullWithSlotsReturnsWholeModelArrays() throws {
        let momentum = OptimizerConfig(kind: .momentum, learningRate: 1, momentum: 0.5)
        let shards = ShardSet(clients: [LocalShard(owner: .chief(0), token: "t", optimizer: momentum), LocalShard(owner: .chief(0), token: "t", optimizer: momentum)],
                              partition: partition)
        let velocity = (0..<28).map { Float($0) / 10 }
        try shards.initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [Float](repeating: 0, count: 28), slots: [velocity], until: .after(seconds: 1))
        var parameters = [Float](repeating: 0, count: 28)
        let pulled = try shards.pull(includeSlots: true, into: &parameters, until: .after(seconds: 1))
        XCTAssertEqual(pulled.slots, [velocity])
    }

    func testAShardThatIsNotInitializedFailsThePull() {
        let shards = makeShards()
        var parameters = [Float](repeating: 0, count: 28)
        XCTAssertThrowsError(try shards.pull(includeSlots: false, into: &parameters, until: .after(seconds: 1))) { error in
            XCTAssertEqual((error as? RPCError)?.code, .notInitialized)
        }
    }

    /// A ps that refuses every connection is named, with its address and how it failed, in the
    /// reason a trainer gives up with (over a real socket: nothing listens on the port).
    func testAPollNamesTheParameterServerThatNeverAnswered() throws {
        let probe = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let port = probe.localAddress.port
        probe.close()
        let client = PeerClient(server: .ps(0), address: HostPort(host: "localhost", port: port), hello: Hello(token: "t", task: .worker(0)))
        let shards = ShardSet(clients: [client], partition: Partition(variables: [VariableSpec(name: "a", rows: 4, cols: 1)], shardCount: 1))
        for _ in 0..<2 {
            guard case .unreachable(let reason) = shards.poll(timeout: 1, model: "test") else { return XCTFail("a ps that is not there answered") }
            XCTAssertEqual(reason, "ps-0 (localhost:\(port)) never answered: connection refused")
        }
        XCTAssertTrue(shards.silence.isSilent(.ps(0)))
        guard case .closed(let why)? = client.lastTransportFailure, why.contains("refused") else {
            return XCTFail("the client's last failure is not a refused connection: \(String(describing: client.lastTransportFailure))")
        }
    }
}
