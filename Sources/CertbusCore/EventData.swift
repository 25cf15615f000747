import Foundation

/// A typed event payload (the seed's `...EventData`). Encoded with snake_case keys into
/// `certbus.events.payload`; optional fields that are nil are left out.
public protocol EventData: Encodable, Sendable {
    /// The event type this payload belongs to.
    static var eventType: EventType { get }
    /// The id written to `events.resource_id`.
    var resourceId: String { get }
}

/// The action of a CERTIFICATE_ACTION_PERFORMED event.
public enum CertificateAction: String, Sendable, Codable, CaseIterable {
    case issue = "ISSUE"
    case renew = "RENEW"
    case rekey = "REKEY"
    case revoke = "REVOKE"
}

/// Whether an action or run succeeded.
public enum EventOutcome: String, Sendable, Codable, CaseIterable {
    case success = "SUCCESS"
    case failure = "FAILURE"
}

/// CERTIFICATE_STATUS_CHANGED.
public struct CertificateStatusChangedEventData: EventData, Equatable {
    public static let eventType = EventType.certificateStatusChanged
    public var certificateId: UUID
    public var commonName: String?
    public var serialNumber: String?
    public var fingerprintSha256: String?
    public var profileId: UUID?
    public var groupId: UUID?
    public var notAfter: Date?
    public var oldStatus: String
    public var newStatus: String
    public var resourceId: String { certificateId.uuidString.lowercased() }

    public init(certificateId: UUID, commonName: String? = nil, serialNumber: String? = nil,
                fingerprintSha256: String? = nil, profileId: UUID? = nil, groupId: UUID? = nil,
                notAfter: Date? = nil, oldStatus: String, newStatus: String) {
        self.certificateId = certificateId
        self.commonName = commonName
        self.serialNumber = serialNumber
        self.fingerprintSha256 = fingerprintSha256
        self.profileId = profileId
        self.groupId = groupId
        self.notAfter = notAfter
        self.oldStatus = oldStatus
        self.newStatus = newStatus
    }

    enum CodingKeys: String, CodingKey {
        case certificateId = "certificate_id", commonName = "common_name", serialNumber = "serial_number"
        case fingerprintSha256 = "fingerprint_sha256", profileId = "profile_id", groupId = "group_id"
        case notAfter = "not_after", oldStatus = "old_status", newStatus = "new_status"
    }
}

/// CERTIFICATE_ACTION_PERFORMED: issue, renew, rekey or revoke completed (successfully or not).
public struct CertificateActionPerformedEventData: EventData, Equatable {
    public static let eventType = EventType.certificateActionPerformed
    /// The certificate acted on (the new one for issue/renew/rekey); nil for a failed issuance.
    public var certificateId: UUID?
    public var action: CertificateAction
    public var outcome: EventOutcome
    public var error: String?
    public var jobId: Int64?
    public var actorType: String?
    public var actorId: String?
    public var profileId: UUID?
    public var groupId: UUID?
    /// For renew/rekey: the certificate replaced.
    public var predecessorId: UUID?
    /// For a failed issuance without a certificate: the request or job id to use as resource id.
    public var requestId: String?
    public var resourceId: String {
        certificateId?.uuidString.lowercased() ?? requestId ?? jobId.map { "job:\($0)" } ?? "unknown"
    }

    public init(certificateId: UUID?, action: CertificateAction, outcome: EventOutcome, error: String? = nil,
                jobId: Int64? = nil, actorType: String? = nil, actorId: String? = nil, profileId: UUID? = nil,
                groupId: UUID? = nil, predecessorId: UUID? = nil, requestId: String? = nil) {
        self.certificateId = certificateId
        self.action = action
        self.outcome = outcome
        self.error = error
        self.jobId = jobId
        self.actorType = actorType
        self.actorId = actorId
        self.profileId = profileId
        self.groupId = groupId
        self.predecessorId = predecessorId
        self.requestId = requestId
    }

    enum CodingKeys: String, CodingKey {
        case certificateId = "certificate_id", action, outcome, error, jobId = "job_id"
        case actorType = "actor_type", actorId = "actor_id", profileId = "profile_id", groupId = "group_id"
        case predecessorId = "predecessor_id", requestId = "request_id"
    }
}

/// CERTIFICATE_EXPIRING (monitoring): inside the profile's threshold, no valid replacement.
public struct CertificateExpiringEventData: EventData, Equatable {
    public static let eventType = EventType.certificateExpiring
    public var certificateId: UUID
    public var commonName: String?
    public var serialNumber: String?
    public var profileId: UUID?
    public var groupId: UUID?
    public var notAfter: Date
    /// Whole days left until not_after (rounded down; negative once expired).
    public var daysLeft: Int
    /// The profile's threshold that applies (first ladder step, in days, scaled for short-lived certificates).
    public var thresholdDays: Double
    /// The ladder step reached (days as written in the profile), when known.
    public var ladderStepDays: Int?
    public var status: String
    public var resourceId: String { certificateId.uuidString.lowercased() }

    public init(certificateId: UUID, commonName: String? = nil, serialNumber: String? = nil, profileId: UUID? = nil,
                groupId: UUID? = nil, notAfter: Date, daysLeft: Int, thresholdDays: Double, ladderStepDays: Int? = nil,
                status: String) {
        self.certificateId = certificateId
        self.commonName = commonName
        self.serialNumber = serialNumber
        self.profileId = profileId
        self.groupId = groupId
        self.notAfter = notAfter
        self.daysLeft = daysLeft
        self.thresholdDays = thresholdDays
        self.ladderStepDays = ladderStepDays
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case certificateId = "certificate_id", commonName = "common_name", serialNumber = "serial_number"
        case profileId = "profile_id", groupId = "group_id", notAfter = "not_after", daysLeft = "days_left"
        case thresholdDays = "threshold_days", ladderStepDays = "ladder_step_days", status
    }
}

/// CERTIFICATE_DISCOVERED: discovery found a certificate certbus did not know.
public struct CertificateDiscoveredEventData: EventData, Equatable {
    public static let eventType = EventType.certificateDiscovered
    public var certificateId: UUID
    public var discoveryId: String
    public var fingerprintSha256: String?
    public var commonName: String?
    /// Where it was found, e.g. host:port.
    public var endpoint: String?
    public var notAfter: Date?
    public var resourceId: String { certificateId.uuidString.lowercased() }

    public init(certificateId: UUID, discoveryId: String, fingerprintSha256: String? = nil, commonName: String? = nil,
                endpoint: String? = nil, notAfter: Date? = nil) {
        self.certificateId = certificateId
        self.discoveryId = discoveryId
        self.fingerprintSha256 = fingerprintSha256
        self.commonName = commonName
        self.endpoint = endpoint
        self.notAfter = notAfter
    }

    enum CodingKeys: String, CodingKey {
        case certificateId = "certificate_id", discoveryId = "discovery_id", fingerprintSha256 = "fingerprint_sha256"
        case commonName = "common_name", endpoint, notAfter = "not_after"
    }
}

/// DISCOVERY_FINISHED.
public struct DiscoveryFinishedEventData: EventData, Equatable {
    public static let eventType = EventType.discoveryFinished
    public var discoveryId: String
    public var name: String?
    public var outcome: EventOutcome
    public var certificatesFound: Int
    public var newCertificates: Int
    public var error: String?
    public var resourceId: String { discoveryId }

    public init(discoveryId: String, name: String? = nil, outcome: EventOutcome, certificatesFound: Int,
                newCertificates: Int, error: String? = nil) {
        self.discoveryId = discoveryId
        self.name = name
        self.outcome = outcome
        self.certificatesFound = certificatesFound
        self.newCertificates = newCertificates
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case discoveryId = "discovery_id", name, outcome, certificatesFound = "certificates_found"
        case newCertificates = "new_certificates", error
    }
}

/// APPROVAL_REQUESTED and APPROVAL_CLOSED (the seed's ApprovalEventData; `closed` picks the type).
public struct ApprovalEventData: Encodable, Sendable, Equatable {
    public var approvalId: String
    /// PENDING when requested; APPROVED, REJECTED or EXPIRED when closed.
    public var status: String
    public var requestId: String?
    public var profileId: UUID?
    public var requestedBy: String?
    public var closedBy: String?
    public var comment: String?

    public init(approvalId: String, status: String, requestId: String? = nil, profileId: UUID? = nil,
                requestedBy: String? = nil, closedBy: String? = nil, comment: String? = nil) {
        self.approvalId = approvalId
        self.status = status
        self.requestId = requestId
        self.profileId = profileId
        self.requestedBy = requestedBy
        self.closedBy = closedBy
        self.comment = comment
    }

    enum CodingKeys: String, CodingKey {
        case approvalId = "approval_id", status, requestId = "request_id", profileId = "profile_id"
        case requestedBy = "requested_by", closedBy = "closed_by", comment
    }
}

/// SCHEDULED_JOB_FINISHED: a periodic task finished.
public struct ScheduledJobFinishedEventData: EventData, Equatable {
    public static let eventType = EventType.scheduledJobFinished
    /// The task name (also the resource id), e.g. `certificate-expiry`.
    public var task: String
    public var outcome: EventOutcome
    public var summary: String
    public var error: String?
    public var startedAt: Date
    public var finishedAt: Date
    public var durationMs: Int
    public var resourceId: String { task }

    public init(task: String, outcome: EventOutcome, summary: String, error: String? = nil, startedAt: Date,
                finishedAt: Date) {
        self.task = task
        self.outcome = outcome
        self.summary = summary
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = max(0, Int((finishedAt.timeIntervalSince(startedAt) * 1000).rounded()))
    }

    enum CodingKeys: String, CodingKey {
        case task, outcome, summary, error, startedAt = "started_at", finishedAt = "finished_at"
        case durationMs = "duration_ms"
    }
}

/// INCIDENT_OPENED: `certbus incident renew` opened an incident or ran it again.
public struct IncidentOpenedEventData: EventData, Equatable {
    public static let eventType = EventType.incidentOpened
    public var incidentId: Int64
    /// The selector as given ("issued-by=acme-corp-root").
    public var selector: String
    public var deadline: Date
    public var revokeOld: Bool
    public var reason: String?
    /// Certificates in the incident after this run.
    public var certificates: Int
    /// Certificates this run added.
    public var added: Int
    /// Failed certificates this run retried.
    public var retried: Int
    /// False for the first run.
    public var rerun: Bool
    public var openedBy: String
    public var resourceId: String { String(incidentId) }

    public init(incidentId: Int64, selector: String, deadline: Date, revokeOld: Bool, reason: String?, certificates: Int,
                added: Int, retried: Int, rerun: Bool, openedBy: String) {
        self.incidentId = incidentId
        self.selector = selector
        self.deadline = deadline
        self.revokeOld = revokeOld
        self.reason = reason
        self.certificates = certificates
        self.added = added
        self.retried = retried
        self.rerun = rerun
        self.openedBy = openedBy
    }

    enum CodingKeys: String, CodingKey {
        case incidentId = "incident_id", selector, deadline, revokeOld = "revoke_old", reason, certificates, added, retried
        case rerun, openedBy = "opened_by"
    }
}

/// INCIDENT_FINISHED: every certificate of an incident is done or failed (emitted by
/// `certbus.advance_incidents`; outcome FAILURE when some failed).
public struct IncidentFinishedEventData: EventData, Equatable {
    public static let eventType = EventType.incidentFinished
    public var incidentId: Int64
    public var selector: String
    public var outcome: EventOutcome
    public var certificates: Int
    public var done: Int
    public var failed: Int
    public var resourceId: String { String(incidentId) }

    public init(incidentId: Int64, selector: String, outcome: EventOutcome, certificates: Int, done: Int, failed: Int) {
        self.incidentId = incidentId
        self.selector = selector
        self.outcome = outcome
        self.certificates = certificates
        self.done = done
        self.failed = failed
    }

    enum CodingKeys: String, CodingKey {
        case incidentId = "incident_id", selector, outcome, certificates, done, failed
    }
}

// Payloads carry ids the way PostgreSQL prints them (lower-case UUIDs), so conditions such as
// `profile_id = '<uuid>'` and templates match what psql shows.
extension KeyedEncodingContainer {
    mutating func encodeId(_ id: UUID?, forKey key: Key) throws {
        try encodeIfPresent(id?.uuidString.lowercased(), forKey: key)
    }
}

extension CertificateStatusChangedEventData {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeId(certificateId, forKey: .certificateId)
        try c.encodeIfPresent(commonName, forKey: .commonName)
        try c.encodeIfPresent(serialNumber, forKey: .serialNumber)
        try c.encodeIfPresent(fingerprintSha256, forKey: .fingerprintSha256)
        try c.encodeId(profileId, forKey: .profileId)
        try c.encodeId(groupId, forKey: .groupId)
        try c.encodeIfPresent(notAfter, forKey: .notAfter)
        try c.encode(oldStatus, forKey: .oldStatus)
        try c.encode(newStatus, forKey: .newStatus)
    }
}

extension CertificateActionPerformedEventData {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeId(certificateId, forKey: .certificateId)
        try c.encode(action, forKey: .action)
        try c.encode(outcome, forKey: .outcome)
        try c.encodeIfPresent(error, forKey: .error)
        try c.encodeIfPresent(jobId, forKey: .jobId)
        try c.encodeIfPresent(actorType, forKey: .actorType)
        try c.encodeIfPresent(actorId, forKey: .actorId)
        try c.encodeId(profileId, forKey: .profileId)
        try c.encodeId(groupId, forKey: .groupId)
        try c.encodeId(predecessorId, forKey: .predecessorId)
        try c.encodeIfPresent(requestId, forKey: .requestId)
    }
}

extension CertificateExpiringEventData {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeId(certificateId, forKey: .certificateId)
        try c.encodeIfPresent(commonName, forKey: .commonName)
        try c.encodeIfPresent(serialNumber, forKey: .serialNumber)
        try c.encodeId(profileId, forKey: .profileId)
        try c.encodeId(groupId, forKey: .groupId)
        try c.encode(notAfter, forKey: .notAfter)
        try c.encode(daysLeft, forKey: .daysLeft)
        try c.encode(thresholdDays, forKey: .thresholdDays)
        try c.encodeIfPresent(ladderStepDays, forKey: .ladderStepDays)
        try c.encode(status, forKey: .status)
    }
}

extension CertificateDiscoveredEventData {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeId(certificateId, forKey: .certificateId)
        try c.encode(discoveryId, forKey: .discoveryId)
        try c.encodeIfPresent(fingerprintSha256, forKey: .fingerprintSha256)
        try c.encodeIfPresent(commonName, forKey: .commonName)
        try c.encodeIfPresent(endpoint, forKey: .endpoint)
        try c.encodeIfPresent(notAfter, forKey: .notAfter)
    }
}

extension ApprovalEventData {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(approvalId, forKey: .approvalId)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(requestId, forKey: .requestId)
        try c.encodeId(profileId, forKey: .profileId)
        try c.encodeIfPresent(requestedBy, forKey: .requestedBy)
        try c.encodeIfPresent(closedBy, forKey: .closedBy)
        try c.encodeIfPresent(comment, forKey: .comment)
    }
}
