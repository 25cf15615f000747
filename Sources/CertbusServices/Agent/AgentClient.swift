import CertbusCore
import Foundation
import Postgres

/// An INSTALL_CERT job as an agent claimed it.
public struct AgentJob: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The payload, JSON text.
    public var payload: String
    /// The attempt this claim is (fences every later call).
    public var attempt: Int
    public var maxAttempts: Int
    public var triggeredBy: Actor
}

/// What an install job asks for.
public struct InstallDetails: Sendable, Equatable {
    public var endpointId: UUID
    public var endpointName: String
    /// The endpoint's server name (or host name), the default name of a CSR.
    public var serverName: String?
    /// For installing an issued certificate: it, with its chain.
    public var certificateId: UUID?
    public var certificatePEM: String?
    public var chainPEM: String?
    /// For the CSR path: the RA profile, key algorithm (EC-P256, ...) and names.
    public var profile: String?
    public var keyAlgorithm: String
    public var names: [String]?
}

/// How the issuance of an agent's CSR stands.
public enum IssuanceState: Sendable, Equatable {
    case pending
    case issued(certificateId: UUID, certificatePEM: String, chainPEM: String)
    case failed(String)
}

/// How an agent ends an attempt of an install job (`certbus.agent_finish_install`).
public enum InstallOutcome: String, Sendable, CaseIterable {
    /// Files written and the post-install command succeeded.
    case installed = "INSTALLED"
    /// The files could not be written.
    case installationFailed = "INSTALLATION_FAILED"
    /// The post-install command failed or timed out.
    case scriptError = "SCRIPT_ERROR"
    /// Something else went wrong on the agent (no key for the certificate, a bad payload).
    case agentError = "AGENT_ERROR"
    /// The CA refused or failed to issue the certificate.
    case issuanceFailed = "ISSUANCE_FAILED"
    /// A passing problem: try again later (counts an attempt).
    case retry = "RETRY"
    /// Issuance still pending: give the job back for later without counting an attempt.
    case wait = "WAIT"
}

/// The agent's only way into the database: typed calls of the `certbus.agent_*` SECURITY DEFINER
/// functions, which check that the session may act for `agentId` and touch only its rows.
public struct AgentClient: Sendable {
    /// The agent this client acts for.
    public var agentId: UUID

    public init(agentId: UUID) { self.agentId = agentId }

    /// The agent as an actor in audit rows and histories.
    public var actor: Actor { .agent(agentId.uuidString.lowercased()) }

    /// Records a heartbeat; returns the status before it (NEVER_SEEN, ONLINE, OFFLINE).
    @discardableResult
    public func heartbeat(hostname: String, version: String, on connection: Connection) throws -> Agent.Status {
        let text: String = try connection.query(
            "SELECT certbus.agent_heartbeat($1, $2, $3) AS previous", [agentId, hostname, version])[0].decode("previous")
        return Agent.Status(rawValue: text) ?? .online
    }

    /// The names and ids of the agent's endpoints.
    public func endpoints(on connection: Connection) throws -> [(id: UUID, name: String)] {
        try connection.query("SELECT id, name FROM certbus.agent_endpoints($1)", [agentId]).map {
            (try $0.decode("id"), try $0.decode("name"))
        }
    }

    /// Moves one of the agent's endpoints to another status (state machine and history as usual).
    public func changeStatus(
        of endpointId: UUID, to status: AutomationStatus, message: String = "", jobId: Int64? = nil, on connection: Connection
    ) throws {
        _ = try connection.query(
            "SELECT certbus.agent_change_endpoint_status($1, $2, $3, $4, $5)",
            [agentId, endpointId, status.rawValue, message, jobId])
    }

    /// The id of the agent named `name` (only its own role, or a service session, gets an answer).
    public static func lookup(name: String, on connection: Connection) throws -> UUID {
        try connection.query("SELECT certbus.agent_lookup($1) AS id", [name])[0].decode("id")
    }

    /// Claims up to `limit` due install jobs of the agent's queue (only for `endpoints` when given).
    public func claim(
        limit: Int = 1, leaseSeconds: Double = 300, endpoints: [UUID]? = nil, on connection: Connection
    ) throws -> [AgentJob] {
        try connection.query(
            """
            SELECT id, name, payload::text AS payload, attempt, max_attempts, triggered_by_type, triggered_by_id
              FROM certbus.agent_claim_jobs($1, $2, $3, $4::uuid[])
            """, [agentId, limit, leaseSeconds, endpoints]
        ).map { row in
            AgentJob(
                id: try row.decode("id"), name: try row.decode("name"), payload: try row.decode("payload"),
                attempt: try row.decode("attempt"), maxAttempts: try row.decode("max_attempts"),
                triggeredBy: Actor(
                    Actor.Kind(rawValue: try row.decode("triggered_by_type")) ?? .system, try row.decode("triggered_by_id")))
        }
    }

    /// Extends the job's lease; false when an operator asked to cancel it.
    public func extendLease(_ job: AgentJob, leaseSeconds: Double = 300, on connection: Connection) throws -> Bool {
        try connection.query(
            "SELECT certbus.agent_extend_lease($1, $2, $3, $4) AS keep", [agentId, job.id, job.attempt, leaseSeconds]
        )[0].decode("keep")
    }

    /// What the job asks for.
    public func installDetails(_ job: AgentJob, on connection: Connection) throws -> InstallDetails {
        let row = try connection.query(
            "SELECT * FROM certbus.agent_install_details($1, $2, $3)", [agentId, job.id, job.attempt])[0]
        return InstallDetails(
            endpointId: try row.decode("endpoint_id"), endpointName: try row.decode("endpoint_name"),
            serverName: try row.decode("server_name"), certificateId: try row.decode("certificate_id"),
            certificatePEM: try row.decode("certificate_pem"), chainPEM: try row.decode("chain_pem"),
            profile: try row.decode("profile"), keyAlgorithm: try row.decode("key_algorithm"), names: try row.decode("names"))
    }

    /// Submits the CSR of the job (the key stays here); returns the ISSUE_CERT job id (the same on a repeat).
    @discardableResult
    public func submitCSR(_ job: AgentJob, pem: String, on connection: Connection) throws -> Int64 {
        try connection.query(
            "SELECT certbus.agent_submit_csr($1, $2, $3, $4) AS issue_job", [agentId, job.id, job.attempt, pem]
        )[0].decode("issue_job")
    }

    /// How the issuance of the job's CSR stands.
    public func issuance(_ job: AgentJob, on connection: Connection) throws -> IssuanceState {
        let row = try connection.query("SELECT * FROM certbus.agent_issuance($1, $2)", [agentId, job.id])[0]
        switch try row.decode("state", as: String.self) {
        case "ISSUED":
            return .issued(
                certificateId: try row.decode("certificate_id"), certificatePEM: try row.decode("certificate_pem"),
                chainPEM: try row.decode("chain_pem"))
        case "FAILED":
            return .failed(try row.decode("error", as: String?.self) ?? "issuance failed")
        default:
            return .pending
        }
    }

    /// Says the agent is writing `certificateId` now (endpoint → Installing certificate).
    public func installing(_ job: AgentJob, certificateId: UUID, on connection: Connection) throws {
        _ = try connection.query(
            "SELECT certbus.agent_installing($1, $2, $3, $4)", [agentId, job.id, job.attempt, certificateId])
    }

    /// Ends the attempt; returns the job's new status (SUCCESS, FAILED, QUEUED, CANCELLED).
    @discardableResult
    public func finish(
        _ job: AgentJob, outcome: InstallOutcome, message: String = "", certificateId: UUID? = nil, delaySeconds: Double = 30,
        on connection: Connection
    ) throws -> String {
        try connection.query(
            "SELECT certbus.agent_finish_install($1, $2, $3, $4, $5, $6, $7) AS status",
            [agentId, job.id, job.attempt, outcome.rawValue, message, certificateId, delaySeconds]
        )[0].decode("status")
    }
}
