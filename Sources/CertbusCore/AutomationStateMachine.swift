import Foundation

/// How an endpoint is automated, which decides the statuses it may take.
public enum EndpointAutomationKind: String, Sendable, Codable, CaseIterable {
    /// A web server with a local agent.
    case agent = "AGENT"
    /// A network appliance or cloud service watched by a sensor.
    case sensor = "SENSOR"
    /// Certificate delivery through an admin web request.
    case adminWebRequest = "ADMIN_WEB_REQUEST"

    var statusType: AutomationStatusType {
        switch self {
        case .agent: return .agent
        case .sensor: return .sensor
        case .adminWebRequest: return .adminWebRequest
        }
    }
}

/// A refused automation status change, with both ends and the reason.
public struct AutomationTransitionError: Error, CustomStringConvertible, Sendable, Equatable {
    public var from: AutomationStatus
    public var to: AutomationStatus
    public var reason: String
    public var description: String { "cannot change automation status from '\(from.title)' to '\(to.title)': \(reason)" }
}

/// The explicit state machine of automation statuses.
///
/// Rules, in order:
/// 1. A status must apply to the endpoint's kind (Common, or the kind's own type):
///    an agent endpoint never shows "IP Unreachable" (a sensor status).
/// 2. An error status may be entered from any non-error status — anything in
///    flight can fail — and from "Configured"/"Automation successful" only for
///    the common errors and "Automation at risk".
/// 3. Otherwise the move must be listed in `forward` (the happy path of the
///    seed's workflow: requested → CSR/ACME steps → issuing → issued →
///    delivering or installing → validating → successful → Configured; an already issued certificate
///    goes requested → ready to be installed). sql/050_endpoints.sql mirrors these rules and steps
///    (`certbus.automation_move_problem`); a test compares every move.
/// 4. From an error status, automation restarts ("Automation requested",
///    "Automation scheduled", "Auto renew scheduled"), is handed to a person
///    ("Action required"), or is reset ("Configured", "Not configured").
/// 5. "Not configured" may be entered from anywhere (an operator turns automation off).
public enum AutomationStateMachine {
    /// How long "Automation successful" stays before it reverts to "Configured".
    public static let successfulRevertsAfter: TimeInterval = 24 * 3600

    static let restart: Set<AutomationStatus> = [
        .automationRequested, .automationScheduled, .autoRenewScheduled, .actionRequired, .configured, .notConfigured,
    ]

    static let forward: [AutomationStatus: Set<AutomationStatus>] = [
        .notConfigured: [.configured, .configurationError],
        .configured: [.automationRequested, .automationScheduled, .autoRenewScheduled, .automationAtRisk],
        .automationAtRisk: [.configured, .automationRequested, .automationScheduled, .autoRenewScheduled],
        .automationScheduled: [.automationRequested, .configured],
        .autoRenewScheduled: [.automationRequested, .configured],
        .automationRequested: [
            .approvalPending, .creatingAccount, .validatingDomain, .csrGenerating, .issuingCertificate, .configured,
            // Installing a certificate that is already issued (an agent install job for an existing certificate).
            .readyToBeInstalled,
        ],
        .approvalPending: [.approvalDenied, .creatingAccount, .validatingDomain, .csrGenerating, .issuingCertificate],
        .approvalDenied: [.configured, .automationRequested],
        .creatingAccount: [.accountCreated],
        .accountCreated: [.validatingDomain],
        .validatingDomain: [.domainValidated],
        .domainValidated: [.csrGenerating, .issuingCertificate],
        .csrGenerating: [.csrGenerationCompleted],
        .csrGenerationCompleted: [.issuingCertificate],
        .issuingCertificate: [.certificateIssued],
        .certificateIssued: [.readyToBeInstalled, .deliveringCertificate, .installingCertificate, .automationSuccessful],
        .deliveringCertificate: [.certificateDelivered],
        .certificateDelivered: [.automationSuccessful],
        .readyToBeInstalled: [.installingCertificate, .manualServerRestartApproved],
        .manualServerRestartApproved: [.installingCertificate, .installationCompleted],
        .installingCertificate: [.installationCompleted, .manualServerRestartApproved],
        .installationCompleted: [.installValidationInProgress, .automationSuccessful, .manualServerRestartApproved],
        .installValidationInProgress: [.installationValidated],
        .installationValidated: [.automationSuccessful],
        .automationSuccessful: [.configured, .automationRequested, .automationScheduled, .autoRenewScheduled],
        .actionRequired: [.automationRequested, .automationScheduled, .configured],
    ]

    /// True when `status` may be shown for an endpoint of `kind`.
    public static func applies(_ status: AutomationStatus, to kind: EndpointAutomationKind) -> Bool {
        status.types.contains(.common) || status.types.contains(kind.statusType)
    }

    /// Checks a change of status; returns normally when it is legal.
    public static func validate(
        from: AutomationStatus, to: AutomationStatus, kind: EndpointAutomationKind
    ) throws(AutomationTransitionError) {
        func refuse(_ reason: String) -> AutomationTransitionError {
            AutomationTransitionError(from: from, to: to, reason: reason)
        }
        guard applies(to, to: kind) else {
            throw refuse("'\(to.title)' does not apply to \(kind.rawValue.lowercased()) endpoints")
        }
        if to == from { throw refuse("the endpoint already has this status") }
        if to == .notConfigured { return }
        if from.isError && restart.contains(to) { return }
        if to.isError || to == .automationAtRisk {
            if !from.isError && from != .notConfigured { return }
            throw refuse("an endpoint in '\(from.title)' must be restarted or reset before it can fail again")
        }
        if from.isError {
            throw refuse("from an error status automation can only be requested again, scheduled, handed to a person, or reset")
        }
        if forward[from]?.contains(to) == true { return }
        throw refuse("not a step of the automation workflow")
    }

    /// True when the move is legal.
    public static func canMove(from: AutomationStatus, to: AutomationStatus, kind: EndpointAutomationKind) -> Bool {
        do {
            try validate(from: from, to: to, kind: kind)
            return true
        } catch {
            return false
        }
    }

    /// The status to show at `now` for an endpoint that entered `status` at `since`:
    /// "Automation successful" becomes "Configured" after 24 hours; others stay.
    public static func effectiveStatus(_ status: AutomationStatus, since: Date, now: Date) -> AutomationStatus {
        if status == .automationSuccessful && now.timeIntervalSince(since) >= successfulRevertsAfter { return .configured }
        return status
    }
}
