/// Exponential backoff between retries: `initial`, doubling, capped at `maximum`.
public struct Backoff: Sendable, Equatable {
    public var initial: Double
    public var maximum: Double
    public init(initial: Double = 0.05, maximum: Double = 1.0) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before retry number `attempt` (0-based), in seconds.
    public func delay(attempt: Int) -> Double {
        min(maximum, initial * Math.pow(2, Double(min(attempt, 30))))
    }
}
