import Foundation
import TrainyardCore
import TrainyardPlatform

/// Where a sweep trial's training tasks wait for the sweep runner's verdict on an evaluation
/// (`TrialVerdict`, Docs/sweeps.md). Outside a sweep (no `verdicts/` folder in the job
/// directory) both calls return at once.
///
/// The chief, after writing an evaluation record at global step S, calls `hold(afterEvaluationAt:)`:
/// it marks the folder `hold` (so the workers pause too) and waits for `step-S`. On `continue` it
/// removes the mark and returns. On `stop` it does not return to training: it waits for the
/// runner's cancellation (SIGTERM through the job's supervisor), which the role's loop then
/// handles, so the trial trains no step past that evaluation. With no verdict within
/// `TrialVerdict.waitLimit` seconds (the runner is gone) it trains on, or after a `stop` exits.
///
/// A worker calls `holdWhileChiefWaits` before each step: while the mark is there it does not
/// compute (only the steps it ran during the evaluation itself, before the mark, go past S).
public enum TrialVerdictGate {
    static func holdMark(_ folder: String) -> String { folder + "/hold" }

    public static func hold(afterEvaluationAt step: Int64, jobDirectory: String, log: RoleLog) {
        let folder = TrialVerdict.folder(jobDirectory: jobDirectory)
        guard Files.isDirectory(folder) else { return }
        try? Files.writeAtomically(String(step) + "\n", to: holdMark(folder), durable: false)
        let path = folder + "/" + TrialVerdict.fileName(step: Int(step))
        let deadline = MonotonicClock.now() + TrialVerdict.waitLimit
        var stopping: String?
        while MonotonicClock.now() < deadline {
            if Signals.pending != nil { return }
            if stopping == nil, let text = try? Files.readText(path), let verdict = TrialVerdict(parsing: text) {
                switch verdict {
                case .proceed:
                    Files.remove(holdMark(folder))
                    return
                case .stop(let reason):
                    log("the sweep stopped this trial at global step \(step): \(reason)")
                    stopping = reason
                }
            }
            MonotonicClock.sleep(seconds: 0.005)
        }
        if stopping != nil {
            log("warning: stopped at global step \(step) but not cancelled in \(Int(TrialVerdict.waitLimit)) s; ending")
            exit(ExitCode.failure.rawValue)
        }
        log("warning: no verdict from the sweep for global step \(step) in \(Int(TrialVerdict.waitLimit)) s; training on")
        Files.remove(holdMark(folder))
    }

    public static func holdWhileChiefWaits(jobDirectory: String) {
        let mark = holdMark(TrialVerdict.folder(jobDirectory: jobDirectory))
        guard Files.exists(mark) else { return }
        let deadline = MonotonicClock.now() + TrialVerdict.waitLimit
        while Files.exists(mark) && MonotonicClock.now() < deadline && Signals.pending == nil {
            MonotonicClock.sleep(seconds: 0.005)
        }
    }
}
