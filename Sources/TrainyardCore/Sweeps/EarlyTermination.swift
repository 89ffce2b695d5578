/// Whether a higher or a lower primary metric is better.
public enum Goal: String, Sendable {
    case maximize
    case minimize

    public func better(_ a: Double, than b: Double) -> Bool { self == .maximize ? a > b : a < b }
    public func best(_ values: [Double]) -> Double? { self == .maximize ? values.max() : values.min() }
}

/// Azure ML's early-termination policies, decided from the metric histories of the trials.
///
/// A trial's history is its primary metric at each report ("interval" 1, 2, …). The policy is
/// applied when a trial reports interval k with k a multiple of `evaluationInterval` and
/// k ≥ `delayEvaluation` (an interval of 0 counts as 1).
public enum EarlyTerminationPolicy: Sendable, Equatable {
    /// Stop a trial whose best metric so far is outside the slack of the best trial's at that interval:
    /// maximize: best_so_far < best / (1 + slack_factor), or < best − slack_amount;
    /// minimize: best_so_far > best · (1 + slack_factor), or > best + slack_amount.
    case bandit(slackFactor: Double?, slackAmount: Double?, evaluationInterval: Int, delayEvaluation: Int)
    /// Stop a trial whose best metric so far is worse than the median of the other trials'
    /// running averages over intervals 1…k (needs at least `minimumTrials` others at k).
    case medianStopping(evaluationInterval: Int, delayEvaluation: Int, minimumTrials: Int)
    /// At each evaluation, stop the trials in the lowest `percentage` % by their metric at interval k.
    case truncationSelection(percentage: Int, evaluationInterval: Int, delayEvaluation: Int, excludeFinished: Bool)

    public var name: String {
        switch self {
        case .bandit: return "bandit"
        case .medianStopping: return "median_stopping"
        case .truncationSelection: return "truncation_selection"
        }
    }

    var interval: Int {
        switch self {
        case .bandit(_, _, let i, _), .medianStopping(let i, _, _), .truncationSelection(_, let i, _, _): return max(1, i)
        }
    }

    var delay: Int {
        switch self {
        case .bandit(_, _, _, let d), .medianStopping(_, let d, _), .truncationSelection(_, _, let d, _): return d
        }
    }

    /// Whether the policy looks at a trial that has just reported its `k`-th value.
    public func applies(atInterval k: Int) -> Bool { k >= 1 && k % interval == 0 && k >= delay }

    /// What another trial is known to have done.
    public struct Peer: Sendable {
        public var history: [Double]
        public var finished: Bool
        public init(history: [Double], finished: Bool) {
            self.history = history
            self.finished = finished
        }
    }

    /// The reason to stop `history`'s trial now, or nil to let it run.
    public func decide(history: [Double], peers: [Peer], goal: Goal) -> String? {
        let k = history.count
        guard applies(atInterval: k) else { return nil }
        func fmt(_ d: Double) -> String { JSONValue.format((d * 10_000).rounded() / 10_000) }
        let mine = goal.best(history)!
        switch self {
        case .bandit(let factor, let amount, _, _):
            // The best trial at this interval: every trial's best up to k (this one included).
            let candidates = peers.filter { $0.history.count >= k }.compactMap { goal.best(Array($0.history.prefix(k))) } + [mine]
            let best = goal.best(candidates)!
            if let s = factor {
                let threshold = goal == .maximize ? best / (1 + s) : best * (1 + s)
                if goal.better(threshold, than: mine) {
                    return "bandit (slack_factor \(fmt(s))): \(fmt(mine)) is \(goal == .maximize ? "below" : "above") \(fmt(threshold)), the best \(fmt(best)) \(goal == .maximize ? "/" : "×") (1 + \(fmt(s))) at interval \(k)"
                }
            }
            if let a = amount {
                let threshold = goal == .maximize ? best - a : best + a
                if goal.better(threshold, than: mine) {
                    return "bandit (slack_amount \(fmt(a))): \(fmt(mine)) is \(goal == .maximize ? "below" : "above") \(fmt(threshold)), the best \(fmt(best)) \(goal == .maximize ? "−" : "+") \(fmt(a)) at interval \(k)"
                }
            }
            return nil
        case .medianStopping(_, _, let minimum):
            let averages = peers.filter { $0.history.count >= k }.map { Array($0.history.prefix(k)).reduce(0, +) / Double(k) }
            guard averages.count >= minimum else { return nil }
            let sorted = averages.sorted()
            let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            if goal.better(median, than: mine) {
                return "median_stopping: best \(fmt(mine)) is worse than the median \(fmt(median)) of \(averages.count) other trials' running averages at interval \(k)"
            }
            return nil
        case .truncationSelection(let percentage, _, _, let excludeFinished):
            let others = peers.filter { $0.history.count >= k && !(excludeFinished && $0.finished) }.map { $0.history[k - 1] }
            let value = history[k - 1]
            let all = others + [value]
            let cut = all.count * percentage / 100
            guard cut >= 1 else { return nil }
            // Worst first; ties keep this trial (it is placed after equal values).
            let worse = all.filter { goal.better(value, than: $0) }.count
            if worse < cut {
                return "truncation_selection (\(percentage)%): \(fmt(value)) is in the lowest \(percentage)% of \(all.count) trials at interval \(k)"
            }
            return nil
        }
    }
}
