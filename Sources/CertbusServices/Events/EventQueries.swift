import CertbusCore
import Foundation
import Postgres

/// Filters for `certbus events list`.
public struct EventFilter: Sendable {
    public var type: EventType?
    public var resource: EventResource?
    public var resourceId: String?
    /// Only PENDING (true) or only DISPATCHED (false) events.
    public var pending: Bool?
    public var since: Date?
    /// At most this many, newest first (1...10000).
    public var limit: Int

    public init(type: EventType? = nil, resource: EventResource? = nil, resourceId: String? = nil, pending: Bool? = nil,
                since: Date? = nil, limit: Int = 50) {
        self.type = type
        self.resource = resource
        self.resourceId = resourceId
        self.pending = pending
        self.since = since
        self.limit = limit
    }
}

/// A trigger run as shown by `certbus events show`.
public struct TriggerRunRecord: Sendable, Equatable {
    public var id: Int64
    public var eventId: Int64
    public var triggerId: UUID
    public var triggerName: String
    public var status: String
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var resultJSON: String
    public var error: String?
    public var updatedAt: Date
}

/// Read-only queries over events and trigger runs.
public enum EventQueries {
    /// Events matching the filter, newest first.
    public static func list(on connection: Connection, _ filter: EventFilter) throws -> [EventRecord] {
        guard (1...10000).contains(filter.limit) else { throw EventQueryError("--limit must be 1 to 10000") }
        return try connection.query(
            """
            SELECT \(EventRecord.columns) FROM certbus.events
             WHERE ($1::text IS NULL OR event_type = $1)
               AND ($2::text IS NULL OR resource = $2)
               AND ($3::text IS NULL OR resource_id = $3)
               AND ($4::boolean IS NULL OR (dispatch_state = 'PENDING') = $4)
               AND ($5::timestamptz IS NULL OR created_at >= $5)
             ORDER BY id DESC LIMIT $6
            """,
            [filter.type?.rawValue, filter.resource?.rawValue, filter.resourceId, filter.pending, filter.since, filter.limit]
        ).map(EventRecord.init(row:))
    }

    /// One event; throws `EventQueryError` when there is none.
    public static func find(on connection: Connection, id: Int64) throws -> EventRecord {
        guard let row = try connection.query("SELECT \(EventRecord.columns) FROM certbus.events WHERE id = $1", [id]).firstRow
        else { throw EventQueryError("no event \(id)") }
        return try EventRecord(row: row)
    }

    /// The trigger runs of an event, in run order.
    public static func runs(on connection: Connection, eventId: Int64) throws -> [TriggerRunRecord] {
        try connection.query(
            """
            SELECT r.id, r.event_id, r.trigger_id, t.name, r.status, r.attempts, r.next_attempt_at, r.result::text AS result,
                   r.error, r.updated_at
              FROM certbus.event_trigger_runs r JOIN certbus.event_triggers t ON t.id = r.trigger_id
             WHERE r.event_id = $1 ORDER BY r.id
            """, [eventId]
        ).map { row in
            TriggerRunRecord(
                id: try row.decode("id"), eventId: try row.decode("event_id"), triggerId: try row.decode("trigger_id"),
                triggerName: try row.decode("name"), status: try row.decode("status"), attempts: try row.decode("attempts"),
                nextAttemptAt: try row.decode("next_attempt_at"), resultJSON: try row.decode("result"),
                error: try row.decode("error"), updatedAt: try row.decode("updated_at"))
        }
    }
}
