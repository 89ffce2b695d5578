import Foundation
import Synchronization
import XCTest
@testable import TrainyardCore

final class ParameterServerTests: XCTestCase {
    var ps = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5))

    private func send(_ m: Message, _ peer: inout ParameterServer.Peer, incarnation: UInt32 = 0, id: UInt32 = 1) -> [ParameterServerDirective] {
        ps.handle(Frame(requestID: id, incarnation: incarnation, message: m), from: &peer)
    }

    private func reply(_ d: [ParameterServerDirective]) -> Message? {
        for x in d { if case .reply(let f) = x { return f.message } }
        return nil
    }

    private func connected(_ task: TaskID) -> ParameterServer.Peer {
        var peer = ParameterServer.Peer()
        ps.handshake(Hello(token: "secret", task: task), from: &peer)
        return peer
    }

    func testTheStartBarrierHoldsPushesUntilEveryTrainerHasTried() {
        ps.trainers = [.chief(0), .worker(0), .worker(1)]
        var chief = connected(.chief(0)), w0 = connected(.worker(0)), w1 = connected(.worker(1))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [1, 1])), &chief)
        let push = Message.push(Push(baseStep: 0, gradients: [1, 1]))
        // Each trainer's first push is applied; a second one waits until every trainer had one.
        guard case .pushReply(let first)? = reply(send(push, &chief, incarnation: 1)) else { return XCTFail() }
        XCTAssertTrue(first.applied)
        guard case .error(let e)? = reply(send(push, &chief, incarnation: 1)) else { return XCTFail("the chief's second push must wait") }
        XCTAssertEqual(e.code, .held)
        XCTAssertTrue(e.message.contains("worker-0, worker-1"), e.message)
        guard case .pushReply? = reply(send(push, &w0, incarnation: 1)) else { return XCTFail() }
        XCTAssertEqual(ps.globalStep, 2)
        guard case .pushReply(let r)? = reply(send(push, &w1, incarnation: 1)) else { return XCTFail() }
        XCTAssertTrue(r.applied)
        XCTAssertEqual(ps.globalStep, 3)
        // Every trainer took part: the barrier is open.
        guard case .pushReply? = reply(send(push, &chief, incarnation: 1)) else { return XCTFail() }
        // A restore (initialize past step 0) resumes at once: no barrier.
        _ = send(.initialize(Initialize(incarnation: 2, globalStep: 50, maxSteps: 100, values: [1, 1])), &chief)
        guard case .pushReply? = reply(send(push, &w0, incarnation: 2)) else { return XCTFail("a restored cluster must not wait") }
        // The startup timeout opens it whatever is missing.
        _ = send(.initialize(Initialize(incarnation: 3, globalStep: 0, maxSteps: 100, values: [1, 1])), &chief)
        XCTAssertEqual(ps.openStartBarrier(), [.chief(0), .worker(0), .worker(1)])
        guard case .pushReply? = reply(send(push, &w0, incarnation: 3)) else { return XCTFail() }
    }

    func testWrongTokenIsRejectedAndClosed() {
        var peer = ParameterServer.Peer()
        let d = ps.handshake(Hello(token: "guess", task: .worker(0)), from: &peer)
        XCTAssertEqual(reply(d), .error(WireError(.badToken, "the hello's job token is not this job's")))
        XCTAssertTrue(d.contains(.close))
        XCTAssertNil(peer.task)
    }

    func testRequestsBeforeHelloAreRejected() {
        var peer = ParameterServer.Peer()
        let d = send(.pull(Pull()), &peer)
        guard case .error(let e)? = reply(d) else { return XCTFail() }
        XCTAssertEqual(e.code, .helloRequired)
        XCTAssertTrue(d.contains(.close))
    }

    func testPullBeforeInitializationSaysNotInitialized() {
        var w = connected(.worker(0))
        guard case .error(let e)? = reply(send(.pull(Pull()), &w)) else { return XCTFail() }
        XCTAssertEqual(e.code, .notInitialized)
    }

    func testNonFiniteGradientsAreRefusedCountedAndLeaveTheShardUnchanged() {
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [1, 2, 3])), &chief)
        var w = connected(.worker(0))
        for bad: [Float] in [[0, .nan, 0], [.infinity, 0, -.infinity]] {
            let d = send(.push(Push(baseStep: 0, gradients: bad)), &w, incarnation: 1)
            guard case .error(let e)? = reply(d) else { return XCTFail("\(d)") }
            XCTAssertEqual(e.code, .nonFiniteGradients)
            XCTAssertTrue(e.message.contains("shard unchanged"), e.message)
            XCTAssertFalse(d.contains(.close))
            XCTAssertTrue(d.contains { if case .log(let line) = $0 { return line.contains("refused a push from worker-0") }; return false }, "\(d)")
        }
        XCTAssertEqual(ps.values, [1, 2, 3])
        XCTAssertEqual(ps.globalStep, 0)
        XCTAssertEqual(ps.refusedNonFinite, 2)
        XCTAssertEqual(WireError.Code.nonFiniteGradients.description, "non-finite-gradients")
        // A finite push still goes through.
        XCTAssertEqual(reply(send(.push(Push(baseStep: 0, gradients: [2, 2, 2])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 1, applied: true, done: false)))
    }

    /// A push whose gradients are lent (left in a same-host trainer's shared region) is checked and
    /// applied in one pass by asynchronous SGD and by every synchronous accumulation, and by
    /// asynchronous momentum and Adam after a checking copy: the shard ends bit for bit where copied pushes take it, a lent push with a
    /// NaN or ±∞ is refused with the shard unchanged, and one the shard does not apply (done) changes nothing.
    func testLentGradientsUpdateTheShardExactlyAsCopiedOnesAndNonFiniteOnesAreRefused() {
        var rng = SplitMix64(seed: 5, stream: 1)
        let n = 37
        let initial = (0..<n).map { _ in Float(rng.nextGaussian()) }
        let pushes = (0..<4).map { _ in (0..<n).map { _ in Float(rng.nextGaussian()) } }
        for (kind, sync) in [(OptimizerKind.sgd, false), (.momentum, false), (.adam, false), (.sgd, true), (.momentum, true)] {
            let config = OptimizerConfig(kind: kind, learningRate: 0.1)
            // Synchronous: two gradients per step, so a step's second push applies what the first accumulated.
            var copied = ParameterServer(task: .ps(0), token: "secret", optimizer: config, replicasToAggregate: sync ? 2 : nil)
            var lent = copied
            var peers = [ParameterServer.Peer(), ParameterServer.Peer()]
            _ = copied.handshake(Hello(token: "secret", task: .chief(0)), from: &peers[0])
            _ = lent.handshake(Hello(token: "secret", task: .chief(0)), from: &peers[1])
            let initialize = Frame(message: .initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: sync ? 2 : 4, values: initial)))
            _ = copied.handle(initialize, from: &peers[0])
            _ = lent.handle(initialize, from: &peers[1])
            for (k, g) in pushes.enumerated() {
                let base = copied.globalStep
                let a = copied.handle(Frame(incarnation: 1, message: .push(Push(baseStep: base, gradients: g, returnValues: true))), from: &peers[0])
                // The gradients stay where they are (an array kept alive here, as a region is by its connection).
                let b = g.withUnsafeBytes { bytes -> [ParameterServerDirective] in
                    var push = Push(baseStep: base, gradients: [], returnValues: true)
                    push.lent = LentFloats(base: bytes.baseAddress!, count: g.count)
                    return lent.handle(Frame(incarnation: 1, message: .push(push)), from: &peers[1])
                }
                XCTAssertEqual(a, b, "\(kind) sync \(sync) push \(k)")
                XCTAssertEqual(lent.values.map(\.bitPattern), copied.values.map(\.bitPattern), "\(kind) sync \(sync) push \(k)")
                XCTAssertEqual(lent.accumulator.map(\.bitPattern), copied.accumulator.map(\.bitPattern), "\(kind) sync \(sync) push \(k)")
                XCTAssertEqual(lent.globalStep, copied.globalStep)
                for (position, bad) in [(n / 2, Float.nan), (n - 1, -.infinity)] where k == 1 || k == 2 {
                    // A NaN or ∞ in the lent gradients (the vector body, the scalar tail): refused,
                    // the shard and the step's accumulator unchanged.
                    var wrong = g
                    wrong[position] = bad
                    let before = (lent.values, lent.accumulator, lent.appliedPushes)
                    let d = wrong.withUnsafeBytes { bytes -> [ParameterServerDirective] in
                        var push = Push(baseStep: base, gradients: [])
                        push.lent = LentFloats(base: bytes.baseAddress!, count: n)
                        return lent.handle(Frame(incarnation: 1, message: .push(push)), from: &peers[1])
                    }
                    guard case .error(let e)? = reply(d) else { return XCTFail("\(kind): \(d)") }
                    XCTAssertEqual(e.code, .nonFiniteGradients)
                    XCTAssertTrue(e.message.contains("1 of \(n) gradients are NaN or infinite (the first at index \(position))"), e.message)
                    XCTAssertEqual(lent.values, before.0)
                    XCTAssertEqual(lent.accumulator, before.1)
                    XCTAssertEqual(lent.appliedPushes, before.2)
                    XCTAssertEqual(lent.globalStep, copied.globalStep)
                }
            }
            // The job is done (max steps reached): a lent push changes nothing.
            XCTAssertTrue(lent.done, "\(kind)")
            let before = lent.values
            let extra = pushes[0]
            let d = extra.withUnsafeBytes { bytes -> [ParameterServerDirective] in
                var push = Push(baseStep: lent.globalStep, gradients: [])
                push.lent = LentFloats(base: bytes.baseAddress!, count: n)
                return lent.handle(Frame(incarnation: 1, message: .push(push)), from: &peers[1])
            }
            guard case .pushReply(let r)? = reply(d) else { return XCTFail("\(d)") }
            XCTAssertFalse(r.applied)
            XCTAssertEqual(lent.values, before)
            XCTAssertEqual(lent.accumulator.map(\.bitPattern), copied.accumulator.map(\.bitPattern))
            // Asynchronous SGD and synchronous steps took every push where it lay; momentum and
            // Adam copied it (and a copied push is never counted).
            XCTAssertEqual(lent.appliedWhereTheyLay, sync || kind == .sgd ? pushes.count : 0, "\(kind) sync \(sync)")
            XCTAssertEqual(copied.appliedWhereTheyLay, 0)
        }
    }

    /// A trainer may write its shared region while the ps reads a push from it. The ps reads each
    /// lent gradient once, so what it applies is what it checked: with another thread turning
    /// gradients to NaN and back as fast as it can, every push is applied whole or refused whole,
    /// and the shard never holds a NaN (a check pass followed by a separate update pass would let
    /// a NaN written between the two through).
    func testGradientsRewrittenWhileThePsReadsThemNeverPutANaNInTheShard() {
        let n = 8192
        var server = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.01))
        var chief = ParameterServer.Peer()
        _ = server.handshake(Hello(token: "secret", task: .chief(0)), from: &chief)
        _ = server.handle(Frame(message: .initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: .max, values: [Float](repeating: 1, count: n)))), from: &chief)
        final class Region: @unchecked Sendable {
            let floats: UnsafeMutablePointer<Float>
            init(_ n: Int) { floats = .allocate(capacity: n); floats.initialize(repeating: 0.5, count: n) }
            deinit { floats.deallocate() }
        }
        let region = Region(n)
        let stop = Atomic<Bool>(false), cycles = Atomic<Int>(0)
        let writer = Thread {
            // Every 61st gradient, spread over the vector body and the tail, NaN and back.
            while !stop.load(ordering: .relaxed) {
                for i in stride(from: 7, to: n, by: 61) { region.floats[i] = .nan }
                for i in stride(from: 7, to: n, by: 61) { region.floats[i] = 0.5 }
                cycles.add(1, ordering: .relaxed)
            }
        }
        writer.start()
        defer { stop.store(true, ordering: .relaxed) }
        while cycles.load(ordering: .relaxed) == 0 { usleep(100) }
        var applied = 0, refused = 0
        for _ in 0..<4000 {
            var push = Push(baseStep: 0, gradients: [])
            push.lent = LentFloats(base: UnsafeRawPointer(region.floats), count: n)
            let before = server.values
            let d = server.handle(Frame(incarnation: 1, message: .push(push)), from: &chief)
            switch reply(d) {
            case .pushReply(let r)?:
                XCTAssertTrue(r.applied)
                applied += 1
            case .error(let e)?:
                XCTAssertEqual(e.code, .nonFiniteGradients)
                XCTAssertEqual(server.values, before, "a refused push changed the shard")
                refused += 1
            default:
                return XCTFail("\(d)")
            }
            guard server.values.allSatisfy(\.isFinite) else { return XCTFail("a NaN reached the shard after \(applied) pushes applied and \(refused) refused") }
        }
        XCTAssertEqual(applied + refused, 4000)
        XCTAssertEqual(server.appliedWhereTheyLay, applied)
    }

    func testOnlyTrainingTasksPushAndTheFrameLimitFollowsTheShard() {
        XCTAssertEqual(ps.payloadLimit, FrameCodec.defaultPayloadLimit)
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [1, 2, 3])), &chief)
        var probe = connected(HelloGate.launcherProbe)
        guard case .error(let e)? = reply(send(.push(Push(baseStep: 0, gradients: [1, 1, 1])), &probe, incarnation: 1)) else { return XCTFail() }
        XCTAssertEqual(e.code, .badRequest)
        XCTAssertEqual(ps.values, [1, 2, 3])
        XCTAssertEqual(ps.payloadLimit, 3 * 4 + ParameterServer.payloadOverhead)
        var adam = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .adam, learningRate: 0.1), initialPayloadLimit: 1000)
        XCTAssertEqual(adam.payloadLimit, 1000)
        var c = ParameterServer.Peer()
        _ = adam.handshake(Hello(token: "secret", task: .chief(0)), from: &c)
        _ = adam.handle(Frame(message: .initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [Float](repeating: 0, count: 100)))), from: &c)
        XCTAssertEqual(adam.payloadLimit, 100 * 4 * 3 + ParameterServer.payloadOverhead)
    }

    func testInitializePullPushAppliesSGDAndCountsSteps() {
        var chief = connected(.chief(0))
        XCTAssertEqual(reply(send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 2, values: [1, 2])), &chief)), .ack(globalStep: 0))
        var w = connected(.worker(0))
        XCTAssertEqual(reply(send(.pull(Pull()), &w, incarnation: 1)), .pullReply(Parameters(globalStep: 0, done: false, values: [1, 2])))
        XCTAssertEqual(reply(send(.push(Push(baseStep: 0, gradients: [2, -2])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 1, applied: true, done: false)))
        XCTAssertEqual(ps.values, [0, 3])  // 1 - 0.5·2, 2 + 0.5·2
        XCTAssertEqual(reply(send(.push(Push(baseStep: 1, gradients: [0, 0])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 2, applied: true, done: true)))
        // At max steps the ps stops applying.
        XCTAssertEqual(reply(send(.push(Push(baseStep: 2, gradients: [9, 9])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 2, applied: false, done: true)))
        XCTAssertEqual(ps.values, [0, 3])
    }

    func testSnapshotsAreOfExactlyTheBoundaryStepWhenPushesCrossItInBursts() {
        ps = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .momentum, learningRate: 0.5, momentum: 0.5))
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [0], snapshotEvery: [5, 3])), &chief)
        // Three workers push in bursts, pipelined: steps 1…13 arrive back to back, out of any order.
        var workers = [connected(.worker(0)), connected(.worker(1)), connected(.worker(2))]
        var expected: [Int64: (value: Float, velocity: Float)] = [:]
        for step in 1...13 {
            _ = send(.push(Push(baseStep: 0, gradients: [1])), &workers[step % 3], incarnation: 1, id: UInt32(step))
            expected[Int64(step)] = (ps.values[0], ps.slots[0][0])
        }
        XCTAssertEqual(ps.globalStep, 13)
        // Kept: the newest four snapshots (6, 9, 10, 12), each interval's newest multiple (10, 12), nothing between.
        XCTAssertEqual(ps.snapshots.map(\.step), [6, 9, 10, 12])
        for step: Int64 in [6, 9, 10, 12] {
            guard case .pullReply(let p)? = reply(send(.pull(Pull(includeSlots: true, snapshotStep: step)), &chief, incarnation: 1)) else { return XCTFail("\(step)") }
            XCTAssertEqual(p.globalStep, step)
            XCTAssertEqual(p.values, [expected[step]!.value], "values at step \(step)")
            XCTAssertEqual(p.slots, [[expected[step]!.velocity]], "velocity at step \(step)")
        }
        // The current values are ahead of every snapshot.
        XCTAssertEqual(reply(send(.pull(Pull()), &chief, incarnation: 1)), .pullReply(Parameters(globalStep: 13, done: false, values: ps.values)))
        // A step not reached yet, or not kept, is refused with no-snapshot.
        guard case .error(let ahead)? = reply(send(.pull(Pull(snapshotStep: 15)), &chief, incarnation: 1)),
              case .error(let gone)? = reply(send(.pull(Pull(snapshotStep: 3)), &chief, incarnation: 1)) else { return XCTFail() }
        XCTAssertEqual(ahead, WireError(.noSnapshot, "no snapshot of step 15: the global step is 13, short of 15"))
        XCTAssertEqual(gone, WireError(.noSnapshot, "no snapshot of step 3: the ones kept are of steps 6, 9, 10, 12"))
        // A frequent interval does not push out the other's newest multiple.
        for step in 14...21 { _ = send(.push(Push(baseStep: 0, gradients: [1])), &workers[0], incarnation: 1, id: UInt32(step)) }
        XCTAssertEqual(ps.snapshots.map(\.step), [15, 18, 20, 21])
        _ = send(.initialize(Initialize(incarnation: 2, globalStep: 20, maxSteps: 100, values: [0], snapshotEvery: [7, 1000])), &chief, incarnation: 1)
        XCTAssertEqual(ps.snapshots, [], "a restore drops the old incarnation's snapshots")
        for step in 21...30 { _ = send(.push(Push(baseStep: 0, gradients: [1])), &workers[0], incarnation: 2, id: UInt32(step)) }
        XCTAssertEqual(ps.snapshots.map(\.step), [21, 28])
    }

    func testAsyncTrainingHoldsAtEachCheckpointStepUntilTheChiefCollectsIt() {
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [0], checkpointEvery: 4)), &chief)
        var w = connected(.worker(0))
        for _ in 1...4 { _ = send(.push(Push(baseStep: 0, gradients: [1])), &w, incarnation: 1) }
        XCTAssertEqual(ps.globalStep, 4)
        XCTAssertEqual(ps.snapshots.map(\.step), [4])
        // Held: pushes are refused, not applied, until the chief collects step 4 with its slots.
        XCTAssertEqual(reply(send(.push(Push(baseStep: 4, gradients: [1])), &w, incarnation: 1)),
                       .error(WireError(.checkpointPending, "step 4 waits for the chief to collect its checkpoint")))
        XCTAssertEqual(ps.globalStep, 4)
        // An evaluation's pull (no slots) does not release it; the checkpoint's does.
        _ = send(.pull(Pull(includeSlots: false, snapshotStep: 4)), &chief, incarnation: 1)
        XCTAssertTrue(ps.holdsForCheckpoint)
        XCTAssertEqual(reply(send(.pull(Pull(includeSlots: true, snapshotStep: 4)), &chief, incarnation: 1)),
                       .pullReply(Parameters(globalStep: 4, done: false, values: [-2], slots: [])))
        XCTAssertEqual(ps.collectedStep, 4)
        XCTAssertEqual(reply(send(.push(Push(baseStep: 4, gradients: [1])), &w, incarnation: 1)), .pushReply(PushReply(globalStep: 5, applied: true, done: false)))
        // A restore counts as collected at its step.
        _ = send(.initialize(Initialize(incarnation: 2, globalStep: 8, maxSteps: 100, values: [0], checkpointEvery: 4)), &chief, incarnation: 1)
        XCTAssertFalse(ps.holdsForCheckpoint)
        XCTAssertEqual(reply(send(.push(Push(baseStep: 8, gradients: [1])), &w, incarnation: 2)), .pushReply(PushReply(globalStep: 9, applied: true, done: false)))
    }

    func testSyncStepsAreSnapshottedWhenTheAggregateIsApplied() {
        ps = ParameterServer(task: .ps(0), token: "secret", optimizer: OptimizerConfig(kind: .sgd, learningRate: 1), replicasToAggregate: 2)
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [0], snapshotEvery: [2])), &chief)
        var a = connected(.worker(0)), b = connected(.worker(1))
        for step: Int64 in 0..<3 {
            _ = send(.push(Push(baseStep: step, gradients: [1])), &a, incarnation: 1)
            _ = send(.push(Push(baseStep: step, gradients: [3])), &b, incarnation: 1)
        }
        XCTAssertEqual(ps.globalStep, 3)
        XCTAssertEqual(ps.snapshots, [ParameterServer.Snapshot(step: 2, values: [-4], slots: [])])
    }

    func testStaleIncarnationIsRejectedAfterARestore() {
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [0])), &chief)
        _ = send(.initialize(Initialize(incarnation: 2, globalStep: 40, maxSteps: 100, values: [5])), &chief)
        var w = connected(.worker(1))
        guard case .error(let e)? = reply(send(.push(Push(baseStep: 3, gradients: [1])), &w, incarnation: 1)) else { return XCTFail() }
        XCTAssertEqual(e.code, .staleIncarnation)
        XCTAssertEqual(ps.values, [5])
        // An older incarnation cannot re-initialize either.
        guard case .error(let e2)? = reply(send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 100, values: [0])), &chief)) else { return XCTFail() }
        XCTAssertEqual(e2.code, .staleIncarnation)
    }

    func testOnlyTheChiefInitializesAndShutsDown() {
        var w = connected(.worker(0))
        guard case .error(let e)? = reply(send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 1, values: [1])), &w)) else { return XCTFail() }
        XCTAssertEqual(e.code, .badRequest)
        guard case .error(let e2)? = reply(send(.shutdown(reason: "x"), &w)) else { return XCTFail() }
        XCTAssertEqual(e2.code, .badRequest)
        var chief = connected(.chief(0))
        let d = send(.shutdown(reason: "finished"), &chief)
        XCTAssertTrue(d.contains(.exitCleanly(reason: "finished")))
        guard case .error(let e3)? = reply(send(.pull(Pull()), &w)) else { return XCTFail() }
        XCTAssertEqual(e3.code, .shuttingDown)
    }

    func testWrongGradientSizeIsABadRequest() {
        var chief = connected(.chief(0))
        _ = send(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [0, 0, 0])), &chief)
        var w = connected(.worker(0))
        guard case .error(let e)? = reply(send(.push(Push(baseStep: 0, gradients: [1])), &w, incarnation: 1)) else { return XCTFail() }
        XCTAssertEqual(e.code, .badRequest)
    }

    func testMomentumKeepsVelocityAndCheckpointSlotsRestore() {
        var m = ParameterServer(task: .ps(0), token: "t", optimizer: OptimizerConfig(kind: .momentum, learningRate: 1, momentum: 0.5))
        var chief = ParameterServer.Peer()
        _ = m.handshake(Hello(token: "t", task: .chief(0)), from: &chief)
        _ = m.handle(Frame(message: .initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: 10, values: [0]))), from: &chief)
        _ = m.handle(Frame(incarnation: 1, message: .push(Push(baseStep: 0, gradients: [1]))), from: &chief)
        _ = m.handle(Frame(incarnation: 1, message: .push(Push(baseStep: 1, gradients: [1]))), from: &chief)
        // v1 = 1, p = -1; v2 = 0.5 + 1 = 1.5, p = -2.5
        XCTAssertEqual(m.values, [-2.5])
        XCTAssertEqual(m.slots, [[1.5]])
        _ = m.handle(Frame(message: .initialize(Initialize(incarnation: 2, globalStep: 1, maxSteps: 10, values: [-1], slots: [[1]]))), from: &chief)
        XCTAssertEqual(m.slots, [[1]])
        XCTAssertEqual(m.globalStep, 1)
    }
}
