import Postgres

/// A refused endpoint operation. Nothing changed when it is thrown.
public struct EndpointError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of refusal.
    public enum Kind: String, Sendable, Equatable {
        /// A value given by the operator is malformed or inconsistent.
        case invalidInput
        /// The endpoint, agent or certificate named does not exist.
        case notFound
        /// An endpoint with that name exists already.
        case duplicate
        /// The automation status move is not allowed by the state machine.
        case illegalTransition
    }

    public var kind: Kind
    /// The whole message, naming the offending value.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Maps the database's refusals of endpoint operations onto endpoint errors; other errors pass through.
    static func translating(_ error: any Error) -> any Error {
        guard let pg = error as? PostgresError else { return error }
        if pg.constraint == "automation_status_transition" { return EndpointError(.illegalTransition, pg.message) }
        if pg.sqlState == "P0002" { return EndpointError(.notFound, pg.message) }
        if pg.isUniqueViolation, pg.constraint == "endpoints_name_key" {
            return EndpointError(.duplicate, "an endpoint with this name exists already")
        }
        return error
    }
}
