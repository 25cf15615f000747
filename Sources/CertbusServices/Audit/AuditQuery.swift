import CertbusCore
import Foundation
import Postgres

/// What `certbus audit list` selects. Every criterion is optional; entries come
/// newest first (by log id), at most `limit` of them.
public struct AuditFilter: Sendable, Equatable {
    public var entityType: String?
    public var entityId: String?
    public var action: String?
    /// `TYPE:id` (`USER:alice`, `AGENT:web-01`, `SYSTEM:worker`) or just an id.
    public var actor: String?
    /// Entries written at or after this time.
    public var since: Date?
    /// Entries with a log id below this one (the next page after a listing).
    public var beforeId: Int64?
    /// At most this many (1 to 10,000).
    public var limit: Int

    public init(
        entityType: String? = nil, entityId: String? = nil, action: String? = nil, actor: String? = nil,
        since: Date? = nil, beforeId: Int64? = nil, limit: Int = 50
    ) {
        self.entityType = entityType
        self.entityId = entityId
        self.action = action
        self.actor = actor
        self.since = since
        self.beforeId = beforeId
        self.limit = limit
    }

    /// The actor criterion split into type (if given) and id.
    func actorParts() throws -> (type: String?, id: String)? {
        guard let actor else { return nil }
        if let colon = actor.firstIndex(of: ":") {
            let type = actor[..<colon].uppercased()
            if Actor.Kind(rawValue: type) != nil {
                let id = String(actor[actor.index(after: colon)...])
                guard !id.isEmpty else { throw AuditError("--actor \(actor): the actor id after '\(type):' is empty") }
                return (type, id)
            }
        }
        guard !actor.isEmpty else { throw AuditError("--actor must not be empty") }
        return (nil, actor)
    }
}

/// Reading the audit log.
public enum AuditQuery {
    /// The entries matching `filter`, newest first. An unknown action or a bad
    /// limit is an `AuditError` naming the problem.
    public static func list(on connection: Connection, _ filter: AuditFilter) throws -> [AuditEntry] {
        guard (1...10_000).contains(filter.limit) else {
            throw AuditError("--limit must be between 1 and 10000, not \(filter.limit)")
        }
        var conditions: [String] = []
        var parameters: [any PostgresEncodable] = []
        func add(_ condition: String, _ value: any PostgresEncodable) {
            parameters.append(value)
            conditions.append(condition.replacingOccurrences(of: "$?", with: "$\(parameters.count)"))
        }
        if let action = filter.action {
            let known = try connection.query("SELECT 1 FROM certbus.audit_actions WHERE action = $1", [action])
            guard !known.isEmpty else {
                let close = try connection.query(
                    "SELECT action FROM certbus.audit_actions WHERE action LIKE $1 ORDER BY action LIMIT 5",
                    ["%" + (action.split(separator: "_").first.map(String.init) ?? action).uppercased() + "%"]
                ).map { try $0.decode("action", as: String.self) }
                throw AuditError(
                    "unknown audit action '\(action)'"
                        + (close.isEmpty ? " (see docs/audit.md for the vocabulary)" : "; did you mean \(close.joined(separator: ", "))?"))
            }
            add("action = $?", action)
        }
        if let entityType = filter.entityType { add("entity_type = $?", entityType) }
        if let entityId = filter.entityId { add("entity_id = $?", entityId) }
        if let (type, id) = try filter.actorParts() {
            add("actor_id = $?", id)
            if let type { add("actor_type = $?", type) }
        }
        if let since = filter.since { add("occurred_at >= $?::timestamptz", since) }
        if let beforeId = filter.beforeId { add("id < $?", beforeId) }
        parameters.append(filter.limit)
        let sql = """
            SELECT \(AuditRow.selectList) FROM certbus.audit_log
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY id DESC LIMIT $\(parameters.count)
            """
        return try connection.query(sql, parameters).map { try AuditEntry(AuditRow(row: $0)) }
    }

    /// The entry with log id `id` and its context, or nil when there is none.
    public static func show(on connection: Connection, id: Int64) throws -> AuditEntryDetail? {
        guard let first = try connection.query(
            "SELECT \(AuditRow.selectList) FROM certbus.audit_log WHERE id = $1", [id]
        ).firstRow else { return nil }
        let entry = try AuditEntry(AuditRow(row: first))
        let description = try connection.query(
            "SELECT description FROM certbus.audit_actions WHERE action = $1", [entry.action.rawValue]
        ).firstRow?.decode("description", as: String.self) ?? ""
        let related = try connection.query(
            "SELECT count(*) AS n FROM certbus.audit_log WHERE entity_id = $1 AND entity_type = $2",
            [entry.entityId, entry.entityType])[0].decode("n", as: Int64.self)
        var checkpoint: AuditCheckpoint?
        if let position = entry.chainPosition {
            checkpoint = try connection.query(
                """
                SELECT \(AuditCheckpoint.selectList) FROM certbus.audit_checkpoints
                 WHERE chain_position >= $1 ORDER BY chain_position, id LIMIT 1
                """, [position]).first.map { try AuditCheckpoint(row: $0) }
        }
        return AuditEntryDetail(
            entry: entry, actionDescription: description, entityEntryCount: related, coveringCheckpoint: checkpoint)
    }
}
