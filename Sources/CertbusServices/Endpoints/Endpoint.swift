import CertbusCore
import Foundation
import Postgres

/// One row of `certbus.endpoints`: where a certificate is deployed, how it is
/// automated, and its current automation status.
public struct Endpoint: Sendable, Equatable {
    public var id: UUID
    /// Unique name used on the command line.
    public var name: String
    /// AGENT, SENSOR or ADMIN_WEB_REQUEST: which statuses apply.
    public var kind: EndpointAutomationKind
    /// Host name or IP address of the TLS service.
    public var host: String
    /// TCP port of the TLS service.
    public var port: Int
    /// Server name to send as SNI and to check certificate names against; nil means `host`.
    public var serverName: String?
    /// The certificate that should be served there.
    public var expectedCertificateId: UUID?
    /// For AGENT endpoints, the agent that installs certificates here.
    public var agentId: UUID?
    /// That agent's name (joined for display).
    public var agentName: String?
    /// Free text.
    public var description: String
    /// Current automation status.
    public var automationStatus: AutomationStatus
    /// When the endpoint entered its current status.
    public var automationStatusSince: Date
    /// When the endpoint was added.
    public var createdAt: Date

    /// The name to send as SNI and check against the certificate: `serverName`, else `host`
    /// when it is a DNS name; nil for an IP host without a server name (then the IP is checked).
    public var sniName: String? {
        if let serverName { return serverName }
        return NetworkHost.isIPAddress(host) ? nil : host
    }

    /// The name the served certificate must cover: the SNI name, else the IP address.
    public var nameToVerify: String { sniName ?? host }

    /// `host:port`, bracketed for IPv6.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The SELECT list that `init(row:)` reads (from `certbus.endpoints e LEFT JOIN certbus.agents a`).
    static let columns = """
        e.id, e.name, e.kind, e.host, e.port, e.server_name, e.expected_certificate_id, e.agent_id, a.name AS agent_name,
        e.description, e.automation_status, e.automation_status_since, e.created_at
        """

    /// The FROM clause matching `columns`.
    static let from = "certbus.endpoints e LEFT JOIN certbus.agents a ON a.id = e.agent_id"

    init(row: Row) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        let kindText: String = try row.decode("kind")
        guard let kind = EndpointAutomationKind(rawValue: kindText) else {
            throw PostgresError(kind: .decoding, message: "unknown endpoint kind \(kindText)")
        }
        self.kind = kind
        host = try row.decode("host")
        port = try row.decode("port")
        serverName = try row.decode("server_name")
        expectedCertificateId = try row.decode("expected_certificate_id")
        agentId = try row.decode("agent_id")
        agentName = try row.decode("agent_name")
        description = try row.decode("description")
        let statusText: String = try row.decode("automation_status")
        guard let status = AutomationStatus(rawValue: statusText) else {
            throw PostgresError(kind: .decoding, message: "unknown automation status \(statusText)")
        }
        automationStatus = status
        automationStatusSince = try row.decode("automation_status_since")
        createdAt = try row.decode("created_at")
    }
}

/// One row of `certbus.endpoint_status_history`.
public struct EndpointStatusChange: Sendable, Equatable {
    public var id: Int64
    public var endpointId: UUID
    /// The status before; nil for the endpoint's first status.
    public var from: AutomationStatus?
    public var to: AutomationStatus
    public var changedAt: Date
    /// The job that caused the change, if any.
    public var jobId: Int64?
    public var actor: Actor
    public var message: String

    init(row: Row) throws {
        id = try row.decode("id")
        endpointId = try row.decode("endpoint_id")
        let fromText: String? = try row.decode("from_status")
        from = fromText.flatMap(AutomationStatus.init(rawValue:))
        let toText: String = try row.decode("to_status")
        guard let to = AutomationStatus(rawValue: toText) else {
            throw PostgresError(kind: .decoding, message: "unknown automation status \(toText)")
        }
        self.to = to
        changedAt = try row.decode("changed_at")
        jobId = try row.decode("job_id")
        let actorType: String = try row.decode("actor_type")
        actor = Actor(Actor.Kind(rawValue: actorType) ?? .system, try row.decode("actor_id"))
        message = try row.decode("message")
    }
}
