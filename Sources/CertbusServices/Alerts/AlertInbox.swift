import CertbusCore
import Foundation
import Postgres

/// The operator's side of alerts: list, show, mark read (one by one or in bulk). Marking read writes an
/// ALERT_READ audit row in the same transaction; it never resolves an alert (only the cause going away does).
public enum AlertInbox {
    /// Alerts matching the filter, newest first.
    public static func list(on connection: Connection, _ filter: AlertFilter = AlertFilter()) throws -> [AlertRecord] {
        guard (1...10000).contains(filter.limit) else { throw AlertError(message: "--limit must be 1 to 10000") }
        let (condition, parameters) = filter.condition
        return try connection.query(
            "SELECT \(AlertRecord.columns) FROM certbus.alerts WHERE \(condition) ORDER BY id DESC LIMIT $8",
            parameters + [filter.limit]
        ).map(AlertRecord.init(row:))
    }

    /// One alert; throws `AlertError` when there is none.
    public static func find(on connection: Connection, id: Int64) throws -> AlertRecord {
        guard let row = try connection.query("SELECT \(AlertRecord.columns) FROM certbus.alerts WHERE id = $1", [id]).firstRow
        else { throw AlertError(message: "no alert \(id)") }
        return try AlertRecord(row: row)
    }

    /// Marks the given alerts read; returns how many were unread. Throws `AlertError` naming the ids that do not
    /// exist, and then marks none.
    @discardableResult
    public static func markRead(on connection: Connection, ids: [Int64], actor: Actor) throws -> Int {
        guard !ids.isEmpty else { throw AlertError(message: "give at least one alert id, or --all") }
        let unique = Array(Set(ids)).sorted()
        return try connection.withTransaction { tx in
            let found = Set(try tx.query("SELECT id FROM certbus.alerts WHERE id = ANY($1::bigint[])", [unique])
                .map { try $0.decode("id", as: Int64.self) })
            let missing = unique.filter { !found.contains($0) }
            guard missing.isEmpty else {
                throw AlertError(message: "no alert \(missing.map(String.init).joined(separator: ", ")); nothing was marked read")
            }
            let changed = try tx.query(
                """
                UPDATE certbus.alerts SET read_at = now(), read_by = $2
                 WHERE id = ANY($1::bigint[]) AND read_at IS NULL RETURNING id
                """, [unique, actor.id]).map { try $0.decode("id", as: Int64.self) }
            for id in changed.sorted() {
                try AuditTrail.record(on: tx, action: .alertRead, entityType: .alert, entityId: String(id), actor: actor)
            }
            return changed.count
        }
    }

    /// Marks every unread alert matching the filter read (`certbus alerts read --all`); returns how many.
    /// One ALERT_READ audit row records the filter and the count.
    @discardableResult
    public static func markAllRead(on connection: Connection, _ filter: AlertFilter = AlertFilter(), actor: Actor) throws -> Int {
        var filter = filter
        filter.unreadOnly = true
        let (condition, parameters) = filter.condition
        return try connection.withTransaction { tx in
            let count = try tx.query(
                """
                WITH changed AS (UPDATE certbus.alerts SET read_at = now(), read_by = $8 WHERE \(condition) RETURNING 1)
                SELECT count(*)::int AS n FROM changed
                """, parameters + [actor.id])[0].decode("n", as: Int.self)
            if count > 0 {
                var details: [String: Any] = ["bulk": true, "count": count]
                if let severity = filter.severity { details["severity"] = severity.rawValue }
                if let type = filter.type { details["type"] = type.rawValue }
                if let entityType = filter.entityType { details["entity_type"] = entityType.rawValue }
                if filter.openOnly { details["open_only"] = true }
                try AuditTrail.record(on: tx, action: .alertRead, entityType: .alert, entityId: "bulk", actor: actor,
                                      details: details)
            }
            return count
        }
    }
}
