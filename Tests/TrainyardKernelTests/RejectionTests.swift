import Foundation
import XCTest
import TrainyardCore
import TrainyardKernel

/// Inputs the API rejects with a precondition (zero rows, zero classes, a label out of range, a
/// batch outside the trainer's range) must stop the process, not read out of bounds. Each probe
/// runs in a child copy of this test binary, which must die of the trap.
final class RejectionTests: XCTestCase {
    static let probeVariable = "TRAINYARD_KERNEL_TEST_PROBE"

    /// Runs in the child only: performs the rejected call named by the environment.
    func testProbeChild() throws {
        guard let probe = ProcessInfo.processInfo.environment[Self.probeVariable] else { return }
        let logits: [Float] = [1, 2, 3, 4]
        let labels: [Int32] = [0, 5]
        var gradient = [Float](repeating: 0, count: 4)
        logits.withUnsafeBufferPointer { l in labels.withUnsafeBufferPointer { y in gradient.withUnsafeMutableBufferPointer { g in
            switch probe {
            case "softmax-zero-rows":
                _ = Layers.softmaxCrossEntropy(rows: 0, classes: 2, logits: l.baseAddress!, labels: y.baseAddress!, gradient: g.baseAddress!)
            case "softmax-zero-classes":
                _ = Layers.softmaxCrossEntropy(rows: 1, classes: 0, logits: l.baseAddress!, labels: y.baseAddress!, gradient: nil)
            case "softmax-label-out-of-range":
                _ = Layers.softmaxCrossEntropy(rows: 2, classes: 2, logits: l.baseAddress!, labels: y.baseAddress!, gradient: g.baseAddress!)
            case "trainer-zero-rows":
                let trainer = MLPTrainer(architecture: MLPArchitecture(inputs: 2, hidden: [3], classes: 2), maxBatch: 4)
                let p = [Float](repeating: 0.1, count: trainer.architecture.parameterCount)
                p.withUnsafeBufferPointer { _ = trainer.forward(parameters: $0.baseAddress!, inputs: l.baseAddress!, rows: 0) }
            case "trainer-batch-too-big":
                let trainer = MLPTrainer(architecture: MLPArchitecture(inputs: 2, hidden: [3], classes: 2), maxBatch: 1)
                let p = [Float](repeating: 0.1, count: trainer.architecture.parameterCount)
                p.withUnsafeBufferPointer { _ = trainer.forward(parameters: $0.baseAddress!, inputs: l.baseAddress!, rows: 2) }
            default:
                break
            }
        }}}
        XCTFail("probe \(probe) returned instead of stopping")
    }

    func expectRejected(_ probe: String, file: StaticString = #filePath, line: UInt = #line) throws {
        #if os(Linux)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["TrainyardKernelTests.RejectionTests/testProbeChild"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.probeVariable] = probe
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "\(probe): the child should die of the precondition's trap; stderr: \(text.suffix(400))", file: file, line: line)
        #else
        throw XCTSkip("probes re-run the test binary, which is only a plain executable on Linux")
        #endif
    }

    func testSoftmaxRejectsZeroRows() throws { try expectRejected("softmax-zero-rows") }
    func testSoftmaxRejectsZeroClasses() throws { try expectRejected("softmax-zero-classes") }
    func testSoftmaxRejectsLabelsOutOfRange() throws { try expectRejected("softmax-label-out-of-range") }
    func testTrainerRejectsZeroRows() throws { try expectRejected("trainer-zero-rows") }
    func testTrainerRejectsBatchesOverMaxBatch() throws { try expectRejected("trainer-batch-too-big") }
}

/// Which build runs, and that the override works.
final class BackendSelectionTests: XCTestCase {
    /// What `TRAINYARD_KERNEL` says in this process (nil: unset, empty or `auto`).
    static var forcedHere: String? {
        let value = ProcessInfo.processInfo.environment["TRAINYARD_KERNEL"]
        return value == nil || value == "" || value == "auto" ? nil : value
    }

    func testActiveBackendFollowsTheCPUAndTheOverride() {
        switch Self.forcedHere {
        case "portable"?: XCTAssertEqual(KernelBackend.active, .portable)
        case "avx2"?, "avx2+fma"?: XCTAssertEqual(KernelBackend.active, .avx2FMA)
        case "avx512"?: XCTAssertEqual(KernelBackend.active, .avx512)
        default:
            let best: KernelBackend = KernelBackend.cpuSupportsAVX512 ? .avx512 : (KernelBackend.cpuSupportsAVX2FMA ? .avx2FMA : .portable)
            XCTAssertEqual(KernelBackend.active, best)
        }
        XCTAssertEqual(KernelBackendName.current, KernelBackend.active.rawValue)
        XCTAssertNoThrow(try KernelBackendName.check())
        // A CPU with AVX-512 (as the build needs it) always has AVX2 and FMA.
        if KernelBackend.cpuSupportsAVX512 { XCTAssertTrue(KernelBackend.cpuSupportsAVX2FMA) }
    }

    /// The choice for every CPU and every value of the variable, without needing those CPUs.
    func testChoiceForEveryCPUAndValue() {
        typealias CPU = (avx2: Bool, avx512: Bool)
        let cpus: [CPU] = [(false, false), (true, false), (true, true)]
        for cpu in cpus {
            let best: KernelBackend = cpu.avx512 ? .avx512 : (cpu.avx2 ? .avx2FMA : .portable)
            for unset in [nil, "", "auto"] as [String?] {
                XCTAssertEqual(KernelBackend.choose(forced: unset, avx2FMA: cpu.avx2, avx512: cpu.avx512), .success(best), "\(cpu) \(unset ?? "nil")")
            }
            XCTAssertEqual(KernelBackend.choose(forced: "portable", avx2FMA: cpu.avx2, avx512: cpu.avx512), .success(.portable))
            for name in ["avx2", "avx2+fma"] {
                let r = KernelBackend.choose(forced: name, avx2FMA: cpu.avx2, avx512: cpu.avx512)
                if cpu.avx2 { XCTAssertEqual(r, .success(.avx2FMA)) } else {
                    XCTAssertEqual(r, .failure(.unavailable(forced: name, needs: "AVX2 and FMA", best: .portable)))
                }
            }
            let r = KernelBackend.choose(forced: "avx512", avx2FMA: cpu.avx2, avx512: cpu.avx512)
            if cpu.avx512 { XCTAssertEqual(r, .success(.avx512)) } else {
                guard case .failure(let e) = r else { XCTFail("avx512 forced on \(cpu) must fail"); continue }
                XCTAssertTrue(e.description.contains("TRAINYARD_KERNEL=avx512") && e.description.contains("AVX-512"), e.description)
                XCTAssertTrue(e.description.contains("set it to \(cpu.avx2 ? "avx2" : "portable")"), e.description)
            }
            for bad in ["AVX2", "sse", "avx-512", "fast"] {
                let r = KernelBackend.choose(forced: bad, avx2FMA: cpu.avx2, avx512: cpu.avx512)
                XCTAssertEqual(r, .failure(.unknown(forced: bad)))
                if case .failure(let e) = r { XCTAssertTrue(e.description.contains("use portable, avx2 or avx512"), e.description) }
            }
        }
    }

    /// Runs `filters` in a child copy of this test binary with `TRAINYARD_KERNEL=value`; each must
    /// pass and run at least one test.
    func runForced(_ value: String, _ filters: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        #if os(Linux)
        for filter in filters {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = [filter]
            var environment = ProcessInfo.processInfo.environment
            environment["TRAINYARD_KERNEL"] = value
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "\(filter) with TRAINYARD_KERNEL=\(value): \(text.suffix(800))", file: file, line: line)
            XCTAssertTrue(text.contains("with 0 failures") && !text.contains("Executed 0 tests"), "\(filter) ran no test: \(text.suffix(400))", file: file, line: line)
        }
        #else
        throw XCTSkip("re-runs the test binary, which is only a plain executable on Linux")
        #endif
    }

    /// The tests that go through the dispatcher: under a forced build they run on that build.
    static let dispatcherFilters = [
        "TrainyardKernelTests.BackendSelectionTests/testActiveBackendFollowsTheCPUAndTheOverride",
        "TrainyardKernelTests.MLPGradientTests",
        "TrainyardKernelTests.ElementwiseTests/testDispatcherLayers",
        "TrainyardKernelTests.OptimizerTests/testDispatcherUpdates",
        "TrainyardKernelTests.GemmTests/testDispatcherMatchesReference",
    ]

    /// In a child with `TRAINYARD_KERNEL=portable`: the override takes effect, and the whole MLP
    /// step (dispatcher → portable build) passes its finite-difference check and the dispatcher
    /// tests of the layers and updates.
    func testPortableOverrideInAChild() throws {
        guard Self.forcedHere == nil else { return }
        try runForced("portable", Self.dispatcherFilters)
    }

    /// The same with `TRAINYARD_KERNEL=avx2` where the CPU has AVX2 (on an AVX-512 CPU this is the
    /// only way the dispatcher reaches the AVX2 build).
    func testAVX2OverrideInAChild() throws {
        guard Self.forcedHere == nil else { return }
        guard KernelBackend.cpuSupportsAVX2FMA else { throw XCTSkip("this CPU has no AVX2 and FMA: TRAINYARD_KERNEL=avx2 is refused here (see testForcingABuildThisCPUCannotRunExits3)") }
        try runForced("avx2", Self.dispatcherFilters)
    }

    /// The AVX-512 build: its direct tests are in every `Backend.runnable` loop (GEMM, elementwise,
    /// optimizers) and the dispatcher tests run under `TRAINYARD_KERNEL=avx512` — on a CPU with
    /// AVX-512 only; elsewhere this test is skipped with the reason, and the build is checked by
    /// `Tests/KernelCode/check-kernel-code.sh` (objdump, and its 12×32 driver emulated in AVX2).
    func testAVX512BuildOnThisCPU() throws {
        guard KernelBackend.cpuSupportsAVX512 else {
            throw XCTSkip("this CPU has no AVX-512 (AVX512F/DQ/CD/BW/VL with zmm state saved by the OS): the AVX-512 kernel build's tests are skipped here")
        }
        XCTAssertTrue(Backend.runnable.contains { $0.name == "avx512" })
        guard Self.forcedHere == nil else { return }
        try runForced("avx512", Self.dispatcherFilters)
    }

    /// A forced build this CPU cannot run, or an unknown name, ends the process at the first kernel
    /// call with the reason and exit code 3 — never an illegal instruction.
    func testForcingABuildThisCPUCannotRunExits3() throws {
        #if os(Linux)
        var cases: [(value: String, expected: String)] = [("sse9", "TRAINYARD_KERNEL=sse9 names no kernel build")]
        if !KernelBackend.cpuSupportsAVX512 { cases.append(("avx512", "TRAINYARD_KERNEL=avx512 forces a kernel build this CPU cannot run")) }
        if !KernelBackend.cpuSupportsAVX2FMA { cases.append(("avx2", "TRAINYARD_KERNEL=avx2 forces a kernel build this CPU cannot run")) }
        for (value, expected) in cases {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = ["TrainyardKernelTests.GemmTests/testDispatcherMatchesReference"]
            var environment = ProcessInfo.processInfo.environment
            environment["TRAINYARD_KERNEL"] = value
            process.environment = environment
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .exit, "TRAINYARD_KERNEL=\(value): the child must exit, not die of a signal; stderr: \(text.suffix(400))")
            XCTAssertEqual(process.terminationStatus, 3, "TRAINYARD_KERNEL=\(value): stderr: \(text.suffix(400))")
            XCTAssertTrue(text.contains("error: " + expected), "TRAINYARD_KERNEL=\(value): stderr: \(text.suffix(400))")
        }
        #else
        throw XCTSkip("re-runs the test binary, which is only a plain executable on Linux")
        #endif
    }
}
