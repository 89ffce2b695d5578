import XCTest
@testable import TrainyardCore

final class ModelAndDataTests: XCTestCase {
    func testSyntheticDataIsDeterministicAndShardedDisjointly() {
        let d = SyntheticDataset(seed: 7, inputs: 6, classes: 3, examples: 100)
        let a = d.split(evalFraction: 0.2, shard: 0, of: 2)
        let b = d.split(evalFraction: 0.2, shard: 1, of: 2)
        XCTAssertEqual(a.train.count, 40)
        XCTAssertEqual(b.train.count, 40)
        XCTAssertEqual(a.eval.count, 20)
        XCTAssertEqual(a.eval, b.eval)
        XCTAssertNotEqual(a.train.features, b.train.features)
        XCTAssertEqual(d.split(evalFraction: 0.2, shard: 0, of: 2).train, a.train)
        // Example 2 of the whole set is shard 0's second example.
        XCTAssertEqual(d.make([2]).features, Array(a.train.features[6..<12]))
        XCTAssertNotEqual(SyntheticDataset(seed: 8, inputs: 6, classes: 3, examples: 100).make([0]).features, d.make([0]).features)
        // Every class appears: the teacher makes a real classification problem.
        XCTAssertEqual(Set(d.make(Array(0..<100)).labels).count, 3)
    }

    /// A task's synthetic data made an example at a time as batches read it: the same examples,
    /// the same batches in the same order as the whole shard made at once, and nothing made
    /// before it is read (launch makes no data; a worker never makes the held-out set).
    func testLazySyntheticDataIsTheSameDataMadeOnlyWhenRead() {
        let d = SyntheticDataset(seed: 11, inputs: 9, classes: 4, examples: 500)
        let eager = d.split(evalFraction: 0.2, shard: 1, of: 3)
        let lazy = d.lazySplit(evalFraction: 0.2, shard: 1, of: 3)
        XCTAssertEqual(lazy.trainExamples.count, eager.train.count)
        XCTAssertEqual(lazy.trainExamples.madeCount, 0)
        var a = BatchSampler(data: eager.train, batchSize: 16, seed: 5)
        var b = BatchSampler(examples: lazy.trainExamples, batchSize: 16, seed: 5)
        var xa = [Float](repeating: 0, count: 16 * 9), xb = xa
        var ya = [Int32](repeating: 0, count: 16), yb = ya
        a.next(features: &xa, labels: &ya)
        b.next(features: &xb, labels: &yb)
        XCTAssertEqual(xa, xb)
        XCTAssertEqual(ya, yb)
        XCTAssertEqual(lazy.trainExamples.madeCount, 16)
        XCTAssertEqual(lazy.evalExamples.madeCount, 0)
        for _ in 0..<40 {  // several epochs: rows read again come from the cache
            a.next(features: &xa, labels: &ya)
            b.next(features: &xb, labels: &yb)
            XCTAssertEqual(xa, xb)
            XCTAssertEqual(ya, yb)
        }
        XCTAssertEqual(lazy.train, eager.train)
        XCTAssertEqual(lazy.eval, eager.eval)
        XCTAssertEqual(lazy.evalExamples.madeCount, eager.eval.count)
    }

    /// The vectorized finiteness check finds NaN and ±infinity anywhere (in the 16-wide body and
    /// in the tail), and passes the extreme finite values.
    func testFiniteCheckFindsEveryNonFiniteValue() {
        let finite: [Float] = [0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1, -3]
        for n in [0, 1, 15, 16, 17, 40, 1000] {
            var values = (0..<n).map { finite[$0 % finite.count] }
            XCTAssertTrue(FiniteCheck.allFinite(values), "n \(n)")
            for bad in [Float.nan, .infinity, -.infinity, -Float.nan, Float(bitPattern: 0x7F80_0001)] {
                for position in Set([0, n / 2, n - 1]) where n > 0 {
                    let saved = values[position]
                    values[position] = bad
                    XCTAssertFalse(FiniteCheck.allFinite(values), "n \(n), \(bad) at \(position)")
                    values[position] = saved
                }
            }
        }
        XCTAssertNil(ParameterServer.nonFinite([1, 2, 3]))
        XCTAssertEqual(ParameterServer.nonFinite([1, .nan, 3, .infinity])?.count, 2)
        XCTAssertEqual(ParameterServer.nonFinite([1, .nan, 3, .infinity])?.first, 1)
    }

    func testCheckpointRoundTripAndDamageDetection() throws {
        let arch = MLPArchitecture(inputs: 3, hidden: [4], classes: 2)
        let c = Checkpoint(globalStep: 77, incarnation: 2, architecture: arch, parameters: arch.initialParameters(seed: 1),
                           slots: [[Float](repeating: 0.5, count: arch.parameterCount)])
        let bytes = c.encoded()
        XCTAssertEqual(try Checkpoint(decoding: bytes), c)
        var flipped = bytes
        flipped[40] ^= 0x10
        XCTAssertThrowsError(try Checkpoint(decoding: flipped)) { XCTAssertTrue("\($0)".contains("checksum mismatch")) }
        XCTAssertThrowsError(try Checkpoint(decoding: Array(bytes.prefix(bytes.count / 2))))
        XCTAssertThrowsError(try Checkpoint(decoding: []))
        XCTAssertEqual(Checkpoint.fileName(step: 1200), "ckpt-00001200.tyckpt")
        XCTAssertEqual(Checkpoint.step(fromFileName: "ckpt-00001200.tyckpt"), 1200)
        XCTAssertNil(Checkpoint.step(fromFileName: "latest"))
    }

    func testCRC32CCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    func testTrainingReducesLossOnTheSyntheticTask() {
        let arch = MLPArchitecture(inputs: 8, hidden: [16], classes: 3)
        let data = SyntheticDataset(seed: 3, inputs: 8, classes: 3, examples: 600).split(evalFraction: 0.2, shard: 0, of: 1)
        let trainer = MLPTrainer(architecture: arch, maxBatch: 32)
        var params = arch.initialParameters(seed: 1)
        var grads = [Float](repeating: 0, count: params.count)
        var sampler = BatchSampler(data: data.train, batchSize: 32, seed: 1)
        var x = [Float](repeating: 0, count: 32 * 8)
        var y = [Int32](repeating: 0, count: 32)
        let before = params.withUnsafeBufferPointer { trainer.evaluate(parameters: $0.baseAddress!, on: data.eval) }
        for _ in 0..<300 {
            sampler.next(features: &x, labels: &y)
            _ = trainer.lossAndGradients(parameters: params, inputs: x, labels: y, rows: 32, gradients: &grads)
            for i in params.indices { params[i] -= 0.1 * grads[i] }
        }
        let after = params.withUnsafeBufferPointer { trainer.evaluate(parameters: $0.baseAddress!, on: data.eval) }
        XCTAssertLessThan(after.loss, before.loss * 0.7)
        XCTAssertGreaterThan(after.accuracy, 0.6)
    }

    func testJobSummaryFromRecords() {
        let records: [JSONValue] = [
            ["time": 1, "task": "chief-0", "kind": "train", "step": 10, "loss": 2.0],
            ["time": 2, "task": "worker-0", "kind": "train", "step": 20, "loss": 1.8],
            ["time": 3, "task": "chief-0", "kind": "train", "step": 90, "loss": 0.6],
            ["time": 4, "task": "worker-0", "kind": "train", "step": 95, "loss": 0.4],
            ["time": 5, "task": "chief-0", "kind": "eval", "step": 100, "loss": 0.5, "accuracy": 0.9],
        ]
        let s = JobSummary(outcome: JobOutcome(.succeeded, "ok"), topology: Topology(workers: 1, parameterServers: 1), records: records,
                           batchSize: 10, wallSeconds: 2, tasks: [])
        XCTAssertEqual(s.steps, 100)
        XCTAssertEqual(s.firstLoss!, 1.9, accuracy: 1e-9)
        XCTAssertEqual(s.finalLoss!, 0.5, accuracy: 1e-9)
        XCTAssertEqual(s.evalAccuracy, 0.9)
        XCTAssertEqual(s.examplesPerSecond, 500)
        // Synchronous steps with two replicas aggregated: each global step trained two batches.
        let sync = JobSummary(outcome: JobOutcome(.succeeded, "ok"), topology: Topology(workers: 1, parameterServers: 1), records: records,
                              batchSize: 10, batchesPerStep: 2, wallSeconds: 2, tasks: [])
        XCTAssertEqual(sync.examplesPerSecond, 1000)
        XCTAssertEqual(s.json["steps"], 100)
        XCTAssertEqual(s.stepsTrained, 100)
        XCTAssertNil(s.startStep)
    }

    func testJobSummaryOfARunThatResumedOrHadNothingToTrain() {
        // Resumed from step 60: throughput counts only the 40 steps this run took.
        let resumed: [JSONValue] = [
            ["time": 1, "task": "chief-0", "kind": "restore", "step": 60],
            ["time": 2, "task": "chief-0", "kind": "train", "step": 61, "loss": 0.7],
            ["time": 3, "task": "chief-0", "kind": "restore", "step": 80],
            ["time": 4, "task": "chief-0", "kind": "eval", "step": 100, "loss": 0.5, "accuracy": 0.9],
        ]
        let r = JobSummary(outcome: JobOutcome(.succeeded, "ok"), topology: Topology(workers: 1, parameterServers: 1), records: resumed,
                           batchSize: 10, wallSeconds: 2, tasks: [])
        XCTAssertEqual(r.startStep, 60)
        XCTAssertEqual(r.stepsTrained, 40)
        XCTAssertEqual(r.examplesPerSecond, 200)
        // Already at the end: no step, no loss, no throughput.
        let finished: [JSONValue] = [
            ["time": 1, "task": "chief-0", "kind": "restore", "step": 100],
            ["time": 2, "task": "chief-0", "kind": "eval", "step": 100, "loss": 0.5, "accuracy": 0.9],
        ]
        let f = JobSummary(outcome: JobOutcome(.succeeded, "ok"), topology: Topology(workers: 1, parameterServers: 1), records: finished,
                           batchSize: 10, wallSeconds: 0.001, tasks: [])
        XCTAssertEqual(f.steps, 100)
        XCTAssertEqual(f.stepsTrained, 0)
        XCTAssertEqual(f.examplesPerSecond, 0)
        XCTAssertNil(f.firstLoss)
        XCTAssertEqual(f.json["steps_trained"], 0)
        XCTAssertEqual(f.json["start_step"], 100)
    }
}
