import Foundation

extension Date: ArgumentValue {
    /// An ISO 8601 date (`2025-01-31`, taken as midnight UTC) or date and time
    /// (`2025-01-31T12:00:00Z`, `2025-01-31T12:00:00.250+02:00`; a space may replace the `T`).
    /// Impossible dates such as `2025-02-30` are refused.
    public static func parse(argument word: String) throws -> Date {
        guard let date = ISODate.parse(word) else {
            throw ArgumentValueError(expected: "an ISO 8601 date like 2025-01-31 or 2025-01-31T12:00:00Z")
        }
        return date
    }
    /// "date".
    public static var valueName: String { "date" }
    /// The date in ISO 8601 (UTC).
    public var argumentDescription: String { ISODate.format(self) }
}

/// Strict ISO 8601 parsing and formatting in UTC.
public enum ISODate {
    /// Parses `YYYY-MM-DD` or `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]](Z|±HH:MM|±HHMM)`; nil if invalid.
    public static func parse(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        var index = 0
        func number(_ count: Int) -> Int? {
            guard index + count <= chars.count else { return nil }
            var value = 0
            for byte in chars[index..<index + count] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += count
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard index < chars.count, chars[index] == byte else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")),
            let day = number(2)
        else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        var offsetSeconds = 0
        if index < chars.count {
            guard expect(UInt8(ascii: "T")) || expect(UInt8(ascii: " ")) || expect(UInt8(ascii: "t")),
                let h = number(2), expect(UInt8(ascii: ":")), let m = number(2)
            else { return nil }
            hour = h
            minute = m
            if expect(UInt8(ascii: ":")) {
                guard let s = number(2) else { return nil }
                second = s
                if expect(UInt8(ascii: ".")) {
                    var digits = 0
                    var scale = 0.1
                    while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                        fraction += Double(chars[index] - 48) * scale
                        scale /= 10
                        digits += 1
                        index += 1
                    }
                    guard digits > 0 else { return nil }
                }
            }
            if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) {
                offsetSeconds = 0
            } else {
                let sign: Int
                if expect(UInt8(ascii: "+")) { sign = 1 } else if expect(UInt8(ascii: "-")) { sign = -1 } else { return nil }
                guard let offsetHours = number(2) else { return nil }
                _ = expect(UInt8(ascii: ":"))
                guard let offsetMinutes = number(2), offsetHours <= 23, offsetMinutes <= 59 else { return nil }
                offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
            }
        }
        guard index == chars.count, (1...12).contains(month), (1...31).contains(day), hour <= 23, minute <= 59,
            second <= 59
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let date = calendar.date(from: components) else { return nil }
        // Refuse dates the calendar rolled over (2025-02-30 → March 2).
        let check = calendar.dateComponents([.year, .month, .day], from: date)
        guard check.year == year, check.month == month, check.day == day else { return nil }
        return date.addingTimeInterval(fraction - Double(offsetSeconds))
    }

    /// `2025-01-31T12:00:00Z` (whole seconds, UTC).
    public static func format(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0,
            c.second ?? 0)
    }
}
