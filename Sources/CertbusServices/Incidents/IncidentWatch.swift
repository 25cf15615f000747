import Foundation
import Postgres

/// Follows one incident live: LISTENs on `certbus_incidents` and re-reads the incident when a
/// notification names it (or when `next` times out, in case one was missed).
public final class IncidentWatch {
    let connection: Connection
    /// The incident watched.
    public let incidentId: Int64

    public init(connection: Connection, incidentId: Int64) {
        self.connection = connection
        self.incidentId = incidentId
    }

    /// Starts listening, then reads the incident (so nothing in between is missed); throws
    /// ``IncidentNotFound`` for an unknown incident.
    public func start() throws -> IncidentRecord {
        try connection.listen(Incidents.channel)
        guard let incident = try Incidents.find(id: incidentId, on: connection) else { throw IncidentNotFound(incidentId) }
        return incident
    }

    /// Waits up to `timeout` seconds for a change of the incident and returns it as it is then
    /// (also after a timeout without notification).
    public func next(timeout: Double, wakeDescriptor: Int32? = nil) throws -> IncidentRecord {
        _ = try connection.waitForNotifications(timeout: timeout, wakeDescriptor: wakeDescriptor)
        guard let incident = try Incidents.find(id: incidentId, on: connection) else { throw IncidentNotFound(incidentId) }
        return incident
    }
}
