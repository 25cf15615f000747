import Foundation

/// The timing of ACME polling (RFC 8555 §7.5.1, §7.4): honour the CA's `Retry-After`, within
/// bounds, and never wait past the caller's deadline.
public struct ACMEPolling: Sendable, Equatable {
    /// The wait between polls when the CA sends no `Retry-After`.
    public var interval: Duration
    /// The longest wait certbus accepts from a `Retry-After` (longer values are shortened).
    public var maximumDelay: Duration
    /// How long to wait for all authorizations of an order to be validated.
    public var validationTimeout: Duration
    /// How long to wait for a finalized order to be issued.
    public var issuanceTimeout: Duration

    /// Defaults: 1 s interval, at most 30 s per `Retry-After`, 120 s for validation and for issuance.
    public init(
        interval: Duration = .seconds(1), maximumDelay: Duration = .seconds(30),
        validationTimeout: Duration = .seconds(120), issuanceTimeout: Duration = .seconds(120)
    ) {
        self.interval = interval
        self.maximumDelay = maximumDelay
        self.validationTimeout = validationTimeout
        self.issuanceTimeout = issuanceTimeout
    }

    /// The wait before the next poll, or nil when `deadline` has passed. `retryAfter` (seconds)
    /// wins over `interval` but is capped at `maximumDelay`; the result never ends after `deadline`.
    public func nextDelay(retryAfter: TimeInterval?, now: Date, deadline: Date) -> TimeInterval? {
        let remaining = deadline.timeIntervalSince(now)
        guard remaining > 0 else { return nil }
        let wanted = retryAfter.map { min(max($0, 0), maximumDelay.seconds) } ?? interval.seconds
        return min(wanted, remaining)
    }

    /// The seconds a `Retry-After` value asks for (RFC 9110 §10.2.3): delta-seconds or an
    /// HTTP-date relative to `now` (a past date gives 0). Nil when absent or unreadable.
    public static func retryAfterSeconds(_ value: String?, now: Date) -> TimeInterval? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return TimeInterval(value.prefix(10)) ?? nil
        }
        guard let date = httpDate(value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// Parses an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    var seconds: TimeInterval {
        let (whole, fraction) = components
        return TimeInterval(whole) + TimeInterval(fraction) / 1e18
    }
}
