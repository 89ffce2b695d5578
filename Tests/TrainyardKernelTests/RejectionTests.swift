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
    func testActiveBackendFollowsTheCPUAndTheOverride() {
        let forced = ProcessInfo.processInfo.environment["TRAINYARD_KERNEL"] == "portable"
        if forced || !KernelBackend.cpuSupportsAVX2FMA {
            XCTAssertEqual(KernelBackend.active, .portable)
        } else {
            XCTAssertEqual(KernelBackend.active, .avx2FMA)
        }
        XCTAssertEqual(KernelBackendName.current, KernelBackend.active.rawValue)
    }

    /// In a child with `TRAINYARD_KERNEL=portable`: the override takes effect, and the whole MLP
    /// step (dispatcher → portable build) passes its finite-difference check and the dispatcher
    /// tests of the layers and updates.
    func testPortableOverrideInAChild() throws {
        #if os(Linux)
        guard ProcessInfo.processInfo.environment["TRAINYARD_KERNEL"] != "portable" else { return }
        for filter in ["TrainyardKernelTests.BackendSelectionTests/testActiveBackendFollowsTheCPUAndTheOverride",
                       "TrainyardKernelTests.MLPGradientTests",
                       "TrainyardKernelTests.ElementwiseTests/testDispatcherLayers",
                       "TrainyardKernelTests.OptimizerTests/testDispatcherUpdates",
                       "TrainyardKernelTests.GemmTests/testDispatcherMatchesReference"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = [filter]
            var environment = ProcessInfo.processInfo.environment
            environment["TRAINYARD_KERNEL"] = "portable"
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "\(filter) with TRAINYARD_KERNEL=portable: \(text.suffix(800))")
            XCTAssertTrue(text.contains("with 0 failures") && !text.contains("Executed 0 tests"), "\(filter) ran no test: \(text.suffix(400))")
        }
        #else
        throw XCTSkip("re-runs the test binary, which is only a plain executable on Linux")
        #endif
    }
}
