import Foundation
import XCTest
@testable import TrainyardCore

final class TierCatalogTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func shippedCatalog() throws -> TierCatalog {
        let dir = root.appendingPathComponent("ScaleTiers").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }
            .map { (name: $0, text: try String(contentsOfFile: dir + "/" + $0, encoding: .utf8)) }
        return try TierCatalog(files: files)
    }

    func testShippedCatalogLoadsWithSourcesForEveryFigure() throws {
        let c = try Self.shippedCatalog()
        for name in ["standard", "large_model", "complex_model_s", "complex_model_m", "complex_model_l", "standard_gpu", "complex_model_m_gpu",
                     "standard_p100", "standard_v100", "n1-standard-4", "n1-standard-8", "n1-highmem-2"] {
            XCTAssertNotNil(c.machineTypes[name], name)
        }
        XCTAssertEqual(c.machineTypes["standard"]?.pricePerHour, 0.19)
        XCTAssertEqual(c.machineTypes["complex_model_s"]?.mlUnitsPerHour, 0.5788)
        XCTAssertEqual(c.machineTypes["standard_gpu"]?.accelerators.first?.type, "nvidia-tesla-k80")
        XCTAssertEqual(Set(c.tiers.keys), ["BASIC", "STANDARD_1", "PREMIUM_1", "BASIC_GPU", "BASIC_TPU", "CUSTOM"])
        XCTAssertNotNil(c.priceLists["ai-platform-2019"])
    }

    func testEachTiersTopology() throws {
        let c = try Self.shippedCatalog()
        func topology(_ t: String) throws -> Topology { try c.plan(for: c.tier(named: t)!).topology }
        XCTAssertEqual(try topology("STANDARD_1"), Topology(workers: 4, parameterServers: 3))
        XCTAssertEqual(try topology("premium-1"), Topology(workers: 19, parameterServers: 11))
        XCTAssertEqual(try topology("BASIC"), Topology(workers: 0, parameterServers: 0))
        XCTAssertEqual(try topology("BASIC_GPU"), Topology(workers: 0, parameterServers: 0))
        XCTAssertEqual(try topology("basic-tpu"), Topology(workers: 0, parameterServers: 0), "the TPU worker is an accelerator, not a process")
        // The tiers' compositions add up to their listed prices (newer list).
        for name in ["BASIC", "STANDARD_1", "PREMIUM_1", "BASIC_GPU", "BASIC_TPU"] {
            let tier = c.tier(named: name)!
            let plan = try c.plan(for: tier)
            XCTAssertEqual(plan.mlUnitsPerHour!, tier.listedMLUnitsPerHour!, accuracy: tier.listedMLUnitsPerHour! * 0.002, name)
            XCTAssertEqual(plan.pricePerHour!, tier.listedPricePerHour!, accuracy: tier.listedPricePerHour! * 0.005, name)
        }
        XCTAssertThrowsError(try c.plan(for: c.tier(named: "CUSTOM")!))
    }

    func testCustomFlagsFollowGcloudsRules() throws {
        let c = try Self.shippedCatalog()
        func plan(_ argv: [String]) -> Result<ClusterPlan, UsageError> {
            var a = Arguments(argv)
            do { return .success(try CustomClusterFlags.parse(&a).plan(in: c)) } catch { return .failure(error) }
        }
        guard case .success(let p) = plan(["--master-machine-type", "complex_model_m", "--worker-count", "3", "--worker-machine-type", "complex_model_s",
                                           "--parameter-server-count", "2", "--parameter-server-machine-type", "large_model"]) else { return XCTFail() }
        XCTAssertEqual(p.topology, Topology(workers: 3, parameterServers: 2))
        XCTAssertEqual(p.pricePerHour!, 0.5672 + 3 * 0.2836 + 2 * 0.4736, accuracy: 1e-9)
        guard case .success(let alone) = plan(["--master-machine-type", "standard"]) else { return XCTFail() }
        XCTAssertEqual(alone.topology, Topology(workers: 0, parameterServers: 0))
        func message(_ argv: [String]) -> String { if case .failure(let e) = plan(argv) { return e.message }; return "ok" }
        XCTAssertEqual(message([]), "--master-machine-type is required when --scale-tier is CUSTOM")
        XCTAssertEqual(message(["--master-machine-type", "standard", "--worker-count", "2"]), "--worker-count needs --worker-machine-type")
        XCTAssertEqual(message(["--master-machine-type", "standard", "--worker-machine-type", "standard"]), "--worker-machine-type needs --worker-count")
        XCTAssertEqual(message(["--master-machine-type", "standard", "--worker-count", "0", "--worker-machine-type", "standard"]), "--worker-count must be at least 1, got 0")
        XCTAssertEqual(message(["--master-machine-type", "standard", "--parameter-server-count", "1"]), "--parameter-server-count needs --parameter-server-machine-type")
        XCTAssertTrue(message(["--master-machine-type", "complex_model_x"]).hasPrefix("--master-machine-type: unknown machine type \"complex_model_x\" (did you mean complex_model_"))
    }

    func testCatalogErrorsNameFileAndField() {
        let types = #"{"kind": "machine_types", "machine_types": [{"name": "a", "vcpus": 2, "sources": {}}]}"#
        func message(_ files: [(String, String)]) -> String {
            do { _ = try TierCatalog(files: files.map { (name: $0.0, text: $0.1) }); return "ok" } catch { return error.description }
        }
        XCTAssertEqual(message([("t.json", types)]), "ok")
        XCTAssertEqual(message([("t.json", #"{"kind": "tier"}"#)]), "t.json: kind: unknown kind \"tier\" (expected machine_types, machine_type or scale_tier)")
        XCTAssertEqual(message([("t.json", types), ("x.json", #"{"kind": "scale_tier", "name": "X", "master": "b", "sources": {}}"#)]),
                       "x.json: master: unknown machine type \"b\" (the catalog has a)")
        XCTAssertEqual(message([("t.json", #"{"kind": "machine_types", "machine_types": [{"name": "a", "vcpus": -1, "sources": {}}]}"#)]),
                       "t.json: machine_types[0].vcpus: -1 is out of range 0...1024")
        XCTAssertEqual(message([("t.json", #"{"kind": "machine_types", "machine_types": [{"name": "a", "vcpus": 2}]}"#)]),
                       "t.json: machine_types[0].sources: is required")
        XCTAssertEqual(message([("t.json", types), ("u.json", #"{"kind": "machine_type", "name": "a", "vcpus": 4, "sources": {}}"#)]),
                       "u.json: a second machine type named a")
        XCTAssertEqual(message([("t.json", #"{"kind": "machine_types", "machine_types": [{"name": "a", "vcpu": 2, "sources": {}}]}"#)]).prefix(56),
                       "t.json: machine_types[0].vcpu: is not a known field (exp")
        // A user adds a tier by adding a file.
        let tier = #"{"kind": "scale_tier", "name": "MINE", "master": "a", "workers": {"count": 2, "type": "a"}, "parameter_servers": {"count": 1, "type": "a"}, "sources": {}}"#
        XCTAssertEqual(try TierCatalog(files: [("t.json", types), ("mine.json", tier)]).plan(for: try TierCatalog(files: [("t.json", types), ("mine.json", tier)]).tier(named: "mine")!).topology,
                       Topology(workers: 2, parameterServers: 1))
    }
}

final class CostModelTests: XCTestCase {
    let arch = MLPArchitecture(inputs: 10, hidden: [20], classes: 5)  // 10·20 + 20 + 20·5 + 5 = 325 parameters

    func inputs(trainers: Int = 2, ps: Int = 1, bw: Double? = nil, psBW: Double? = nil, cores: Int? = nil, sync: Bool = false) -> CostModel.Inputs {
        CostModel.Inputs(architecture: arch, batch: 10, trainers: trainers, parameterServers: ps, sync: sync, computeSeconds: 0.001, rpcSeconds: 0.0001,
                         rpcCPUSeconds: 0.00005, byteCPUSeconds: 1e-9, updateSecondsPerValue: 1e-9, sharedCores: cores,
                         trainerBandwidth: bw, psBandwidth: psBW, largestShardFraction: 1)
    }

    func testFLOPs() {
        XCTAssertEqual(arch.forwardMACsPerExample, 300)
        XCTAssertEqual(CostModel.trainingFLOPs(arch, batch: 10), 18_000)
    }

    /// Mean value analysis by hand: a delay `think` and one-server queues (demand, deterministic),
    /// for `w` tasks. A deterministic queue's arrival does not wait for the one in service.
    func mva(think: Double, _ stations: [(Double, Bool)], w: Int) -> Double {
        var q = [Double](repeating: 0, count: stations.count)
        var u = q
        var x = 0.0
        for n in 1...w {
            var r = stations.enumerated().map { k, st in st.0 * (1 + q[k] - (st.1 ? u[k] : 0)) }
            for (k, st) in stations.enumerated() where st.1 { r[k] = max(r[k], Double(n) * st.0 - (think + r.reduce(0, +) - r[k])) }
            x = Double(n) / (think + r.reduce(0, +))
            q = r.map { x * $0 }
            u = stations.map { min(1, x * $0.0) }
        }
        return x
    }

    /// The machine-repairman model in closed form: `n` tasks, each thinking `think` seconds, then
    /// needing `demand` seconds of `c` cores shared as processor sharing. P(j at the cores) ∝
    /// n!/(n−j)! · (demand/think)^j / β(j), β(j) = j! up to c, c!·c^(j−c) beyond; X = Σ P(j)·min(j, c)/demand.
    func repairman(think: Double, demand: Double, cores c: Int, n: Int) -> Double {
        var weights: [Double] = []
        for j in 0...n {
            var w = 1.0
            for i in 0..<j { w *= Double(n - i) * demand / think / Double(min(i + 1, c)) }
            weights.append(w)
        }
        let total = weights.reduce(0, +)
        return (0...n).map { weights[$0] / total * Double(min($0, c)) / demand }.reduce(0, +)
    }

    func testMeanValueAnalysisIsExactForSharedCores() {
        // Against the closed form, over populations below, at and above the cores.
        for (n, c, think, demand) in [(1, 2, 0.001, 0.002), (2, 2, 0.001, 0.002), (3, 2, 0.0005, 0.002), (8, 2, 0.0001, 0.001), (20, 4, 0.003, 0.001)] {
            let x = CostModel.meanValueAnalysis(stations: [.init(demand: demand, kind: .cores(Double(c), background: 0))], think: think, customers: n)
            XCTAssertEqual(x, repairman(think: think, demand: demand, cores: c, n: n), accuracy: 1e-9 * x, "n \(n), c \(c)")
        }
        // Two tasks on two cores with nothing else do not queue: 2/D (an approximate multi-server
        // queue, Seidmann's, said 1.6/D here: what made the 2-trainer configurations look 20% slower).
        XCTAssertEqual(CostModel.meanValueAnalysis(stations: [.init(demand: 0.002, kind: .cores(2, background: 0))], think: 0, customers: 2), 1000, accuracy: 1e-9)
        // Two other busy programs on those cores: the two tasks get half a core each.
        XCTAssertEqual(CostModel.meanValueAnalysis(stations: [.init(demand: 0.002, kind: .cores(2, background: 2))], think: 0, customers: 2), 500, accuracy: 1e-9)
        // A deterministic link queues less than an exponential one: two tasks whose own part of the
        // cycle is as long as the link's take turns on it without waiting (its bound, 1/D), and a
        // third has to wait.
        let exponential = CostModel.meanValueAnalysis(stations: [.init(demand: 0.01, kind: .queue(deterministic: false))], think: 0.01, customers: 2)
        let deterministic = CostModel.meanValueAnalysis(stations: [.init(demand: 0.01, kind: .queue(deterministic: true))], think: 0.01, customers: 2)
        XCTAssertEqual(exponential, 2 / (0.01 + 0.01 * 1.5), accuracy: 1e-9)
        XCTAssertEqual(deterministic, 2 / (0.01 + 0.01), accuracy: 1e-9)
        let slower = CostModel.meanValueAnalysis(stations: [.init(demand: 0.01, kind: .queue(deterministic: true))], think: 0.03, customers: 2)
        XCTAssertEqual(slower, 2 / (0.03 + 0.01), accuracy: 1e-9)
        let three = CostModel.meanValueAnalysis(stations: [.init(demand: 0.01, kind: .queue(deterministic: true))], think: 0.01, customers: 3)
        XCTAssertEqual(three, 100, accuracy: 1e-9)
    }

    // In the inputs: c = 1 ms, α = 0.1 ms, 50 µs CPU per request, 1 ns per byte, 1 ns per value; M = 1300 B, P = 325.
    // Half of the messages' CPU is the training task's, half the ps's; the ps also updates P values.
    let halfMessages = (0.00005 + 2 * 1300 * 1e-9) / 2
    var psCPU: Double { 325e-9 + halfMessages }  // the one ps's work per step
    var think: Double { 0.001 + 0.0001 + halfMessages }  // a cloud task's own: compute, its message CPU, the round trip

    func testComputeBoundInTheCloud() {
        // Two tasks, each computing and waiting on the network; the ps's CPU is the only queue.
        let two = mva(think: think, [(psCPU, false)], w: 2)
        let n1 = 1 / (think + psCPU)
        XCTAssertEqual(two, 2 / (think + psCPU * (1 + n1 * psCPU)), accuracy: 1e-9, "the hand recursion agrees with itself")
        let p = CostModel.predict(inputs())
        XCTAssertEqual(p.stepsPerSecond, two, accuracy: 1e-6)
        XCTAssertEqual(p.bottleneck, .compute)
        XCTAssertEqual(p.examplesPerSecond, p.stepsPerSecond * 10, accuracy: 1e-6)
    }

    func testPsNetworkQueues() {
        // A ps link of 130 kB/s: 10 ms per answer of 1300 B. Two tasks queue on it, just under its 100 steps/s.
        let p = CostModel.predict(inputs(psBW: 130_000))
        XCTAssertEqual(p.stepsPerSecond, min(100, mva(think: think, [(psCPU, false), (0.01, true)], w: 2)), accuracy: 1e-6)
        XCTAssertLessThanOrEqual(p.stepsPerSecond, 100)
        XCTAssertGreaterThan(p.stepsPerSecond, 99)
        XCTAssertEqual(p.bottleneck, .psNetwork)
        XCTAssertEqual(p.bound(.psNetwork)!, 100, accuracy: 1e-9)
    }

    func testWorkerNetworkAndSharedCPU() {
        // Each task's own link of 130 kB/s is a delay of 10 ms per push: 8 tasks barely queue anywhere.
        let w = CostModel.predict(inputs(trainers: 8, bw: 130_000, psBW: 1e12))
        XCTAssertEqual(w.stepsPerSecond, mva(think: think + 0.01, [(psCPU, false), (1300 / 1e12, true)], w: 8), accuracy: 1e-6)
        XCTAssertEqual(w.bottleneck, .workerNetwork)
        XCTAssertEqual(w.bound(.workerNetwork)!, 8 * 130_000 / 1300, accuracy: 1e-6)
        // Here: 8 tasks on 2 cores; each step is 1.0529 ms of CPU, so the cores cap it near 1900 steps/s,
        // and the ps's update (under its lock) is a one-server queue of its own.
        let cpuDemand = 0.001 + 2 * halfMessages + 325e-9
        let cpu = CostModel.predict(inputs(trainers: 8, cores: 2))
        XCTAssertEqual(cpu.stepsPerSecond, CostModel.meanValueAnalysis(stations: [.init(demand: cpuDemand, kind: .cores(2, background: 0)),
                                                                                 .init(demand: 325e-9, kind: .queue(deterministic: false))], think: 0, customers: 8),
                       accuracy: 1e-6)
        XCTAssertEqual(cpu.stepsPerSecond, 2 / cpuDemand, accuracy: 2)
        XCTAssertEqual(cpu.bound(.cpu)!, 2 / cpuDemand, accuracy: 1e-6)
        XCTAssertEqual(cpu.bottleneck, .compute, "the shared CPU binds, and compute is most of its work")
    }

    func testOtherProgramsTakeTheirShareOfTheCores() {
        // One task alone on 2 cores with 2 spinning programs gets 2/3 of a core: its step takes 1.5×.
        var i = inputs(ps: 0, cores: 2)
        i.trainers = 1
        let quiet = CostModel.predict(i)
        i.backgroundLoad = 2
        let busy = CostModel.predict(i)
        // Alone, the task applies its own update (325 values × 1 ns) after its compute.
        XCTAssertEqual(quiet.stepSeconds, 0.001 + 325e-9, accuracy: 1e-12)
        XCTAssertEqual(busy.stepSeconds, 1.5 * (0.001 + 325e-9), accuracy: 1e-12)
        XCTAssertEqual(busy.bottleneck, .compute)
    }

    func testACoreComputesSlowerWhileEveryCoreIsBusy() {
        // δ = 0.2: a step's compute takes 1.2× on each core while both of 2 cores are busy.
        // Two tasks alone at the cores, nothing else: one step in progress runs at 1/D, two at 2/(D + δ·c).
        let two = CostModel.meanValueAnalysis(stations: [.init(demand: 0.002, kind: .cores(2, background: 0), stretch: 0.0004)], think: 0, customers: 2)
        XCTAssertEqual(two, 2 / 0.0024, accuracy: 1e-9)
        let one = CostModel.meanValueAnalysis(stations: [.init(demand: 0.002, kind: .cores(2, background: 0), stretch: 0.0004)], think: 0, customers: 1)
        XCTAssertEqual(one, 1 / 0.002, accuracy: 1e-9, "one core busy: no slowdown")
        // Other busy programs take their share of the cores but do not count as computing: two
        // spinning programs on the cores, and the two steps still run at 2/(D + δ·c) × their share.
        let shared = CostModel.meanValueAnalysis(stations: [.init(demand: 0.002, kind: .cores(2, background: 2), stretch: 0.0004)], think: 0, customers: 2)
        XCTAssertEqual(shared, 0.5 * 2 / 0.0024, accuracy: 1e-9)
        // One task alone (no ps) computes at the calibrated speed, with or without other programs.
        var alone = inputs(ps: 0, cores: 2)
        alone.trainers = 1
        let quiet = CostModel.predict(alone)
        alone.concurrentSlowdown = 0.2
        XCTAssertEqual(CostModel.predict(alone).stepSeconds, quiet.stepSeconds, accuracy: 1e-15)
        alone.backgroundLoad = 1
        XCTAssertEqual(CostModel.predict(alone).stepSeconds, 0.001 + 325e-9, accuracy: 1e-12)
        // Two tasks alone on the cores (a ps each step): both compute at once at 1.2×.
        var pair = inputs(trainers: 2, cores: 2)
        pair.concurrentSlowdown = 0.2
        XCTAssertLessThan(CostModel.predict(pair).stepsPerSecond, CostModel.predict(inputs(trainers: 2, cores: 2)).stepsPerSecond)
        XCTAssertEqual(CostModel.predict(pair).bound(.compute)!, 2 / 0.0012, accuracy: 1e-6)
        // Eight tasks on 2 cores keep both busy: the compute (1 ms of each step's CPU) takes 1.2 ms,
        // the messages and the update do not change (they were measured with the cores busy).
        var eight = inputs(trainers: 8, cores: 2)
        let cpuDemand = 0.001 + 2 * halfMessages + 325e-9
        eight.concurrentSlowdown = 0.2
        let slowed = CostModel.predict(eight)
        XCTAssertEqual(slowed.bound(.cpu)!, 2 / (cpuDemand + 0.0002), accuracy: 1e-6)
        XCTAssertEqual(slowed.bound(.compute)!, 2 / 0.0012, accuracy: 1e-6)
        XCTAssertEqual(slowed.stepsPerSecond, 2 / (cpuDemand + 0.0002), accuracy: 2)
        // In the cloud each task has its own machine: δ does not apply.
        var cloud = inputs()
        let before = CostModel.predict(cloud).stepsPerSecond
        cloud.concurrentSlowdown = 0.2
        XCTAssertEqual(CostModel.predict(cloud).stepsPerSecond, before, accuracy: 1e-9)
        // Synchronous: every task's compute shares the busy cores at 1.2×.
        var sync = inputs(trainers: 4, bw: 1_300_000, psBW: 1_300_000, cores: 2, sync: true)
        sync.concurrentSlowdown = 0.2
        let work = (4 * (0.0012 + halfMessages) + 4 * psCPU) / 2
        let barrier = 4 * 0.001 + 4 * 325e-9 + 0.0001 + 3 * 0.0001 / 2
        XCTAssertEqual(CostModel.predict(sync).stepSeconds, work + 0.001 + barrier, accuracy: 1e-12)
    }

    func testSynchronousStep() {
        // 4 tasks on 2 cores: every task's compute and message CPU and the ps's share of each push
        // shares the cores; then the push, and the barrier: 4 answers through the ps link, 4 locked updates, a round trip.
        let p = CostModel.predict(inputs(trainers: 4, bw: 1_300_000, psBW: 1_300_000, cores: 2, sync: true))
        let work = (4 * (0.001 + halfMessages) + 4 * psCPU) / 2
        // The barrier holds the 4 pushes' updates, applied one at a time under the ps's lock, and
        // here wakes the 3 tasks beyond the one whose push completed the step, half a round trip each.
        let barrier = 4 * 0.001 + 4 * 325e-9 + 0.0001 + 3 * 0.0001 / 2
        let step = work + 0.001 + barrier
        XCTAssertEqual(p.stepSeconds, step, accuracy: 1e-12)
        XCTAssertEqual(p.examplesPerSecond, 4 * 10 / step, accuracy: 1e-6)
        XCTAssertEqual(p.bound(.syncBarrier)!, 1 / barrier, accuracy: 1e-6)
        // In the cloud the tasks wake on their own machines, in parallel: one round trip.
        let cloud = inputs(trainers: 4, bw: 1_300_000, psBW: 1_300_000, sync: true)
        XCTAssertEqual(CostModel.predict(cloud).bound(.syncBarrier)!, 1 / (4 * 0.001 + 4 * 325e-9 + 0.0001), accuracy: 1e-6)
        // With 2 of the 4 to aggregate, the release wakes one task beyond the completing one.
        var backup = inputs(trainers: 4, bw: 1_300_000, psBW: 1_300_000, cores: 2, sync: true)
        backup.replicasToAggregate = 2
        XCTAssertEqual(CostModel.predict(backup).bound(.syncBarrier)!, 1 / (4 * 0.001 + 4 * 325e-9 + 0.0001 + 0.0001 / 2), accuracy: 1e-6)
        // More to aggregate than tasks: no more than the W − 1 others can wait.
        backup.replicasToAggregate = 8
        XCTAssertEqual(CostModel.predict(backup).bound(.syncBarrier)!, 1 / barrier, accuracy: 1e-6)
    }

    func testEveryBoundOnceAndTheNextBottleneckIsAnotherOne() {
        let cases = [inputs(), inputs(psBW: 130_000), inputs(trainers: 8, bw: 130_000, psBW: 1e12), inputs(trainers: 8, cores: 2),
                     inputs(trainers: 4, bw: 1_300_000, psBW: 1_300_000, cores: 2, sync: true), inputs(trainers: 3, ps: 2, cores: 2)]
        for i in cases {
            let p = CostModel.predict(i)
            let names = p.bounds.map(\.0)
            XCTAssertEqual(Set(names).count, names.count, "each resource once: \(names)")
            XCTAssertEqual(p.bounds.map(\.1), p.bounds.map(\.1).sorted(), "tightest first")
            XCTAssertTrue(p.bounds.allSatisfy { $0.1 > 0 })
            let next = try! XCTUnwrap(p.next)
            XCTAssertNotEqual(next.0, p.bottleneck)
            XCTAssertNotEqual(next.0, .cpu)
            XCTAssertTrue(p.bounds.contains { $0.0 == p.bottleneck })
            XCTAssertLessThanOrEqual(p.stepsPerSecond, p.bounds[0].1 * (1 + 1e-9), "no prediction beats a bound")
        }
        // The choice itself: the tightest bound, and after the shared CPU the largest part of its work.
        XCTAssertEqual(CostModel.bottleneck(of: [(.psCPU, 10), (.psNetwork, 20)]), .psCPU)
        XCTAssertEqual(CostModel.bottleneck(of: [(.cpu, 5), (.compute, 50), (.wire, 8), (.psCPU, 9)]), .wire)
        XCTAssertEqual(CostModel.next(after: .psCPU, in: [(.psCPU, 10), (.cpu, 11), (.psNetwork, 20), (.wire, .infinity)])!.0, .psNetwork)
        XCTAssertNil(CostModel.next(after: .compute, in: [(.compute, 10)]))
    }

    func testRanking() {
        let agreed = Ranking.pairwise(predicted: [1, 2, 3, 4], measured: [10, 20, 30, 40])
        XCTAssertEqual(agreed.agree, 6)
        XCTAssertEqual(agreed.pairs, 6)
        let swapped = Ranking.pairwise(predicted: [1, 2, 3], measured: [10, 30, 20])
        XCTAssertEqual(swapped.agree, 2)
        XCTAssertEqual(swapped.disagreeing.map { [$0.0, $0.1] }, [[1, 2]])
        XCTAssertEqual(Ranking.pairwise(predicted: [1, 1.01], measured: [2, 1], tie: 0.02).pairs, 0, "a predicted tie is not a pair")
        XCTAssertEqual(Ranking.spearman([1, 2, 3, 4], [10, 20, 30, 40])!, 1, accuracy: 1e-12)
        XCTAssertEqual(Ranking.spearman([1, 2, 3, 4], [40, 30, 20, 10])!, -1, accuracy: 1e-12)
        XCTAssertEqual(Ranking.ranks([5, 1, 5, 2]), [3.5, 1, 3.5, 2])
        XCTAssertNil(Ranking.spearman([1, 1], [1, 2]))
    }

    func testProgramProfileFromMetricLinesAndCounters() throws {
        // Steps 0…100 at 50 steps/s; two training tasks each burn 10 ms of CPU and write 4000 bytes
        // per second, the ps 5 ms per second.
        let reports = (0...10).map { (1000 + Double($0) * 0.2, $0 * 10) }
        var samples: [JSONValue] = []
        for k in 0...25 {
            let t = 1000 + Double(k) * 0.1
            for task in ["chief-0", "worker-0"] {
                samples.append(.object([("time", JSONValue(t)), ("task", .string(task)), ("cpu_seconds", JSONValue(0.01 * (t - 1000))),
                                        ("written_bytes", JSONValue(4000 * (t - 1000)))]))
            }
            samples.append(.object([("time", JSONValue(t)), ("task", .string("ps-0")), ("cpu_seconds", JSONValue(0.005 * (t - 1000)))]))
        }
        let m = try ProgramProfile.measure(reports: reports, samples: samples)
        XCTAssertEqual(m.stepsPerSecond, 50, accuracy: 1e-9)
        XCTAssertEqual(m.trainerCPUSeconds, 0.02 / 50, accuracy: 1e-9)
        XCTAssertEqual(m.psCPUSeconds, 0.005 / 50, accuracy: 1e-9)
        XCTAssertEqual(m.trainerBytes!, 8000 / 50, accuracy: 1e-6)
        XCTAssertEqual(m.trainers, 2)
        XCTAssertEqual(m.parameterServers, 1)
        XCTAssertThrowsError(try ProgramProfile.measure(reports: [(1, 5)], samples: samples)) { XCTAssertEqual($0 as? ProgramProfile.Problem, .noSteps) }
        XCTAssertThrowsError(try ProgramProfile.measure(reports: reports, samples: [])) { XCTAssertEqual($0 as? ProgramProfile.Problem, .noSamples) }
    }

    func testBillingHasAPerMinuteGranularityAndTenMinuteMinimum() {
        let short = CostModel.bill(seconds: 30, mlUnitsPerHour: 6, dollarsPerUnit: 0.5)
        XCTAssertEqual(short.billedMinutes, 10)
        XCTAssertEqual(short.mlUnits, 1, accuracy: 1e-12)
        XCTAssertEqual(short.dollars, 0.5, accuracy: 1e-12)
        let long = CostModel.bill(seconds: 61 * 60 + 1, mlUnitsPerHour: 6, dollarsPerUnit: 0.5)
        XCTAssertEqual(long.billedMinutes, 62)
        XCTAssertEqual(long.mlUnits, 6.2, accuracy: 1e-12)
    }

    func testCloudComputeAssumption() {
        XCTAssertEqual(CostModel.cloudComputeSeconds(localOneCore: 1.4, vcpus: 8), 1.4 / 2.8, accuracy: 1e-12)
        XCTAssertEqual(CostModel.cloudComputeSeconds(localOneCore: 1, vcpus: 2), 1, accuracy: 1e-12)
    }
}
