import Foundation

/// Exponential backoff with jitter, as a pure function.
public struct Backoff: Sendable, Equatable {
    /// Delay before the first retry, in seconds.
    public var base: Double
    /// Upper bound on any delay, in seconds.
    public var maximum: Double
    /// Fraction of the delay randomised either way (0.2 = ±20%).
    public var jitter: Double

    public init(base: Double = 2, maximum: Double = 3600, jitter: Double = 0.2) {
        self.base = base
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before retry number `attempt` (1 = after the first failure): `base · 2^(attempt-1)`,
    /// capped at `maximum`, scaled by a factor in `[1 - jitter, 1 + jitter]` drawn from `random`
    /// (a value in 0...1; pass a fixed one in tests).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let exponent = Double(max(0, min(attempt - 1, 62)))
        let raw = min(maximum, base * pow(2, exponent))
        let factor = 1 + jitter * (2 * min(max(random, 0), 1) - 1)
        return min(maximum, raw * factor)
    }
}
