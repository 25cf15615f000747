/// An error from PostgreSQL or from the client itself, carrying what a caller
/// needs to react to it: the SQLSTATE, the server's message, detail and hint,
/// the constraint that was violated, and the query that failed.
///
/// Parameter values are never included: they may hold secrets.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// Where the error came from.
    public enum Kind: String, Sendable {
        /// Could not connect, or the connection broke.
        case connection
        /// The server rejected a statement (see `sqlState`).
        case server
        /// A value in a result did not fit the Swift type asked for.
        case decoding
        /// The pool had no free connection within its wait timeout.
        case poolTimeout
        /// The connection or pool was already closed.
        case closed
        /// Something the client did not expect from the server.
        case protocolViolation
    }

    public var kind: Kind
    /// The five-character SQLSTATE, e.g. `23505` for a unique violation.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    /// The SQL text that failed (never its parameter values).
    public var query: String?

    public init(
        kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil, query: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.query = query
    }

    /// True for SQLSTATE 23505 (unique_violation).
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// True for SQLSTATE 23503 (foreign_key_violation).
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    /// True for SQLSTATE 23514 (check_violation).
    public var isCheckViolation: Bool { sqlState == "23514" }
    /// True for errors raised by certbus's own SQL functions with `RAISE ... USING ERRCODE = 'P0001'`
    /// or any `22xxx` data exception: the input was refused.
    public var isDataException: Bool { sqlState?.hasPrefix("22") == true || sqlState == "P0001" }
    /// True when retrying the whole transaction may succeed (40001 serialization failure, 40P01 deadlock).
    public var isTransient: Bool { sqlState == "40001" || sqlState == "40P01" }
    /// True when the connection is unusable (server restart, terminated backend, network).
    public var isConnectionLost: Bool {
        kind == .connection || kind == .closed || sqlState == "57P01" || sqlState == "57P02"
            || sqlState == "57P03" || sqlState?.hasPrefix("08") == true
    }

    public var description: String {
        var text: String
        switch kind {
        case .server:
            text = "PostgreSQL error \(sqlState ?? "?????"): \(message)"
        case .connection:
            text = "PostgreSQL connection error: \(message)"
        case .decoding:
            text = "PostgreSQL decoding error: \(message)"
        case .poolTimeout:
            text = "PostgreSQL pool timeout: \(message)"
        case .closed:
            text = "PostgreSQL connection closed: \(message)"
        case .protocolViolation:
            text = "PostgreSQL protocol error: \(message)"
        }
        if let detail, !detail.isEmpty { text += "\n  detail: \(detail)" }
        if let hint, !hint.isEmpty { text += "\n  hint: \(hint)" }
        if let constraint { text += "\n  constraint: \(constraint)" }
        if let query { text += "\n  query: \(Self.abbreviate(query))" }
        return text
    }

    static func abbreviate(_ query: String) -> String {
        let oneLine = query.split(whereSeparator: \.isNewline).map { $0.trimmingCharactersInSet() }.joined(separator: " ")
        return oneLine.count > 300 ? String(oneLine.prefix(300)) + "…" : oneLine
    }
}

extension Substring {
    fileprivate func trimmingCharactersInSet() -> String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
