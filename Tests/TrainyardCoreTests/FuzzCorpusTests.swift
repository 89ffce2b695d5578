import Foundation
import XCTest
@testable import TrainyardCore

/// Replays every saved fuzz input — the corpus and every input that once crashed — through the
/// same checks the libFuzzer harnesses run (`FuzzTargets`), so a fixed crash stays fixed.
final class FuzzCorpusTests: XCTestCase {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    func testEverySavedInputDecodesWithoutAFinding() throws {
        let fm = FileManager.default
        var replayed: [String: Int] = [:]
        for kind in ["corpus", "crashes"] {
            for (name, run) in FuzzTargets.all {
                let folder = Self.fuzzFolder + "/\(kind)/\(name)"
                for file in ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted() where !file.hasPrefix(".") {
                    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file)))
                    XCTAssertNoThrow(try run(bytes), "\(kind)/\(name)/\(file)")
                    replayed[name, default: 0] += 1
                }
            }
        }
        for (name, _) in FuzzTargets.all {
            XCTAssertGreaterThan(replayed[name] ?? 0, 0, "no saved inputs for the \(name) target")
        }
    }

    /// The seeds the corpus started from (written when TRAINYARD_WRITE_FUZZ_SEEDS is set); each
    /// decodes, so the fuzzer starts from inputs that reach deep into every decoder.
    func testSeedsDecode() throws {
        let seeds = Self.seeds()
        for (name, run) in FuzzTargets.all {
            for s in seeds[name] ?? [] { XCTAssertNoThrow(try run(s), name) }
        }
        guard ProcessInfo.processInfo.environment["TRAINYARD_WRITE_FUZZ_SEEDS"] != nil else { return }
        for (name, inputs) in seeds {
            let folder = Self.fuzzFolder + "/corpus/\(name)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (i, s) in inputs.enumerated() { try Data(s).write(to: URL(fileURLWithPath: folder + "/seed-\(i)")) }
        }
    }

    static func seeds() -> [String: [[UInt8]]] {
        let arch = MLPArchitecture(inputs: 3, hidden: [4], classes: 2)
        let messages: [Message] = [
            .hello(Hello(token: "t0k3n", task: .worker(2))),
            .helloReply(Status(task: .ps(0), initialized: true, incarnation: 3, globalStep: 42, done: false, shardElements: 10)),
            .initialize(Initialize(incarnation: 2, globalStep: 0, maxSteps: 100, values: [1, 2, 3], slots: [[0.5, 0.5, 0.5]])),
            .ack(globalStep: 7), .pull(Pull(includeSlots: true)),
            .pullReply(Parameters(globalStep: 5, done: false, values: [1.5, -2], slots: [[1, 1]])),
            .push(Push(baseStep: 4, gradients: [0.25, 0.5], returnValues: true)),
            .pushReply(PushReply(globalStep: 9, applied: true, done: false, values: [3])),
            .status, .statusReply(Status(task: .chief(), initialized: false, incarnation: 0, globalStep: 0, done: false, shardElements: 0)),
            .shutdown(reason: "done"), .error(WireError(.badToken, "bad token")),
        ]
        let frames = messages.enumerated().map { FrameCodec.encode(Frame(requestID: UInt32($0.offset), incarnation: 1, deadlineMillis: 500, message: $0.element)) }
        func idx(_ type: UInt8, _ dims: [Int], _ body: [UInt8]) -> [UInt8] {
            var b: [UInt8] = [0, 0, type, UInt8(dims.count)]
            for d in dims { b += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
            return b + body
        }
        func pair(_ images: [UInt8], _ labels: [UInt8]) -> [UInt8] { [UInt8(images.count & 0xFF), UInt8(images.count >> 8)] + images + labels }
        let text = { (s: String) in Array(s.utf8) }
        return [
            "frame": frames,
            "message": frames.map { [$0[5]] + Array($0[24...]) },
            "json": [text(#"{"a": [1, 2.5e3, -0.0, "x\u00e9\n"], "b": {"c": null, "d": true}}"#), text("[]"), text(#""\ud83d\ude00""#)],
            "yaml": [text("trainingInput:\n  scaleTier: CUSTOM\n  args: [--lr, '0.1']\n  workerCount: 4 # four\nlist:\n  - a\n  - {b: 1, c: [x, y]}\ntext: |\n  one\n  two\n"),
                     text("a: \"quoted \\u00e9\"\nb: 'single ''q'''\nc: 0x1F\nd: -.inf\ne: ~\n")],
            "tfconfig": [text(#"{"cluster": {"chief": ["localhost:2222"], "worker": ["localhost:2223", "h:1"], "ps": ["[::1]:2224"]}, "task": {"type": "worker", "index": 1, "trial": "3"}, "environment": "cloud", "job": {"scale_tier": "CUSTOM"}}"#)],
            "csv": [[0x05] + text("height,weight,species\n1.0,10,cat\n2.0,20,dog\n3.0,30,cat\n4.0,40,bird\n"), [0x80] + text("1,2,0\n3,4,1\n5,6,0\n7,8,1\n")],
            "idx": [pair(idx(0x08, [4, 2, 2], (0..<16).map { UInt8($0 * 17) }), idx(0x08, [4], [0, 1, 2, 1])),
                    pair(idx(0x0D, [2, 2], [0x3F, 0x80, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0xBF, 0x80, 0, 0]), idx(0x08, [2], [1, 0]))],
            "checkpoint": [Checkpoint(globalStep: 40, incarnation: 2, architecture: arch, parameters: arch.initialParameters(seed: 1)).encoded(),
                           Checkpoint(globalStep: 1, incarnation: 1, architecture: arch, parameters: arch.initialParameters(seed: 2),
                                      slots: [arch.initialParameters(seed: 3)]).encoded()],
            "ignore": [text("# comment\r\n*.log\n!keep.log\n/build/\ndocs/**/*.md\n**/tmp\n[a-c]?.bin\n\\#hash\n\0a.log\nkeep.log\nbuild/x\ndocs/a/b/c.md\nx/tmp/y\nb1.bin\n")],
            "storageuri": [text("gs://my-bucket/path/to/object"), text("gs://b_1.x/folder/"), text("gs://abc")],
        ]
    }
}
