import XCTest
import TrainyardCore
@testable import TrainyardLaunch

/// The estimator's sensitivity table and the validation set, without running anything.
final class CostEstimatorTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    let profile = CalibrationProfile(cores: 2, stepFixedSeconds: 20e-6, flopsPerSecond: 10e9, rpcSeconds: 60e-6, rpcCPUSeconds: 40e-6,
                                     byteSeconds: 1e-9, updateSecondsPerValue: 1e-9, kernel: "test", build: "debug", measuredAt: "now", host: "test")

    func job(batch: Int = 32, hidden: [Int] = [256, 256], steps: Int = 100_000) -> CostEstimator.Job {
        var t = TrainSettings()
        t.features = 64
        t.hidden = hidden
        t.batchSize = batch
        return CostEstimator.Job(training: t, architecture: MLPArchitecture(inputs: 64, hidden: hidden, classes: 10), steps: steps)
    }

    func row(_ rows: [CostEstimator.Sensitivity], _ prefix: String) throws -> CostEstimator.Sensitivity {
        try XCTUnwrap(rows.first { $0.input.hasPrefix(prefix) }, "no row \(prefix) in \(rows.map(\.input))")
    }

    func testTheCPUPerByteFollowsTheModelsSizeBetweenTheSizesMeasured() throws {
        var p = profile
        // Without sizes measured, every size costs the one figure.
        XCTAssertEqual(p.byteSeconds(modelBytes: 1e3), 1e-9)
        XCTAssertEqual(p.byteSeconds(modelBytes: 1e8), 1e-9)
        p.byteSecondsBySize = [.init(modelBytes: 1e5, seconds: 0.2e-9), .init(modelBytes: 1e7, seconds: 0.4e-9)]
        XCTAssertEqual(p.byteSeconds(modelBytes: 1e3), 0.2e-9)
        XCTAssertEqual(p.byteSeconds(modelBytes: 1e8), 0.4e-9)
        // Halfway in the logarithm of the size, halfway in cost.
        XCTAssertEqual(p.byteSeconds(modelBytes: 1e6), 0.3e-9, accuracy: 1e-15)
        // The estimator uses the figure for the job's model (4 bytes per parameter).
        let small = job(hidden: [16])        // 64·16 + 16 + 16·10 + 10 = 1,210 parameters: 4.8 KB
        let large = job(hidden: [4096, 1024]) // about 4.5 M parameters: 18 MB
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        let plan = try catalog.plan(for: catalog.tier(named: "STANDARD_1")!)
        for (j, expected) in [(small, 0.2e-9), (large, 0.4e-9)] {
            let i = CostEstimator.inputs(plan: plan, training: j.training, architecture: j.architecture, profile: p, local: true, scale: nil, emulate: false)
            XCTAssertEqual(i.byteCPUSeconds, expected, accuracy: 1e-15)
        }
        // Saved and read back alike; a table out of order is refused.
        let back = try CalibrationProfile(parsing: p.json.serialized(), source: "calibration.json")
        XCTAssertEqual(back.byteSecondsBySize, p.byteSecondsBySize)
        var text = p.json.serialized()
        text = text.replacingOccurrences(of: "[[100000,", with: "[[100000000,")
        XCTAssertThrowsError(try CalibrationProfile(parsing: text, source: "calibration.json")) { error in
            XCTAssertTrue("\(error)".contains("ascending"), "\(error)")
        }
    }

    func testTheMeanOfCalibrationsAveragesEveryMeasuredTerm() throws {
        var a = profile
        a.compute = .init(tileRows: 12, tileColumns: 32, tileEdgeRows: 8, cacheBytes: 1 << 20, secondsPerTiledMAC: 8e-12, secondsPerTouchedValue: 1e-10, secondsPerSpilledWeight: 2e-10)
        a.byteSecondsBySize = [.init(modelBytes: 1e5, seconds: 0.2e-9), .init(modelBytes: 1e7, seconds: 0.4e-9)]
        a.rpcCPUSecondsPerExtraServer = 1e-6
        a.trainerSecondsPerValue = 2e-10
        a.shardSecondsPerValue = -2e-10
        var b = a.slowed(by: 3)
        b.byteSecondsBySize = [.init(modelBytes: 1e5, seconds: 0.6e-9)]  // one size fewer
        b.rpcSeconds = 100e-6
        b.measuredAt = "later"
        let m = try XCTUnwrap(CalibrationProfile.mean([a, b]))
        XCTAssertEqual(m.stepFixedSeconds, 40e-6, accuracy: 1e-15)
        XCTAssertEqual(m.rpcSeconds, 80e-6, accuracy: 1e-15)
        XCTAssertEqual(m.rpcCPUSecondsPerExtraServer, 2e-6, accuracy: 1e-15)
        XCTAssertEqual(m.compute?.secondsPerTiledMAC ?? 0, 16e-12, accuracy: 1e-20)
        XCTAssertEqual(m.compute?.secondsPerSpilledWeight ?? 0, 4e-10, accuracy: 1e-20)
        XCTAssertEqual(m.updateSecondsPerValue, 2e-9, accuracy: 1e-18)
        XCTAssertEqual(m.shardSecondsPerValue, -4e-10, accuracy: 1e-20)
        // Seconds per FLOP average, not FLOP/s: a machine 3× slower half the time is 2× slower.
        XCTAssertEqual(m.flopsPerSecond, 5e9, accuracy: 1)
        // Byte costs at every size either measured, each profile's figure there (b's 1e7 is its
        // largest size's, 0.6e-9).
        XCTAssertEqual(m.byteSecondsBySize.map(\.modelBytes), [1e5, 1e7])
        XCTAssertEqual(m.byteSecondsBySize.first?.seconds ?? 0, 0.4e-9, accuracy: 1e-18)
        XCTAssertEqual(m.byteSecondsBySize.last?.seconds ?? 0, 0.5e-9, accuracy: 1e-18)
        // A request's extra cost per process or per server that one calibration read as 0 (clamped
        // there) is averaged as 0: a measured figure, not a missing one.
        var clamped = b
        clamped.rpcCPUSecondsPerExtraServer = 0
        clamped.rpcCPUSecondsPerExtraProcess = 0
        var withProcess = a
        withProcess.rpcCPUSecondsPerExtraProcess = 4e-6
        let zeros = try XCTUnwrap(CalibrationProfile.mean([withProcess, clamped]))
        XCTAssertEqual(zeros.rpcCPUSecondsPerExtraServer, 0.5e-6, accuracy: 1e-15)
        XCTAssertEqual(zeros.rpcCPUSecondsPerExtraProcess, 2e-6, accuracy: 1e-15)
        XCTAssertEqual(m.measuredAt, "later")
        // A step of any model costs the mean of the two profiles' steps (every compute term is linear).
        let arch = MLPArchitecture(inputs: 784, hidden: [256, 128], classes: 10)
        XCTAssertEqual(m.stepSeconds(arch, batch: 128), (a.stepSeconds(arch, batch: 128) + b.stepSeconds(arch, batch: 128)) / 2, accuracy: 1e-12)
        // Every CPU term at once: the mean of a profile and the profile 3× slower is the profile
        // 2× slower (seconds average; the round trip, which `slowed` leaves, is the same in both).
        var full = a
        full.rpcCPUSecondsPerExtraProcess = 3e-6
        full.trainerSecondsPerExample = 5e-9
        let twice = try XCTUnwrap(CalibrationProfile.mean([full, full.slowed(by: 3)]))
        func numbers(_ v: JSONValue, _ path: String = "") -> [String: Double] {
            switch v {
            case .object(let fields): return fields.reduce(into: [:]) { r, f in r.merge(numbers(f.1, path + "." + f.0)) { x, _ in x } }
            case .array(let items): return items.enumerated().reduce(into: [:]) { r, e in r.merge(numbers(e.1, path + "[\(e.0)]")) { x, _ in x } }
            default: return v.doubleValue.map { [path: $0] } ?? [:]
            }
        }
        let got = numbers(twice.json), expected = numbers(full.slowed(by: 2).json)
        XCTAssertEqual(Set(got.keys), Set(expected.keys))
        for (key, value) in expected {
            XCTAssertEqual(got[key] ?? .nan, value, accuracy: abs(value) * 1e-9, key)
        }
        // One profile is its own mean; none has none.
        XCTAssertEqual(CalibrationProfile.mean([a]), a)
        XCTAssertNil(CalibrationProfile.mean([]))
        // Profiles measured with different kernel tiles keep the first's compute terms.
        var c = b
        c.compute?.tileRows = 6
        XCTAssertEqual(CalibrationProfile.mean([a, c])?.compute, a.compute)
    }

    func testEachRoundIsPredictedFromTheCalibrationsAroundIt() {
        // Interleaved (three rounds, four calibrations): the one before each round and the one after.
        XCTAssertEqual((1...3).map { CostValidation.predictingCalibrations(round: $0, count: 4) }, [0...1, 1...2, 2...3])
        // While a round runs, only the one before it exists.
        XCTAssertEqual((1...3).map { CostValidation.predictingCalibrations(round: $0, count: $0).lowerBound }, [0, 1, 2])
        // --quick or --tiny: one calibration, before the first round, for every round.
        XCTAssertEqual((1...3).map { CostValidation.predictingCalibrations(round: $0, count: 1) }, [0...0, 0...0, 0...0])
    }

    func testAValidationRunLastsItsSecondsAtThePredictedRateWithinItsBounds() {
        // A request-bound cluster at 60,000 steps/s runs its 5 seconds: 300,000 steps (the old
        // 50,000-step cap cut such runs to under a second).
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: 60_000, seconds: 5, minimum: 100), 300_000)
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: 60_000, seconds: CostValidation.defaultRunSeconds, minimum: 100), 150_000)
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: 150, seconds: 5, minimum: 100), 750)
        // A link-bound crawl still gets a steady window; an absurd prediction never a run of minutes.
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: 3, seconds: 5, minimum: 100), 100)
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: 1e9, seconds: 2.5, minimum: 100), 600_000)
        // A longer run is capped proportionally: 70,000 steps/s still runs its 10 seconds.
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: 70_000, seconds: 10, minimum: 100), 700_000)
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: 1e9, seconds: 10, minimum: 100), 2_400_000)
        XCTAssertEqual(CostValidation.runSteps(expectedStepsPerSecond: .infinity, seconds: 5, minimum: 40), 40)
    }

    func testTheComputeModelCountsWholeTilesAndWeightsBeyondTheCache() throws {
        // 784-256-10, batch 20, a 12 × 32 tile (no short edge kernel), a 512 KiB cache.
        let arch = MLPArchitecture(inputs: 784, hidden: [256], classes: 10)
        let w = CostModel.stepWork(arch, batch: 20, tile: (12, 32, 12), cacheBytes: 512 * 1024)
        // Forward and weight gradients for both layers, the input gradient for the second only.
        XCTAssertEqual(w.macs, Double(20 * 256 * 784 + 784 * 256 * 20 + 20 * 10 * 256 + 256 * 10 * 20 + 20 * 256 * 10))
        // 20 rows run as 24, 10 columns as 32, 784 rows of the weight gradient as 792.
        let tiled = 24 * 256 * 784 + 792 * 256 * 20 + 24 * 32 * 256 + 264 * 32 * 20 + 24 * 256 * 10
        XCTAssertEqual(w.tiledMACs, Double(tiled))
        XCTAssertEqual(w.touchedValues, Double((20 * 784 + 784 * 256 + 20 * 256) * 2 + (20 * 256 + 256 * 10 + 20 * 10) * 3))
        // With an 8-row kernel for the last few rows (the AVX-512 build): 20 rows run as 12 + 8,
        // 784 as 65 × 12 + 8, 256 as 21 × 12 + 8; 9 to 11 rows left still take a whole tile.
        let edge = CostModel.stepWork(arch, batch: 20, tile: (12, 32, 8), cacheBytes: 512 * 1024)
        XCTAssertEqual(edge.tiledMACs, Double(20 * 256 * 784 + 788 * 256 * 20 + 20 * 32 * 256 + 260 * 32 * 20 + 20 * 256 * 10))
        let linear = MLPArchitecture(inputs: 784, hidden: [], classes: 10)
        XCTAssertEqual(CostModel.stepWork(linear, batch: 22, tile: (12, 32, 8), cacheBytes: 1 << 20).tiledMACs, Double(24 * 32 * 784 + 788 * 32 * 22))
        // The 784 × 256 kernel (784 KiB) is beyond the cache; the 256 × 10 one is not.
        XCTAssertEqual(w.spilledWeights, Double(784 * 256))
        XCTAssertEqual(CostModel.stepWork(arch, batch: 20, tile: (12, 32, 12), cacheBytes: 1 << 20).spilledWeights, 0)

        // A profile with the terms uses them; saved and read back alike; slowed down, all of them.
        var p = profile
        p.stepFixedSeconds = 2e-6
        p.compute = .init(tileRows: 12, tileColumns: 32, cacheBytes: 512 * 1024, secondsPerTiledMAC: 1e-11, secondsPerTouchedValue: 1e-10, secondsPerSpilledWeight: 2e-10)
        let expected = 2e-6 + Double(tiled) * 1e-11 + w.touchedValues * 1e-10 + w.spilledWeights * 2e-10
        XCTAssertEqual(p.stepSeconds(arch, batch: 20), expected, accuracy: 1e-15)
        XCTAssertEqual(p.slowed(by: 2).stepSeconds(arch, batch: 20), 2 * expected, accuracy: 1e-15)
        let back = try CalibrationProfile(parsing: p.json.serialized(), source: "calibration.json")
        XCTAssertEqual(back, p)
        // The tile's edge rows are saved too, and a tile of two numbers has none.
        p.compute?.tileEdgeRows = 8
        XCTAssertEqual(try CalibrationProfile(parsing: p.json.serialized(), source: "calibration.json").compute?.tileEdgeRows, 8)
        let twoNumbers = p.json.serialized().replacingOccurrences(of: "[12, 32, 8]", with: "[12, 32]")
        XCTAssertEqual(try CalibrationProfile(parsing: twoNumbers, source: "calibration.json").compute?.tileEdgeRows, 12)
        p.compute?.tileEdgeRows = 12
        // A profile saved before the terms were measured has no "compute": it reads without them
        // (and `loadOrMeasure` measures again).
        var oldText = profile.json.serialized()
        oldText = oldText.replacingOccurrences(of: "\"compute\": null, ", with: "")
        XCTAssertFalse(oldText.contains("\"compute\""), oldText)
        let old = try CalibrationProfile(parsing: oldText, source: "calibration.json")
        XCTAssertNil(old.compute)
        XCTAssertEqual(old.stepSeconds(arch, batch: 20), 20e-6 + CostModel.trainingFLOPs(arch, batch: 20) / 10e9, accuracy: 1e-15)
        let negative = p.json.serialized().replacingOccurrences(of: "\"seconds_per_spilled_weight\": 2e-10", with: "\"seconds_per_spilled_weight\": -1")
        XCTAssertNotEqual(negative, p.json.serialized())
        XCTAssertThrowsError(try CalibrationProfile(parsing: negative, source: "calibration.json"))
    }

    func testTheCoresSlowdownIsSavedAveragedAndUsedHereOnly() throws {
        var p = profile
        p.concurrentComputeSlowdown = 0.12
        XCTAssertEqual(try CalibrationProfile(parsing: p.json.serialized(), source: "calibration.json"), p)
        // Profiles from before it was measured read as 0; a negative one is refused.
        let old = profile.json.serialized().replacingOccurrences(of: "\"concurrent_compute_slowdown\": 0, ", with: "")
        XCTAssertFalse(old.contains("concurrent_compute_slowdown"), old)
        XCTAssertEqual(try CalibrationProfile(parsing: old, source: "calibration.json").concurrentComputeSlowdown, 0)
        let negative = p.json.serialized().replacingOccurrences(of: "\"concurrent_compute_slowdown\": 0.12", with: "\"concurrent_compute_slowdown\": -0.1")
        XCTAssertNotEqual(negative, p.json.serialized())
        XCTAssertThrowsError(try CalibrationProfile(parsing: negative, source: "calibration.json")) { error in
            XCTAssertTrue("\(error)".contains("concurrent_compute_slowdown"), "\(error)")
        }
        XCTAssertEqual(CalibrationProfile.mean([p, profile])?.concurrentComputeSlowdown ?? 0, 0.06, accuracy: 1e-12)
        let j = job()
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        let standard = try catalog.plan(for: catalog.tier(named: "STANDARD_1")!)
        XCTAssertEqual(CostEstimator.inputs(plan: standard, training: j.training, architecture: j.architecture, profile: p, local: true, scale: nil).concurrentSlowdown, 0.12)
        XCTAssertEqual(CostEstimator.inputs(plan: standard, training: j.training, architecture: j.architecture, profile: p, local: false, scale: nil).concurrentSlowdown, 0)
        // On one core there is nothing to measure.
        XCTAssertEqual(Calibration.concurrentComputeSlowdown(cores: 1, seconds: 0.01), 0)
    }

    func testAClusterTrainersWorkPerValueMayBeBelowItsWorkAloneButNotBelowZero() throws {
        var p = profile
        p.trainerSecondsPerValue = 1e-9
        p.shardSecondsPerValue = -0.4e-9
        XCTAssertEqual(p.clusterShardSecondsPerValue, -0.4e-9)
        p.shardSecondsPerValue = -3e-9
        XCTAssertEqual(p.clusterShardSecondsPerValue, -1e-9)
        // The estimator adds it for clusters with a ps, not for a trainer alone.
        p.shardSecondsPerValue = -0.4e-9
        let j = job()
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        let standard = try catalog.plan(for: catalog.tier(named: "STANDARD_1")!)
        let basic = try catalog.plan(for: catalog.tier(named: "BASIC")!)
        let alone = p.trainerStepSeconds(j.architecture, batch: 32)
        let withPS = CostEstimator.inputs(plan: standard, training: j.training, architecture: j.architecture, profile: p, local: true, scale: nil, emulate: false)
        XCTAssertEqual(withPS.computeSeconds, alone - 0.4e-9 * Double(j.architecture.parameterCount), accuracy: 1e-12)
        let single = CostEstimator.inputs(plan: basic, training: j.training, architecture: j.architecture, profile: p, local: true, scale: nil, emulate: false)
        XCTAssertEqual(single.computeSeconds, alone, accuracy: 1e-12)
    }

    func testRequestsCostMoreForEachProcessBeyondOneMoreThanTheCores() throws {
        var p = profile  // 2 cores, 40 µs per request
        p.rpcCPUSecondsPerExtraProcess = 3e-6
        p.rpcCPUSecondsPerExtraServer = 5e-6
        XCTAssertEqual(p.requestCPUSeconds(processes: 3, servers: 1), 40e-6)
        XCTAssertEqual(p.requestCPUSeconds(processes: 5, servers: 1), 46e-6, accuracy: 1e-15)
        XCTAssertEqual(p.requestCPUSeconds(processes: 4, servers: 2), 48e-6, accuracy: 1e-15)
        let back = try CalibrationProfile(parsing: p.json.serialized(), source: "calibration.json")
        XCTAssertEqual(back, p)
        XCTAssertEqual(p.slowed(by: 2).requestCPUSeconds(processes: 5, servers: 1), 92e-6, accuracy: 1e-15)
        // STANDARD_1 here is 8 processes (chief, 4 workers, 3 ps): 5 beyond 3, and 2 ps beyond one.
        // In the cloud each task has its own machine, and a request costs what it does alone.
        let j = job()
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        let standard = try catalog.plan(for: catalog.tier(named: "STANDARD_1")!)
        let here = CostEstimator.inputs(plan: standard, training: j.training, architecture: j.architecture, profile: p, local: true, scale: nil)
        XCTAssertEqual(here.rpcCPUSeconds, 40e-6 + 5 * 3e-6 + 2 * 5e-6, accuracy: 1e-15)
        let cloud = CostEstimator.inputs(plan: standard, training: j.training, architecture: j.architecture, profile: p, local: false, scale: nil)
        XCTAssertEqual(cloud.rpcCPUSeconds, 40e-6)
    }

    func testSensitivityMovesTheRightWay() throws {
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        let plan = try catalog.plan(for: catalog.tier(named: "STANDARD_1")!)
        let j = job()
        let base = CostEstimator.estimate(plan: plan, job: j, profile: profile, catalog: catalog, local: false, scale: nil)
        let rows = CostEstimator.sensitivity(plan: plan, job: j, profile: profile, catalog: catalog, local: false, scale: nil)
        // Every machine family of the tier has its row, and every figure is finite and positive.
        for m in plan.machines.map(\.0) { XCTAssertNotNil(rows.first { $0.input.contains(m.family) }, "no row for \(m.family)") }
        for r in rows {
            XCTAssertTrue(r.secondsLow.isFinite && r.secondsLow > 0 && r.secondsHigh.isFinite && r.secondsHigh > 0, r.input)
            XCTAssertNotNil(r.dollarsLow)
        }
        // Faster machines and faster links never make the job slower; slower ones never faster.
        for r in rows where r.input.hasPrefix("per-vCPU") || r.input.hasPrefix("network") {
            XCTAssertGreaterThanOrEqual(r.secondsLow, base.seconds * (1 - 1e-9), r.input)
            XCTAssertLessThanOrEqual(r.secondsHigh, base.seconds * (1 + 1e-9), r.input)
        }
        // What binds moves the answer: speeding up the bottleneck's input helps strictly.
        let bottleneck = base.prediction.bottleneck
        if bottleneck == .psNetwork || bottleneck == .workerNetwork {
            XCTAssertLessThan(try row(rows, "network").secondsHigh, base.seconds)
        }
        // More ps hold smaller shards: with the ps link binding, more of them is faster and costs
        // more per hour; a bigger batch takes fewer steps for the same examples.
        let slowLinks = try CostEstimator.sensitivity(plan: plan, job: job(hidden: [1024, 1024]), profile: profile, catalog: catalog, local: true, scale: 0.001)
        let ps = try row(slowLinks, "ps count")
        XCTAssertLessThan(ps.secondsHigh, ps.secondsLow)
        XCTAssertGreaterThan(try row(rows, "batch").secondsLow, try row(rows, "batch").secondsHigh * 0.5)
        XCTAssertEqual(try row(rows, "ps count").high, "4")
    }

    func testComputeBoundLocalRunMovesWithTheCPUNotTheLinks() throws {
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        let plan = try catalog.plan(for: catalog.tier(named: "BASIC")!)
        let j = job(batch: 256)
        let base = CostEstimator.estimate(plan: plan, job: j, profile: profile, catalog: catalog, local: true, scale: nil)
        XCTAssertEqual(base.prediction.bottleneck, .compute)
        let rows = CostEstimator.sensitivity(plan: plan, job: j, profile: profile, catalog: catalog, local: true, scale: nil)
        let cpu = try row(rows, "CPU speed")
        XCTAssertEqual(cpu.secondsLow, base.seconds / 0.8, accuracy: base.seconds * 1e-9)
        XCTAssertEqual(cpu.secondsHigh, base.seconds / 1.2, accuracy: base.seconds * 1e-9)
        let net = try row(rows, "network")
        XCTAssertEqual(net.secondsLow, base.seconds, accuracy: base.seconds * 1e-9, "one task alone sends nothing")
    }

    func testTheValidationSetCoversEveryRegime() throws {
        let catalog = try Catalog.load(Self.repository + "/ScaleTiers")
        let configs = try CostValidation.configs(catalog)
        XCTAssertGreaterThanOrEqual(configs.count, 14)
        XCTAssertEqual(Set(configs.map(\.regime)), Set(CostValidation.Regime.allCases))
        // Compute-bound with the links off on 1, 2 and 4 trainers; STANDARD_1 and PREMIUM_1 as they are.
        let computeTrainers = Set(configs.filter { $0.regime == .compute && !$0.emulate }.map { $0.plan.topology.workers + 1 })
        XCTAssertTrue(computeTrainers.isSuperset(of: [1, 2, 4]))
        XCTAssertEqual(Set(configs.compactMap(\.tier)), ["BASIC", "STANDARD_1", "PREMIUM_1"])
        XCTAssertTrue(configs.contains { $0.training.sync && $0.training.replicasToAggregate == nil })
        XCTAssertTrue(configs.contains { $0.training.sync && ($0.training.replicasToAggregate ?? 99) < $0.plan.topology.workers + 1 })
        XCTAssertTrue(configs.contains { $0.plan.topology.taskCount > 2 * 8 }, "a run with many more processes than cores")
    }

    func testTheCalibrationFitKeepsEveryCoefficientAtLeastZero() throws {
        // Exact data from y = 2 + 3·a: the fit finds it, and gives the third term nothing.
        let rows: [([Double], Double)] = [([1, 1, 5], 5), ([1, 2, 1], 8), ([1, 10, 2], 32), ([1, 4, 9], 14)]
        let fit = try XCTUnwrap(Calibration.nonnegativeFit(rows))
        XCTAssertEqual(fit[0], 2, accuracy: 1e-9)
        XCTAssertEqual(fit[1], 3, accuracy: 1e-9)
        XCTAssertEqual(fit[2], 0, accuracy: 1e-9)
        // y = 10 − 0.5·a would need a negative coefficient: the best fit with it held at 0 is a constant,
        // the value that minimizes the relative error (Σ(c/y − 1)² → c = Σ(1/y) / Σ(1/y²)).
        let falling: [([Double], Double)] = [([1, 2], 9), ([1, 4], 8), ([1, 8], 6)]
        let clamped = try XCTUnwrap(Calibration.nonnegativeFit(falling))
        XCTAssertEqual(clamped[1], 0)
        let ys = [9.0, 8, 6]
        XCTAssertEqual(clamped[0], ys.map { 1 / $0 }.reduce(0, +) / ys.map { 1 / ($0 * $0) }.reduce(0, +), accuracy: 1e-9)
        XCTAssertNil(Calibration.nonnegativeFit([([1], -1)]), "nothing to fit")
    }

    func testValidationMediansTheRoundsAndKeepsEveryRun() {
        XCTAssertEqual(CostValidation.median([3, 1, 2]), 2)
        XCTAssertEqual(CostValidation.median([4, 1, 3, 2]), 2.5)
        XCTAssertNil(CostValidation.median([]))
    }

    func testTheLoadProbeReadsTheKernelsRunnableCount() {
        let stat = "cpu  45860 0 10116 70693 376 0 602 114 0 0\nintr 1 2\nctxt 99\nprocs_running 3\nprocs_blocked 0\n"
        XCTAssertEqual(Calibration.runnableProcesses(procStat: stat), 3)
        XCTAssertNil(Calibration.runnableProcesses(procStat: "cpu 1 2 3\nprocs_blocked 0\n"))
        XCTAssertNil(Calibration.runnableProcesses(procStat: "procs_running -4\n"))
        XCTAssertNil(Calibration.runnableProcesses(procStat: "procs_running many\n"))
    }

    func testOnlyAMeasuredConfigurationWiderThanTheTargetIsNamedAsNoisy() {
        // 12% exactly is within the target; 13% is not; a failed run (no measured rate) is not named.
        XCTAssertFalse(CostValidation.Report.spreadsBeyondMaxTarget(measured: 100, runs: [94, 100, 106]))
        XCTAssertTrue(CostValidation.Report.spreadsBeyondMaxTarget(measured: 100, runs: [93, 100, 106]))
        XCTAssertFalse(CostValidation.Report.spreadsBeyondMaxTarget(measured: nil, runs: [50, 100]))
        XCTAssertFalse(CostValidation.Report.spreadsBeyondMaxTarget(measured: 100, runs: [100]))
    }

    func testTheSustainedOneThreadRateIsAllRepeatsOverTheirTime() {
        // Two 0.1 s repeats of 100 and 80 steps of 128 examples: the best 128,000 examples/s, sustained 115,200.
        let r = ClusterBench.rates(batch: 128, repeats: [(100, 0.1), (80, 0.1)])
        XCTAssertEqual(r.best, 128_000, accuracy: 1e-6)
        XCTAssertEqual(r.sustained, 115_200, accuracy: 1e-6)
        // Repeats of different lengths weigh by their time: 300 steps in 0.3 s and 50 in 0.1 s.
        XCTAssertEqual(ClusterBench.rates(batch: 1, repeats: [(300, 0.3), (50, 0.1)]).sustained, 875, accuracy: 1e-9)
        let none = ClusterBench.rates(batch: 128, repeats: [])
        XCTAssertEqual(none.best, 0)
        XCTAssertEqual(none.sustained, 0)
    }

    func testARunsSpreadIsItsRangeOverItsMedian() throws {
        // The "small model" configuration's runs of one quiet validation: 11,403 · 20,405 · 16,769.
        XCTAssertEqual(try XCTUnwrap(CostValidation.spread([11_403, 20_405, 16_769])), 9_002.0 / 16_769, accuracy: 1e-12)
        // An even count: the median is the mean of the middle two.
        XCTAssertEqual(try XCTUnwrap(CostValidation.spread([90, 110, 100, 120])), 30.0 / 105, accuracy: 1e-12)
        XCTAssertEqual(CostValidation.spread([150, 150, 150]), 0)
        // One run, or none, has no spread; nor do runs whose median is not positive.
        XCTAssertNil(CostValidation.spread([1_410]))
        XCTAssertNil(CostValidation.spread([]))
        XCTAssertNil(CostValidation.spread([0, 0, 5]))
    }
}
