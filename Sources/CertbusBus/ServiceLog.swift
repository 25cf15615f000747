import Foundation

/// Where certbus services write their log lines: one line per event, prefixed
/// with the time, the level and the service's name. Services take a
/// `ServiceLog` instead of printing, so the command line decides where lines go
/// (standard error by default) and tests can silence or capture them.
public struct ServiceLog: Sendable {
    /// How important a line is.
    public enum Level: String, Sendable, Comparable, CaseIterable {
        case debug, info, warning, error

        private var rank: Int {
            switch self {
            case .debug: 0
            case .info: 1
            case .warning: 2
            case .error: 3
            }
        }

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
    }

    /// Receives every line at or above `minimumLevel`: level, service name, message.
    public let sink: @Sendable (Level, String, String) -> Void
    /// Lines below this level are dropped before formatting.
    public var minimumLevel: Level

    /// A log that hands lines to `sink`.
    public init(minimumLevel: Level = .info, sink: @escaping @Sendable (Level, String, String) -> Void) {
        self.minimumLevel = minimumLevel
        self.sink = sink
    }

    /// Writes `time level [service] message` lines to standard error.
    public static func standardError(minimumLevel: Level = .info) -> ServiceLog {
        ServiceLog(minimumLevel: minimumLevel) { level, service, message in
            let line = "\(PostgresTimestampText.now()) \(level.rawValue.uppercased()) [\(service)] \(message)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Drops everything (tests, benchmarks).
    public static let silent = ServiceLog(minimumLevel: .error) { _, _, _ in }

    /// Logs a line for `service` at `level`.
    public func callAsFunction(_ level: Level, _ service: String, _ message: @autoclosure () -> String) {
        guard level >= minimumLevel else { return }
        sink(level, service, message())
    }
}

/// ISO 8601 UTC time with milliseconds, for log lines.
enum PostgresTimestampText {
    static func now() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var seconds = time_t(tv.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(tv.tv_usec / 1000))
    }
}
