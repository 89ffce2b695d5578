import Foundation
import TrainyardCore
import TrainyardPlatform
import TrainyardLaunch

/// `trainyard calibrate`: measures this machine for the cost model — training compute over several
/// model sizes, request latency and CPU per request, bytes per second through a frame connection,
/// and the ps update rate — and saves the profile.
enum CalibrateCommand {
    static let help = HelpPage(
        usage: "trainyard calibrate [--json] [--quick]",
        summary: "Measures this machine for the cost model and saves the profile in $TRAINYARD_HOME (used by `trainyard cost`).",
        options: [("--json", "print the profile as JSON"), ("--quick", "shorter measurements (less precise)")])

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        let json = try args.flag("--json")
        let quick = try args.flag("--quick")
        try args.finish()
        let profile = try Calibration.measure(quick: quick) { if !json { Posix.write($0, to: 2) } }
        try Calibration.save(profile)
        if json {
            print(profile.json.prettySerialized())
        } else {
            print(describe(profile))
            print("saved to \(Calibration.profilePath())")
        }
        return .success
    }

    static func describe(_ p: CalibrationProfile) -> String {
        [String(format: "compute: %.1f GFLOP/s on whole micro-tiles + %.1f µs per step (one core, %@ kernel, %@ build)", p.flopsPerSecond / 1e9, p.stepFixedSeconds * 1e6, p.kernel, p.build)
            + (p.compute.map { String(format: "; %.2f ns per value a GEMM moves, %.2f ns more per weight beyond the %d KiB cache", $0.secondsPerTouchedValue * 1e9, $0.secondsPerSpilledWeight * 1e9, $0.cacheBytes / 1024) } ?? ""),
         String(format: "every core computing at once: %+.1f%% CPU per step on each core against one core alone", p.concurrentComputeSlowdown * 100),
         String(format: "requests: %.1f µs round trip to a ps process, %.1f µs of CPU each (both processes), %.1f µs more per process beyond %d and %.1f µs per ps beyond one", p.rpcSeconds * 1e6, p.rpcCPUSeconds * 1e6,
                p.rpcCPUSecondsPerExtraProcess * 1e6, p.cores + 1, p.rpcCPUSecondsPerExtraServer * 1e6),
         String(format: "loopback: %.0f MB/s through a frame connection (%.2f ns of CPU per byte)", 1e-6 / p.byteSeconds, p.byteSeconds * 1e9)
            + (p.byteSecondsBySize.isEmpty ? "" : "; in a running cluster, by model size: "
                + p.byteSecondsBySize.map { String(format: "%.2f ns at %.2f MB", $0.seconds * 1e9, $0.modelBytes / 1e6) }.joined(separator: ", ")),
         String(format: "ps update: %.2f ns per value (momentum)", p.updateSecondsPerValue * 1e9),
         "cores: \(p.cores), host: \(p.host), measured \(p.measuredAt)"].joined(separator: "\n")
    }
}
