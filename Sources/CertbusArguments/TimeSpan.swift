import Foundation

/// A non-negative length of time written the way operators write it:
/// `30d`, `12h`, `15m`, `90s`, `2w`, or combined, largest unit first: `1d12h`, `1h30m`.
///
/// Stored as whole seconds. `description` gives the canonical spelling
/// (`90s` → `1m30s`), which parses back to the same value.
public struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible, ArgumentValue {
    /// The length in seconds (never negative).
    public var seconds: Int64

    /// A span of `seconds` seconds; negative values are clamped to zero.
    public init(seconds: Int64) { self.seconds = max(0, seconds) }

    /// `n` days.
    public static func days(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 86_400) }
    /// `n` hours.
    public static func hours(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 3_600) }
    /// `n` minutes.
    public static func minutes(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 60) }

    /// The span as a Foundation time interval.
    public var timeInterval: TimeInterval { TimeInterval(seconds) }
    /// The span as a Swift `Duration`.
    public var duration: Duration { .seconds(seconds) }

    /// The units, largest first, with their length in seconds.
    static let units: [(symbol: Character, seconds: Int64)] = [
        ("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1),
    ]

    /// Parses `30d`, `12h`, `15m`, `90s`, `2w`, `1d12h`, ... (case-insensitive).
    /// Each unit may appear once, largest first; a bare number is refused, because
    /// its unit would be a guess.
    public static func parse(argument word: String) throws -> TimeSpan {
        let expected = ArgumentValueError(expected: "a duration like 30d, 12h, 15m or 90s (units: w, d, h, m, s)")
        let text = word.lowercased()
        guard !text.isEmpty else { throw expected }
        var total: Int64 = 0
        var digits = ""
        var lastUnitIndex = -1
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            guard let unitIndex = units.firstIndex(where: { $0.symbol == character }), !digits.isEmpty,
                unitIndex > lastUnitIndex, let amount = Int64(digits)
            else { throw expected }
            let (product, overflow1) = amount.multipliedReportingOverflow(by: units[unitIndex].seconds)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow1, !overflow2 else { throw ArgumentValueError(expected: "a shorter duration") }
            total = sum
            digits = ""
            lastUnitIndex = unitIndex
        }
        guard digits.isEmpty else { throw expected }
        return TimeSpan(seconds: total)
    }

    /// "duration".
    public static var valueName: String { "duration" }

    /// The canonical spelling: largest units first, zero parts left out; `0s` for zero.
    public var description: String {
        guard seconds > 0 else { return "0s" }
        var rest = seconds
        var text = ""
        for unit in Self.units where unit.symbol != "w" {
            let amount = rest / unit.seconds
            if amount > 0 { text += "\(amount)\(unit.symbol)" }
            rest %= unit.seconds
        }
        return text
    }

    /// Orders by length.
    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.seconds < rhs.seconds }
}
