import Foundation

/// Exact conversion between PostgreSQL's text form of `timestamptz` and whole
/// microseconds since 1970-01-01T00:00:00Z, the form the hash chain uses.
///
/// No floating point is involved, so a value read back from the database
/// always gives the same integer the sealer hashed.
public enum AuditTimestamp {
    /// Parses `YYYY-MM-DD HH:MM:SS[.f{1,6}](+|-)HH[:MM[:SS]]` (ISO DateStyle, any
    /// time zone offset; `T` accepted in place of the space) into microseconds
    /// since the Unix epoch. Throws on anything else, including `infinity`.
    public static func microseconds(fromPostgresText text: String) throws -> Int64 {
        let b = Array(text.utf8)
        func fail() -> AuditError { AuditError("not a PostgreSQL timestamp with time zone: '\(text)'") }
        func digits(_ from: Int, _ count: Int) throws -> Int64 {
            guard from + count <= b.count else { throw fail() }
            var value: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { throw fail() }
                value = value * 10 + Int64(b[i] - 48)
            }
            return value
        }
        guard b.count >= 22, b[4] == 45, b[7] == 45, b[10] == 32 || b[10] == 84, b[13] == 58, b[16] == 58 else {
            throw fail()
        }
        let year = try digits(0, 4), month = try digits(5, 2), day = try digits(8, 2)
        let hour = try digits(11, 2), minute = try digits(14, 2), second = try digits(17, 2)
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { throw fail() }
        var i = 19
        var fraction: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                guard count < 6 else { throw fail() }
                fraction = fraction * 10 + Int64(b[i] - 48)
                count += 1
                i += 1
            }
            guard count > 0 else { throw fail() }
            for _ in count..<6 { fraction *= 10 }
        }
        guard i < b.count, b[i] == 43 || b[i] == 45 else { throw fail() }
        let sign: Int64 = b[i] == 43 ? 1 : -1
        var offset = try digits(i + 1, 2) * 3600
        i += 3
        if i < b.count {
            guard b[i] == 58 else { throw fail() }
            offset += try digits(i + 1, 2) * 60
            i += 3
            if i < b.count {
                guard b[i] == 58 else { throw fail() }
                offset += try digits(i + 1, 2)
                i += 3
            }
        }
        guard i == b.count else { throw fail() }
        let seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - sign * offset
        return seconds * 1_000_000 + fraction
    }

    /// The UTC text `YYYY-MM-DD HH:MM:SS.ffffff+00` of a microsecond timestamp,
    /// which PostgreSQL reads back to exactly the same value.
    public static func postgresText(microseconds: Int64) -> String {
        var seconds = microseconds / 1_000_000
        var micros = microseconds % 1_000_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (y, m, d) = civilFromDays(days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2)) \(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay % 3600 / 60, 2))"
            + ":\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))+00"
    }

    /// The ISO 8601 form `YYYY-MM-DDTHH:MM:SS.ffffffZ` for people and JSON output.
    public static func iso8601(microseconds: Int64) -> String {
        let text = postgresText(microseconds: microseconds)
        return text.prefix(10) + "T" + text.dropFirst(11).dropLast(3) + "Z"
    }

    /// The `Date` of a microsecond timestamp (for display; not exact).
    public static func date(microseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}
