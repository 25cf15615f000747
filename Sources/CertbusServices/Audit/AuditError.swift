import Postgres

/// An audit operation that failed: bad input to `AuditTrail.record`, a row the
/// database refused, a missing row, or an I/O problem with keys and checkpoint files.
public struct AuditError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in words an operator can act on.
    public var message: String
    /// The PostgreSQL error behind it, if any.
    public var underlying: PostgresError?

    public init(_ message: String, underlying: PostgresError? = nil) {
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        guard let underlying else { return message }
        return message + ": " + underlying.message
    }
}
