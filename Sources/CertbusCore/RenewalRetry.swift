import Foundation

/// When to try again after an automatic renewal failed, so a failing renewal backs off instead of
/// looping, yet keeps trying while the certificate is still valid.
public struct RenewalRetry: Sendable, Equatable {
    /// Delay growth: 15 minutes doubling up to 12 hours, without random jitter (the per-certificate
    /// renewal jitter already spreads certificates).
    public var backoff: Backoff
    /// The shortest delay ever used.
    public var minimumDelay: TimeInterval

    /// The default policy: 15 min, 30 min, 1 h … capped at 12 h; at least 1 minute.
    public init(backoff: Backoff = Backoff(base: 900, maximum: 43_200, jitter: 0), minimumDelay: TimeInterval = 60) {
        self.backoff = backoff
        self.minimumDelay = minimumDelay
    }

    /// The next renewal time after `failures` consecutive failed renewals (1 = the first failure),
    /// counted from `now`. The delay is capped so the retry happens before `notAfter` when that
    /// is still possible (half the time left), but is never shorter than ``minimumDelay``.
    public func nextAttempt(afterFailures failures: Int, now: Date, notAfter: Date) -> Date {
        var delay = backoff.delay(afterAttempt: max(1, failures), random: 0.5)
        let remaining = notAfter.timeIntervalSince(now)
        if remaining > 0 { delay = min(delay, remaining / 2) }
        delay = max(delay, minimumDelay)
        return Date(timeIntervalSince1970: now.addingTimeInterval(delay).timeIntervalSince1970.rounded(.up))
    }
}
