import Foundation
import TrainyardCore
import TrainyardPlatform

/// Where a sweep trial's chief waits, after each evaluation, for the sweep runner's verdict on it
/// (`TrialVerdict`, Docs/sweeps.md). Outside a sweep (no `verdicts/` folder in the job
/// directory) it returns at once.
///
/// On `continue` it returns and training goes on. On `stop` it does not return to training: it
/// waits for the runner's cancellation (SIGTERM through the job's supervisor), which the role's
/// loop then handles, so the trial trains no step past the evaluation that stopped it. With no
/// verdict within `TrialVerdict.waitLimit` seconds (the runner is gone) it logs so and returns.
public enum TrialVerdictGate {
    public static func hold(afterEvaluationAt step: Int64, jobDirectory: String, log: RoleLog) {
        let folder = TrialVerdict.folder(jobDirectory: jobDirectory)
        guard Files.isDirectory(folder) else { return }
        let path = folder + "/" + TrialVerdict.fileName(step: Int(step))
        let deadline = MonotonicClock.now() + TrialVerdict.waitLimit
        var stopping: String?
        while MonotonicClock.now() < deadline {
            if Signals.pending != nil { return }
            if stopping == nil, let text = try? Files.readText(path), let verdict = TrialVerdict(parsing: text) {
                switch verdict {
                case .proceed: return
                case .stop(let reason):
                    log("the sweep stopped this trial at global step \(step): \(reason)")
                    stopping = reason
                }
            }
            MonotonicClock.sleep(seconds: 0.005)
        }
        log(stopping == nil ? "warning: no verdict from the sweep for global step \(step) in \(Int(TrialVerdict.waitLimit)) s; training on"
                            : "warning: stopped at global step \(step) but not cancelled in \(Int(TrialVerdict.waitLimit)) s; ending")
        if stopping != nil { exit(ExitCode.failure.rawValue) }
    }
}
