import CertbusCore
import Foundation
import Postgres

/// Raises and resolves alerts through `certbus.raise_alert` / `certbus.resolve_alerts`, on the caller's
/// connection (inside the caller's transaction). At most one alert is open per cause key, so callers may
/// raise the same cause as often as they like.
///
/// Cause-key conventions (prefix-resolvable, so end each part with `:`-separated ids):
/// `expiry:<certificate id>:<step>`, `renewal-failed:<certificate id>`, `job:<job id>`,
/// `agent-offline:<agent id>`, `deployment:<endpoint id>`.
public enum Alerts {
    /// The channel notified (payload: the alert id) when an alert is raised, read or resolved.
    public static let channel = "certbus_alerts"

    /// Raises an alert unless one is open for `causeKey`; returns the id of the new or existing open alert.
    /// Throws `AlertError` before touching the database for an empty title or cause key, or a type whose
    /// severity is fixed (ERROR and WARN types carry their own severity).
    @discardableResult
    public static func raise(
        on connection: Connection, type: AlertType, severity: AlertSeverity, title: String, message: String,
        entity: AlertEntityType, entityId: String, causeKey: String
    ) throws -> Int64 {
        guard !causeKey.isEmpty else { throw AlertError(message: "an alert needs a cause key") }
        guard !title.isEmpty else { throw AlertError(message: "an alert needs a title") }
        guard !entityId.isEmpty else { throw AlertError(message: "an alert needs an entity id") }
        if type != .expiringSoon, type.rawValue != severity.rawValue {
            throw AlertError(message: "\(type) alerts have severity \(type.rawValue), not \(severity)")
        }
        let rows = try connection.query(
            "SELECT certbus.raise_alert($1, $2, $3, $4, $5, $6, $7) AS id",
            [type.rawValue, severity.rawValue, title, message, entity.rawValue, entityId, causeKey])
        return try rows[0].decode("id", as: Int64.self)
    }

    /// Resolves every open alert whose cause key starts with `causeKeyPrefix`; returns how many.
    /// `resolution` says why (shown in history), e.g. "valid successor issued".
    @discardableResult
    public static func resolve(on connection: Connection, causeKeyPrefix: String, resolution: String? = nil) throws -> Int {
        guard !causeKeyPrefix.isEmpty else { throw AlertError(message: "resolving alerts needs a non-empty cause key prefix") }
        let rows = try connection.query(
            "SELECT certbus.resolve_alerts($1, $2) AS n", [causeKeyPrefix, resolution])
        return try rows[0].decode("n", as: Int.self)
    }
}

/// An alert operation refused before anything changed.
public struct AlertError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
