/// How a sweep ranks its trials and picks the best one (Docs/sweeps.md, "Best of sweep").
///
/// The value is each trial's *final* report of the primary metric — for Trainyard's trainer the
/// evaluation of the model it exports at the end — so the value the ranking quotes is the value
/// of the model `models register --best-of-sweep` registers. Early-terminated trials are ranked
/// by the value they stopped at, but only a trial that completed (and so left a model) can be
/// the best.
public enum TrialRanking {
    public struct Entry: Sendable, Equatable {
        /// The final value of the primary metric; nil when the trial reported none.
        public var metric: Double?
        /// Whether the trial ran to the end and left its model.
        public var completed: Bool
        public init(metric: Double?, completed: Bool) {
            self.metric = metric
            self.completed = completed
        }
    }

    /// The entries' indices, best first: by metric (ties in trial order), trials without one last.
    public static func order(_ entries: [Entry], goal: Goal) -> [Int] {
        entries.indices.sorted { a, b in
            switch (entries[a].metric, entries[b].metric) {
            case let (x?, y?): return goal.better(x, than: y) || (x == y && a < b)
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a < b
            }
        }
    }

    /// The best completed entry's index, or nil when no trial completed with a metric.
    public static func best(_ entries: [Entry], goal: Goal) -> Int? {
        order(entries, goal: goal).first { entries[$0].completed && entries[$0].metric != nil }
    }
}
