import CertbusCore
import Foundation
import Postgres

/// A live view of alerts, refreshed by `NOTIFY certbus_alerts` instead of a manual refresh.
///
/// `start()` LISTENs first and then reads the current alerts, so nothing raised in between is missed;
/// `next(timeout:)` waits for notifications and returns what changed: alerts raised, read or resolved.
/// After a lost connection, reconnect the connection and call `resume()`: it LISTENs again and
/// returns what changed meanwhile.
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

    /// After a reconnect: LISTENs again, reads the alerts matching the filter and returns what
    /// changed since the last look (alerts raised, read or resolved while the connection was down),
    /// oldest first.
    public func resume() throws -> [Change] {
        try connection.listen(Alerts.channel)
        let current = try AlertInbox.list(on: connection, filter)
        var changes: [Change] = []
        for alert in current.sorted(by: { $0.id < $1.id }) {
            if let change = classify(alert) { changes.append(change) }
        }
        return changes
    }

    /// Records `alert` as seen and says how it changed since it was last seen (nil: it did not).
    private func classify(_ alert: AlertRecord) -> Change? {
        let before = known[alert.id]
        known[alert.id] = alert
        if before == nil { return .raised(alert) }
        if before?.resolvedAt == nil, alert.resolvedAt != nil { return .resolved(alert) }
        if before?.readAt == nil, alert.readAt != nil { return .read(alert) }
        return nil
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
        return rows.compactMap(classify)
    }
}
