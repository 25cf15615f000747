import CertbusCore
import Foundation
import Postgres

/// One row of `certbus.alerts`.
public struct AlertRecord: Sendable, Equatable, Encodable {
    public var id: Int64
    public var type: AlertType
    public var severity: AlertSeverity
    public var title: String
    public var message: String
    public var entityType: String
    public var entityId: String
    public var causeKey: String
    public var createdAt: Date
    public var readAt: Date?
    public var readBy: String?
    public var resolvedAt: Date?
    public var resolution: String?

    /// True until an operator marks it read.
    public var isUnread: Bool { readAt == nil }
    /// True while its cause is still there.
    public var isOpen: Bool { resolvedAt == nil }

    enum CodingKeys: String, CodingKey {
        case id, type, severity, title, message, entityType = "entity_type", entityId = "entity_id"
        case causeKey = "cause_key", createdAt = "created_at", readAt = "read_at", readBy = "read_by"
        case resolvedAt = "resolved_at", resolution
    }

    static let columns = """
        id, alert_type, severity, title, message, entity_type, entity_id, cause_key, created_at, read_at, read_by,
        resolved_at, resolution
        """

    init(row: Row) throws {
        id = try row.decode("id")
        let typeText: String = try row.decode("alert_type")
        let severityText: String = try row.decode("severity")
        guard let type = AlertType(rawValue: typeText), let severity = AlertSeverity(rawValue: severityText) else {
            throw AlertError(message: "alert has unknown type \(typeText) or severity \(severityText)")
        }
        self.type = type
        self.severity = severity
        title = try row.decode("title")
        message = try row.decode("message")
        entityType = try row.decode("entity_type")
        entityId = try row.decode("entity_id")
        causeKey = try row.decode("cause_key")
        createdAt = try row.decode("created_at")
        readAt = try row.decode("read_at")
        readBy = try row.decode("read_by")
        resolvedAt = try row.decode("resolved_at")
        resolution = try row.decode("resolution")
    }
}

/// Which alerts a listing, a bulk read or a watch covers.
public struct AlertFilter: Sendable, Equatable {
    public var severity: AlertSeverity?
    public var type: AlertType?
    /// Only alerts not yet marked read.
    public var unreadOnly: Bool
    /// Only alerts whose cause is still there.
    public var openOnly: Bool
    public var entityType: AlertEntityType?
    public var entityId: String?
    public var since: Date?
    /// At most this many, newest first (1...10000).
    public var limit: Int

    public init(severity: AlertSeverity? = nil, type: AlertType? = nil, unreadOnly: Bool = false, openOnly: Bool = false,
                entityType: AlertEntityType? = nil, entityId: String? = nil, since: Date? = nil, limit: Int = 100) {
        self.severity = severity
        self.type = type
        self.unreadOnly = unreadOnly
        self.openOnly = openOnly
        self.entityType = entityType
        self.entityId = entityId
        self.since = since
        self.limit = limit
    }

    /// The WHERE clause over `certbus.alerts` using parameters $1...$7, and those parameters.
    var condition: (sql: String, parameters: [any PostgresEncodable]) {
        ("""
         ($1::text IS NULL OR severity = $1) AND ($2::text IS NULL OR alert_type = $2)
         AND (NOT $3 OR read_at IS NULL) AND (NOT $4 OR resolved_at IS NULL)
         AND ($5::text IS NULL OR entity_type = $5) AND ($6::text IS NULL OR entity_id = $6)
         AND ($7::timestamptz IS NULL OR created_at >= $7)
         """,
         [severity?.rawValue, type?.rawValue, unreadOnly, openOnly, entityType?.rawValue, entityId, since])
    }
}
