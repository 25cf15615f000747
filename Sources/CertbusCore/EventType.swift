/// The lifecycle events of the seed's table (events.txt). Stored as text in `certbus.events.event_type`.
public enum EventType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// A certificate's validation status changed (VALID, EXPIRING, EXPIRED, REVOKED).
    case certificateStatusChanged = "CERTIFICATE_STATUS_CHANGED"
    /// An operation on a certificate completed: issue, renew, rekey, revoke — with success or failure.
    case certificateActionPerformed = "CERTIFICATE_ACTION_PERFORMED"
    /// Monitoring: a certificate is inside its profile's threshold and has no valid replacement.
    case certificateExpiring = "CERTIFICATE_EXPIRING"
    /// Discovery found a certificate certbus did not know.
    case certificateDiscovered = "CERTIFICATE_DISCOVERED"
    /// A discovery run finished.
    case discoveryFinished = "DISCOVERY_FINISHED"
    /// An approval was requested.
    case approvalRequested = "APPROVAL_REQUESTED"
    /// An approval was closed (approved, rejected, expired).
    case approvalClosed = "APPROVAL_CLOSED"
    /// A scheduled (periodic) task finished, with its outcome.
    case scheduledJobFinished = "SCHEDULED_JOB_FINISHED"
    /// An incident was opened or re-run (`certbus incident renew`).
    case incidentOpened = "INCIDENT_OPENED"
    /// Every certificate of an incident is done or failed.
    case incidentFinished = "INCIDENT_FINISHED"

    /// The kind of object this event type is about (fixed per type, enforced by the table).
    public var resource: EventResource {
        switch self {
        case .certificateStatusChanged, .certificateActionPerformed, .certificateExpiring, .certificateDiscovered:
            return .certificate
        case .discoveryFinished: return .discovery
        case .approvalRequested, .approvalClosed: return .approval
        case .scheduledJobFinished: return .scheduledJob
        case .incidentOpened, .incidentFinished: return .incident
        }
    }

    /// True for monitoring events (emitted by a periodic scan rather than by a change).
    public var isMonitoring: Bool { self == .certificateExpiring }

    /// True when RA-profile and group triggers may override platform triggers for this type
    /// (the seed's "Overridden by RA profile, Group" column).
    public var isOverridable: Bool { resource == .certificate && self != .certificateDiscovered }

    public var description: String { rawValue }
}

/// The kind of object an event is about.
public enum EventResource: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case certificate = "CERTIFICATE"
    case discovery = "DISCOVERY"
    case approval = "APPROVAL"
    case scheduledJob = "SCHEDULED_JOB"
    case incident = "INCIDENT"

    public var description: String { rawValue }
}
