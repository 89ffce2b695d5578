import XCTest
@testable import TrainyardCore

final class PartitionTests: XCTestCase {
    func testEveryElementBelongsToExactlyOneShard() {
        let arch = MLPArchitecture(inputs: 784, hidden: [256, 128], classes: 10)
        for shards in [1, 2, 3, 11] {
            let p = Partition(variables: arch.variables, shardCount: shards)
            var owner = [Int](repeating: -1, count: arch.parameterCount)
            for (s, pieces) in p.shards.enumerated() {
                for piece in pieces {
                    for i in piece.flatStart..<piece.flatStart + piece.count {
                        XCTAssertEqual(owner[i], -1, "element \(i) in two shards")
                        owner[i] = s
                    }
                }
            }
            XCTAssertFalse(owner.contains(-1), "\(shards) shards leave elements unowned")
            XCTAssertEqual((0..<shards).map { p.elements(inShard: $0) }.reduce(0, +), arch.parameterCount)
        }
    }

    func testLargeVariablesAreSplitByRowsSoShardsBalance() {
        let arch = MLPArchitecture(inputs: 784, hidden: [256, 128], classes: 10)
        let p = Partition(variables: arch.variables, shardCount: 3)
        let sizes = (0..<3).map { p.elements(inShard: $0) }
        // The 784×256 kernel dominates; splitting it keeps every shard within 15% of an even share.
        let even = Double(arch.parameterCount) / 3
        for s in sizes { XCTAssertLessThan(abs(Double(s) - even) / even, 0.15, "\(sizes)") }
        let kernelPieces = p.shards.flatMap { $0 }.filter { $0.variable == 0 }
        XCTAssertGreaterThan(kernelPieces.count, 1)
        XCTAssertEqual(kernelPieces.map(\.rowCount).reduce(0, +), 784)
        for piece in kernelPieces { XCTAssertEqual(piece.count, piece.rowCount * 256) }
    }

    func testSmallVariablesStayWholeRoundRobinBySize() {
        let vars = [VariableSpec(name: "a", rows: 10, cols: 1), VariableSpec(name: "b", rows: 8, cols: 1),
                    VariableSpec(name: "c", rows: 6, cols: 1), VariableSpec(name: "d", rows: 4, cols: 1)]
        let p = Partition(variables: vars, shardCount: 2, minimumPiece: 100)
        // Largest first to the least loaded: a→0, b→1, c→1 (8<10), d→0 (10<14).
        XCTAssertEqual(p.shards[0].map(\.variable), [0, 3])
        XCTAssertEqual(p.shards[1].map(\.variable), [1, 2])
    }

    func testGatherScatterRoundTrip() {
        let arch = MLPArchitecture(inputs: 7, hidden: [5], classes: 3)
        let p = Partition(variables: arch.variables, shardCount: 3, minimumPiece: 2)
        XCTAssertGreaterThan(p.shards.flatMap { $0 }.count, arch.variables.count, "some variable is split")
        let flat = (0..<arch.parameterCount).map(Float.init)
        var rebuilt = [Float](repeating: -1, count: flat.count)
        for s in 0..<3 { p.scatter(shard: s, values: p.gather(shard: s, from: flat), into: &rebuilt) }
        XCTAssertEqual(rebuilt, flat)
    }

    func testDeterministic() {
        let arch = MLPArchitecture(inputs: 100, hidden: [30, 20], classes: 4)
        XCTAssertEqual(Partition(variables: arch.variables, shardCount: 4), Partition(variables: arch.variables, shardCount: 4))
    }
}
