import CertbusCore
import Foundation
import Postgres

/// What an incident does with one certificate (`certbus.incident_items.plan`).
public enum IncidentItemPlan: String, Sendable, CaseIterable {
    /// A rekeying RENEW_CERT job (agent endpoints among its endpoints are reinstalled by their agent too).
    case renew = "RENEW"
    /// Deployed only on agent endpoints: each agent installs a certificate for a key it generates.
    case agentInstall = "AGENT_INSTALL"
    /// Already renewed by another certificate of the incident: takes that one's replacement.
    case awaitRenewal = "AWAIT_RENEWAL"
    /// Already renewed by a certificate outside the selection: deployment and revocation remain.
    case replaced = "REPLACED"
    /// Cannot be renewed (no profile, or its replacement is expired or revoked): fails at once.
    case notRenewable = "NOT_RENEWABLE"
}

/// Where an incident item stands (`certbus.incident_items.state`).
public enum IncidentItemState: String, Sendable, CaseIterable {
    case renewing = "RENEWING", deploying = "DEPLOYING", revoking = "REVOKING", done = "DONE", failed = "FAILED"

    /// "done", "pending" or "failed": the three answers of `incident status`.
    public var outcome: String {
        switch self {
        case .done: "done"
        case .failed: "failed"
        case .renewing, .deploying, .revoking: "pending"
        }
    }
}

/// Counts of an incident's certificates.
public struct IncidentTotals: Sendable, Equatable {
    public var certificates = 0
    public var done = 0
    public var pending = 0
    public var failed = 0
    public var renewing = 0
    public var deploying = 0
    public var revoking = 0

    public init() {}

    static let sql = """
        SELECT count(*) AS certificates, count(*) FILTER (WHERE i.state = 'DONE') AS done,
               count(*) FILTER (WHERE i.state IN ('RENEWING', 'DEPLOYING', 'REVOKING')) AS pending,
               count(*) FILTER (WHERE i.state = 'FAILED') AS failed, count(*) FILTER (WHERE i.state = 'RENEWING') AS renewing,
               count(*) FILTER (WHERE i.state = 'DEPLOYING') AS deploying, count(*) FILTER (WHERE i.state = 'REVOKING') AS revoking
          FROM certbus.incident_items i WHERE i.incident_id = $1
        """

    init(row: Row) throws {
        certificates = try row.decode("certificates")
        done = try row.decode("done")
        pending = try row.decode("pending")
        failed = try row.decode("failed")
        renewing = try row.decode("renewing")
        deploying = try row.decode("deploying")
        revoking = try row.decode("revoking")
    }
}

/// One incident (`certbus.incidents`) with its totals.
public struct IncidentRecord: Sendable, Equatable {
    public var id: Int64
    /// What it selects, as given ("issued-by=acme-corp-root").
    public var selectorText: String
    /// When everything should be replaced.
    public var deadline: Date
    /// Whether old certificates are revoked once replaced.
    public var revokeOld: Bool
    /// Their revocation reason.
    public var revocationReason: String?
    /// ACTIVE, COMPLETED or FAILED.
    public var state: String
    /// Times `incident renew` ran for it.
    public var runs: Int
    /// Who opened it.
    public var openedBy: Actor
    public var createdAt: Date
    public var finishedAt: Date?
    /// Its certificates by state.
    public var totals: IncidentTotals

    static let columns = """
        n.id, n.selector_text, n.deadline, n.revoke_old, n.revocation_reason, n.state, n.runs, n.opened_by_type,
        n.opened_by_id, n.created_at, n.finished_at, t.*
        """

    static let from = """
        certbus.incidents n CROSS JOIN LATERAL (
          SELECT count(*) AS certificates, count(*) FILTER (WHERE i.state = 'DONE') AS done,
                 count(*) FILTER (WHERE i.state IN ('RENEWING', 'DEPLOYING', 'REVOKING')) AS pending,
                 count(*) FILTER (WHERE i.state = 'FAILED') AS failed, count(*) FILTER (WHERE i.state = 'RENEWING') AS renewing,
                 count(*) FILTER (WHERE i.state = 'DEPLOYING') AS deploying, count(*) FILTER (WHERE i.state = 'REVOKING') AS revoking
            FROM certbus.incident_items i WHERE i.incident_id = n.id) t
        """

    init(row: Row) throws {
        id = try row.decode("id")
        selectorText = try row.decode("selector_text")
        deadline = try row.decode("deadline")
        revokeOld = try row.decode("revoke_old")
        revocationReason = try row.decode("revocation_reason")
        state = try row.decode("state")
        runs = try row.decode("runs")
        openedBy = Actor(Actor.Kind(rawValue: try row.decode("opened_by_type")) ?? .user, try row.decode("opened_by_id"))
        createdAt = try row.decode("created_at")
        finishedAt = try row.decode("finished_at")
        totals = try IncidentTotals(row: row)
    }
}

/// One endpoint of an incident item (`certbus.incident_deployments`).
public struct IncidentDeploymentRecord: Sendable, Equatable {
    public var endpointId: UUID
    public var endpointName: String
    /// AGENT_INSTALL or VALIDATE.
    public var method: String
    /// WAITING, INSTALLING, VALIDATING, VALIDATED, RELEASED, FAILED.
    public var state: String
    public var jobId: Int64?
    public var newCertificateId: UUID?
    public var error: String?
}

/// One certificate of an incident (`certbus.incident_items`).
public struct IncidentItemRecord: Sendable, Equatable {
    public var certificateId: UUID
    public var commonName: String?
    public var notAfter: Date
    public var position: Int
    public var priority: Int
    public var runAt: Date
    public var plan: IncidentItemPlan
    public var state: IncidentItemState
    /// RENEWAL, DEPLOYMENT or REVOCATION, when failed.
    public var failedStep: String?
    public var renewalJobId: Int64?
    public var successorId: UUID?
    public var revokeJobId: Int64?
    public var error: String?
    public var stateSince: Date
    public var deployments: [IncidentDeploymentRecord] = []

    init(row: Row) throws {
        certificateId = try row.decode("certificate_id")
        commonName = try row.decode("common_name")
        notAfter = try row.decode("not_after")
        position = try row.decode("position")
        priority = try row.decode("priority")
        runAt = try row.decode("run_at")
        plan = IncidentItemPlan(rawValue: try row.decode("plan")) ?? .renew
        state = IncidentItemState(rawValue: try row.decode("state")) ?? .failed
        failedStep = try row.decode("failed_step")
        renewalJobId = try row.decode("renewal_job_id")
        successorId = try row.decode("successor_id")
        revokeJobId = try row.decode("revoke_job_id")
        error = try row.decode("error")
        stateSince = try row.decode("state_since")
    }
}
