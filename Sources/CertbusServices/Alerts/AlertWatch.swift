import CertbusCore
import Foundation
import Postgres

/// A live view of alerts, refreshed by `NOTIFY certbus_alerts` instead of a manual refresh.
///
/// `start()` LISTENs first and then reads the current alerts, so nothing raised in between is missed;
/// `next(timeout:)` waits for notifications and returns what changed: alerts raised, read or resolved.
/// After a lost connection, reconnect the connection and call `start()` again (it re-reads the state).
public final class AlertWatch {
    /// A change seen by the watch.
    public enum Change: Sendable, Equatable {
        case raised(AlertRecord)
        case read(AlertRecord)
        case resolved(AlertRecord)

        /// The alert as it is now.
        public var alert: AlertRecord {
            switch self {
            case .raised(let a), .read(let a), .resolved(let a): return a
            }
        }
    }

    let connection: Connection
    /// Which alerts are shown.
    public let filter: AlertFilter
    private var known: [Int64: AlertRecord] = [:]

    /// A watch over alerts matching `filter` (its `limit` bounds the initial listing).
    public init(connection: Connection, filter: AlertFilter = AlertFilter()) {
        self.connection = connection
        self.filter = filter
    }

    /// Starts listening and returns the alerts matching the filter now, newest first.
    public func start() throws -> [AlertRecord] {
        try connection.listen(Alerts.channel)
        let current = try AlertInbox.list(on: connection, filter)
        known = Dictionary(current.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return current
    }

    /// Waits up to `timeout` seconds (or until `wakeDescriptor` is readable) for alert notifications and returns the
    /// changes to alerts matching the filter, oldest first. Empty when nothing relevant happened.
    public func next(timeout: Double, wakeDescriptor: Int32? = nil) throws -> [Change] {
        let notifications = try connection.waitForNotifications(timeout: timeout, wakeDescriptor: wakeDescriptor)
        let ids = Set(notifications.filter { $0.channel == Alerts.channel }.compactMap { Int64($0.payload) })
        guard !ids.isEmpty else { return [] }
        var single = filter
        single.limit = 10000
        let (condition, parameters) = single.condition
        let rows = try connection.query(
            "SELECT \(AlertRecord.columns) FROM certbus.alerts WHERE id = ANY($8::bigint[]) AND \(condition) ORDER BY id",
            parameters + [Array(ids)]
        ).map(AlertRecord.init(row:))
        var changes: [Change] = []
        for alert in rows {
            let before = known[alert.id]
            known[alert.id] = alert
            if before == nil {
                changes.append(.raised(alert))
            } else if before?.resolvedAt == nil, alert.resolvedAt != nil {
                changes.append(.resolved(alert))
            } else if before?.readAt == nil, alert.readAt != nil {
                changes.append(.read(alert))
            }
        }
        return changes
    }
}
