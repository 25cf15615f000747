import Foundation

/// Durations written the way operators type them: a whole number and a unit — `90s`, `15m`,
/// `12h`, `30d`, `2w` — as used by `--expiring-within 30d`.
public enum DurationText {
    /// The duration in seconds, or throws ``DurationTextError``.
    public static func parse(_ text: String) throws -> TimeInterval {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let unit = trimmed.last, let multiplier = multipliers[unit] else {
            throw DurationTextError(text: text)
        }
        let digits = trimmed.dropLast()
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let value = Int(digits)
        else {
            throw DurationTextError(text: text)
        }
        return TimeInterval(value) * multiplier
    }

    private static let multipliers: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
}

/// A duration that does not parse.
public struct DurationTextError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// "invalid duration "x" (expected a number and a unit: 90s, 15m, 12h, 30d, 2w)".
    public var description: String {
        "invalid duration \"\(text)\" (expected a whole number and a unit: 90s, 15m, 12h, 30d, 2w)"
    }
}
