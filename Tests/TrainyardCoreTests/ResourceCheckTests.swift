import XCTest
@testable import TrainyardCore

final class ResourceCheckTests: XCTestCase {
    let memory = 16 << 30
    let descriptors = 1024

    func message(_ settings: LaunchSettings, topology: Topology? = nil, memory: Int? = nil, descriptors: Int? = nil) -> String {
        do {
            try ResourceCheck.check(settings, topology: topology, availableMemoryBytes: memory ?? self.memory, descriptorLimit: descriptors ?? self.descriptors)
            return ""
        } catch { return error.description }
    }

    func testDefaultsAndPremium1Fit() throws {
        let defaults = try ResourceCheck.check(LaunchSettings.parse([]), availableMemoryBytes: memory, descriptorLimit: descriptors)
        XCTAssertEqual(defaults.parameters, MLPArchitecture(inputs: 32, hidden: [256, 128], classes: 10).parameterCount)
        XCTAssertEqual(defaults.dataBytes, 3 * (6000 + 2000) * 33 * 4)  // 18000 training examples over 3 tasks, 2000 held out
        XCTAssertLessThan(defaults.memoryBytes, 1 << 30)
        XCTAssertLessThan(defaults.descriptors, 100)

        let premium = try LaunchSettings.parse(["--scale-tier", "PREMIUM_1"])
        let topology = Topology(workers: 19, parameterServers: 11, useMasterName: true)
        XCTAssertEqual(topology.taskCount, 31)
        let e = try ResourceCheck.check(premium, topology: topology, availableMemoryBytes: 2 << 30, descriptorLimit: 256)
        XCTAssertEqual(e.descriptors, 2 * 31 + ResourceCheck.reservedDescriptors)
        // A CSV's shape is unknown before it is read: its data is not counted.
        let csv = try ResourceCheck.check(LaunchSettings.parse(["--dataset", "csv:data.csv"]), availableMemoryBytes: memory, descriptorLimit: descriptors)
        XCTAssertEqual(csv.dataBytes, 0)
    }

    func testMoreGradientsToAggregateThanTrainingTasksIsRefusedNamingBothFlags() throws {
        // Chief + 1 worker: two training tasks, so a step can take at most two gradients.
        let m = message(try LaunchSettings.parse(["--sync", "--replicas-to-aggregate", "3", "--workers", "1", "--ps", "1"]))
        XCTAssertTrue(m.hasPrefix("--replicas-to-aggregate 3: --workers 1 gives 2 training tasks"), m)
        XCTAssertTrue(m.hasSuffix("use --replicas-to-aggregate 2 or less, or more --workers"), m)
        XCTAssertEqual(message(try LaunchSettings.parse(["--sync", "--replicas-to-aggregate", "2", "--workers", "1", "--ps", "1"])), "")
        // A tier's topology is the one checked: STANDARD_1 has a master and 4 workers.
        let tier = try LaunchSettings.parse(["--scale-tier", "STANDARD_1", "--sync", "--replicas-to-aggregate", "6"])
        let standard = Topology(workers: 4, parameterServers: 3, useMasterName: true)
        let t = message(tier, topology: standard)
        XCTAssertTrue(t.hasPrefix("--replicas-to-aggregate 6: --scale-tier STANDARD_1 gives 5 training tasks"), t)
        XCTAssertTrue(t.hasSuffix("or a tier with more workers"), t)
        // CUSTOM: the count to raise is --worker-count.
        let custom = try LaunchSettings.parse(["--scale-tier", "CUSTOM", "--master-machine-type", "n1-standard-4", "--worker-count", "1",
                                               "--worker-machine-type", "n1-standard-4", "--sync", "--replicas-to-aggregate", "3"])
        let c = message(custom, topology: Topology(workers: 1, parameterServers: 0, useMasterName: true))
        XCTAssertTrue(c.hasPrefix("--replicas-to-aggregate 3: --worker-count 1 gives 2 training tasks") && c.hasSuffix("or a larger --worker-count"), c)
        XCTAssertEqual(message(try LaunchSettings.parse(["--scale-tier", "STANDARD_1", "--sync", "--replicas-to-aggregate", "5"]), topology: standard), "")
    }

    func testAHugeModelNamesHidden() throws {
        let m = message(try LaunchSettings.parse(["--hidden", "65536,65536"]))
        XCTAssertTrue(m.hasPrefix("--hidden 65536,65536 with --features 32 --classes 10: the model has 4297850890 parameters (17.2 GB per copy)"), m)
        XCTAssertTrue(m.contains("but 17.2 GB of memory is available: use narrower --hidden layers, fewer --features or fewer tasks"), m)
    }

    func testAHugeSyntheticDataSetNamesFeaturesAndExamples() throws {
        let m = message(try LaunchSettings.parse(["--features", "1000000", "--examples", "100000000"]))
        XCTAssertTrue(m.hasPrefix("--features 1000000 --examples 100000000: each of 3 training tasks holds 40000000 examples"), m)
    }

    func testSizesThatOverflowAreErrorsNotTraps() {
        var s = LaunchSettings()
        s.training.features = Int.max / 2
        XCTAssertEqual(message(s, memory: .max), "--hidden 256,128 with --features \(Int.max / 2) --classes 10: the model's size overflows a 64-bit count")
        s = LaunchSettings()
        s.training.features = 1_000_000
        s.training.hidden = []
        s.training.examples = Int.max / 2
        XCTAssertEqual(message(s, memory: .max), "--features 1000000 --examples \(Int.max / 2): the synthetic data set's size overflows a 64-bit count")
    }

    func testCountsAreCappedNamingTheFlag() {
        var s = LaunchSettings()
        s.topology.workers = 100_000
        XCTAssertEqual(message(s, descriptors: .max), "--workers 100000: at most 1000 workers are supported, got 100000")
        s = LaunchSettings()
        s.scaleTier = "CUSTOM"
        XCTAssertEqual(message(s, topology: Topology(workers: 100_000, parameterServers: 1), descriptors: .max),
                       "--worker-count 100000: at most 1000 workers are supported, got 100000")
        XCTAssertEqual(message(s, topology: Topology(workers: 1, parameterServers: 1001)),
                       "--parameter-server-count 1001: at most 1000 parameter servers are supported, got 1001")
    }

    func testDescriptorsBeyondTheLimitNameTheTopology() {
        var s = LaunchSettings()
        s.topology.workers = 500
        let m = message(s)
        XCTAssertTrue(m.hasPrefix("--workers 500 --ps 2: 503 tasks need about 1038 file descriptors in one process"), m)
        XCTAssertTrue(m.contains("the limit is 1024"), m)
        XCTAssertEqual(message(s, descriptors: 1038), "")
    }

    func testManyTasksBeyondTheMemoryNameTheTier() throws {
        let s = try LaunchSettings.parse(["--scale-tier", "PREMIUM_1"])
        let m = message(s, topology: Topology(workers: 19, parameterServers: 11, useMasterName: true), memory: 100_000_000)
        XCTAssertTrue(m.hasPrefix("--scale-tier PREMIUM_1: 31 tasks need about"), m)
    }
}
