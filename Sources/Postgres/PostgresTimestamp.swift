import Foundation

/// Conversion between `Date` and PostgreSQL's ISO text format for `timestamptz`.
/// Sessions opened by this module always use `TimeZone=UTC` and `DateStyle=ISO`,
/// but offsets other than `+00` are parsed correctly too.
public enum PostgresTimestamp {
    /// Formats a date as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microsecond precision, UTC).
    public static func format(_ date: Date) -> String {
        if date == .distantFuture { return "infinity" }
        if date == .distantPast { return "-infinity" }
        let totalMicros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        var seconds = Int64((totalMicros / 1_000_000).rounded(.down))
        let micros = Int64(totalMicros) - seconds * 1_000_000
        var days = seconds / 86_400
        seconds -= days * 86_400
        if seconds < 0 { seconds += 86_400; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        let hh = seconds / 3600, mm = (seconds % 3600) / 60, ss = seconds % 60
        return String(format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%06lldZ", y, m, d, hh, mm, ss, micros)
    }

    /// Parses `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][+HH[:MM[:SS]]]`, a bare date `YYYY-MM-DD`, or `±infinity`.
    public static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                let c = b[i]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            return v
        }
        guard b.count >= 10, let year = num(0, 4), b[4] == 45, let month = num(5, 2), b[7] == 45, let day = num(8, 2)
        else { return nil }
        var seconds = days(fromCivil: year, month, day) * 86_400
        if b.count == 10 { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
        guard b.count >= 19, b[10] == 32 || b[10] == 84, let hh = num(11, 2), b[13] == 58, let mi = num(14, 2),
            b[16] == 58, let ss = num(17, 2)
        else { return nil }
        seconds += hh * 3600 + mi * 60 + ss
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        if i < b.count {
            let sign: Int64
            switch b[i] {
            case 43: sign = 1
            case 45: sign = -1
            case 90: return Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)  // 'Z'
            default: return nil
            }
            i += 1
            guard let oh = num(i, 2) else { return nil }
            var offset = oh * 3600
            i += 2
            if i < b.count, b[i] == 58, let om = num(i + 1, 2) {
                offset += om * 60
                i += 3
                if i < b.count, b[i] == 58, let os = num(i + 1, 2) { offset += os; i += 3 }
            }
            seconds -= sign * offset
        }
        return Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)
    }

    // Howard Hinnant's days-from-civil algorithms.
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
