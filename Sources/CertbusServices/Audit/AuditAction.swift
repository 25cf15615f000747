/// An audit action from the constrained vocabulary of `certbus.audit_actions`.
///
/// The constants below are the actions migration 020 defines; other areas add
/// theirs in their own migrations and may use a string literal (`"MY_ACTION"`).
/// The database rejects an action it does not know, so a typo fails loudly.
public struct AuditAction: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The action name as stored, e.g. `ISSUANCE_COMPLETED`.
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let issuanceInitiated: AuditAction = "ISSUANCE_INITIATED"
    public static let issuanceCompleted: AuditAction = "ISSUANCE_COMPLETED"
    public static let issuanceFailed: AuditAction = "ISSUANCE_FAILED"
    public static let renewalInitiated: AuditAction = "RENEWAL_INITIATED"
    public static let renewalCompleted: AuditAction = "RENEWAL_COMPLETED"
    public static let renewalFailed: AuditAction = "RENEWAL_FAILED"
    public static let revocationRequested: AuditAction = "REVOCATION_REQUESTED"
    public static let revocationCompleted: AuditAction = "REVOCATION_COMPLETED"
    public static let revocationFailed: AuditAction = "REVOCATION_FAILED"
    public static let csrGenerated: AuditAction = "CSR_GENERATED"
    public static let csrSubmitted: AuditAction = "CSR_SUBMITTED"
    public static let certificateExported: AuditAction = "CERTIFICATE_EXPORTED"
    public static let privateKeyExported: AuditAction = "PRIVATE_KEY_EXPORTED"
    public static let approvalRequested: AuditAction = "APPROVAL_REQUESTED"
    public static let approvalGranted: AuditAction = "APPROVAL_GRANTED"
    public static let approvalDenied: AuditAction = "APPROVAL_DENIED"
    public static let approvalExpired: AuditAction = "APPROVAL_EXPIRED"
    public static let caCreated: AuditAction = "CA_CREATED"
    public static let caUpdated: AuditAction = "CA_UPDATED"
    public static let caDisabled: AuditAction = "CA_DISABLED"
    public static let caRefreshed: AuditAction = "CA_REFRESHED"
    public static let profileCreated: AuditAction = "PROFILE_CREATED"
    public static let profileUpdated: AuditAction = "PROFILE_UPDATED"
    public static let jobEnqueued: AuditAction = "JOB_ENQUEUED"
    public static let jobCancelled: AuditAction = "JOB_CANCELLED"
    public static let jobRetried: AuditAction = "JOB_RETRIED"
    public static let deploymentStarted: AuditAction = "DEPLOYMENT_STARTED"
    public static let deploymentCompleted: AuditAction = "DEPLOYMENT_COMPLETED"
    public static let deploymentFailed: AuditAction = "DEPLOYMENT_FAILED"
    public static let deploymentValidated: AuditAction = "DEPLOYMENT_VALIDATED"
    public static let discoveryStarted: AuditAction = "DISCOVERY_STARTED"
    public static let discoveryCompleted: AuditAction = "DISCOVERY_COMPLETED"
    public static let configChanged: AuditAction = "CONFIG_CHANGED"
    public static let userChanged: AuditAction = "USER_CHANGED"
    public static let triggerChanged: AuditAction = "TRIGGER_CHANGED"
    public static let notificationProfileChanged: AuditAction = "NOTIFICATION_PROFILE_CHANGED"
    public static let alertRead: AuditAction = "ALERT_READ"
    public static let auditCheckpoint: AuditAction = "AUDIT_CHECKPOINT"

    /// Every action migration 020 defines, in its order.
    public static let builtIn: [AuditAction] = [
        .issuanceInitiated, .issuanceCompleted, .issuanceFailed, .renewalInitiated, .renewalCompleted,
        .renewalFailed, .revocationRequested, .revocationCompleted, .revocationFailed, .csrGenerated,
        .csrSubmitted, .certificateExported, .privateKeyExported, .approvalRequested, .approvalGranted,
        .approvalDenied, .approvalExpired, .caCreated, .caUpdated, .caDisabled, .caRefreshed, .profileCreated,
        .profileUpdated, .jobEnqueued, .jobCancelled, .jobRetried, .deploymentStarted, .deploymentCompleted,
        .deploymentFailed, .deploymentValidated, .discoveryStarted, .discoveryCompleted, .configChanged,
        .userChanged, .triggerChanged, .notificationProfileChanged, .alertRead, .auditCheckpoint,
    ]
}

/// The kind of thing an audit row is about (`entity_type`). Free text matching
/// letters, digits and `_` (at most 64, starting with a letter); use these constants so the log stays uniform.
public struct AuditEntityType: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The stored name, e.g. `Certificate`.
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let csr: AuditEntityType = "CSR"
    public static let certificate: AuditEntityType = "Certificate"
    public static let ca: AuditEntityType = "CA"
    public static let profile: AuditEntityType = "Profile"
    public static let job: AuditEntityType = "Job"
    public static let approval: AuditEntityType = "Approval"
    public static let endpoint: AuditEntityType = "Endpoint"
    public static let agent: AuditEntityType = "Agent"
    public static let discovery: AuditEntityType = "Discovery"
    public static let trigger: AuditEntityType = "Trigger"
    public static let notificationProfile: AuditEntityType = "NotificationProfile"
    public static let alert: AuditEntityType = "Alert"
    public static let config: AuditEntityType = "Config"
    public static let user: AuditEntityType = "User"
    public static let auditLog: AuditEntityType = "AuditLog"
}
