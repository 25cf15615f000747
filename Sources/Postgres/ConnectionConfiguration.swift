import Foundation

/// How to reach a PostgreSQL server: a libpq connection string (URL
/// `postgresql://user@host/db?...` or keyword form `host=... dbname=...`)
/// plus the `application_name` that identifies the certbus service in
/// `pg_stat_activity`.
public struct ConnectionConfiguration: Sendable, Equatable {
    /// The libpq connection string, URL or keyword form.
    public var connectionString: String
    /// Shown in `pg_stat_activity.application_name`, e.g. `certbus-worker`.
    public var applicationName: String
    /// Seconds to wait for a connection to be established.
    public var connectTimeout: Int
    /// Whether sessions keep data statements (SELECT, INSERT, UPDATE, DELETE, WITH) prepared
    /// after their first use, so repeated ones are not parsed and planned again. Turn it off
    /// behind a pooler that cannot carry named statements (PgBouncer in transaction mode
    /// without `max_prepared_statements`). Default: on, unless the environment variable
    /// `CERTBUS_PREPARED_STATEMENTS` is `off`.
    public var preparesStatements: Bool

    /// The environment variable that turns prepared statements off (`off`).
    public static let preparedStatementsVariable = "CERTBUS_PREPARED_STATEMENTS"

    public init(
        _ connectionString: String, applicationName: String = "certbus", connectTimeout: Int = 10,
        preparesStatements: Bool? = nil
    ) {
        self.connectionString = connectionString
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.preparesStatements = preparesStatements
            ?? ((try? Self.preparesStatements(environment: ProcessInfo.processInfo.environment)) ?? true)
    }

    /// What `CERTBUS_PREPARED_STATEMENTS` in `environment` asks for: true when unset, empty, `on`,
    /// `true`, `yes` or `1`; false for `off`, `false`, `no` or `0` (any case). Throws for anything
    /// else, so a typo is reported instead of silently ignored (the initializer treats it as on;
    /// programs check it at start-up with this function).
    public static func preparesStatements(environment: [String: String]) throws -> Bool {
        let value = (environment[preparedStatementsVariable] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        switch value {
        case "", "on", "true", "yes", "1": return true
        case "off", "false", "no", "0": return false
        default:
            throw ConnectionConfigurationError(
                "\(preparedStatementsVariable) must be on or off (it is \"\(environment[preparedStatementsVariable] ?? "")\")")
        }
    }

    /// The same configuration with another `application_name`.
    public func with(applicationName: String) -> ConnectionConfiguration {
        var copy = self
        copy.applicationName = applicationName
        return copy
    }

    /// The connection string with any password replaced by `***`, safe to print.
    public var redacted: String { Self.redact(connectionString) }

    /// Replaces the password of a URL (`user:secret@`) or keyword string (`password=secret`) with `***`.
    public static func redact(_ text: String) -> String {
        var result = text
        // URL form: scheme://user:password@host
        if let schemeEnd = result.range(of: "://") {
            let rest = result[schemeEnd.upperBound...]
            if let at = rest.firstIndex(of: "@") {
                let userInfo = rest[..<at]
                if let colon = userInfo.firstIndex(of: ":") {
                    result.replaceSubrange(result.index(after: colon)..<at, with: "***")
                }
            }
        }
        // Query or keyword form: password=secret
        var out = ""
        var remaining = result[...]
        while let range = remaining.range(of: "password=") {
            out += remaining[..<range.upperBound]
            remaining = remaining[range.upperBound...]
            let end = remaining.firstIndex(where: { $0 == " " || $0 == "&" }) ?? remaining.endIndex
            out += "***"
            remaining = remaining[end...]
        }
        out += remaining
        return out
    }
}

/// A connection setting that cannot be used; the message says which and why.
public struct ConnectionConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
