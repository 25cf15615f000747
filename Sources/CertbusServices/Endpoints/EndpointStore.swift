import CertbusCore
import Foundation
import Postgres

/// Reads and changes endpoints, their agents and their automation status history.
/// Every function works on the caller's connection; those that change several rows
/// open a transaction (or a savepoint inside the caller's), so they commit together.
public enum EndpointStore {
    /// Adds an endpoint: validates the draft, resolves the expected certificate, registers the agent if
    /// it is new, inserts the endpoint (its first history row is written by the database) and records
    /// the change in the audit log. Throws `EndpointError` and changes nothing on bad input.
    @discardableResult
    public static func add(_ draft: EndpointDraft, actor: Actor, on connection: Connection) throws -> Endpoint {
        try draft.validate()
        do {
            return try connection.withTransaction { c in
                try ActorSetting.apply(actor, on: c)
                let certificateId = try draft.expectedCertificate.map { try CertificateReference.resolve($0, on: c) }
                let agentId = try draft.agentName.map { try AgentStore.register(name: $0, actor: actor, on: c).id }
                let rows = try c.query(
                    """
                    INSERT INTO certbus.endpoints
                      (name, kind, host, port, server_name, expected_certificate_id, agent_id, description, automation_status)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
                    """,
                    [
                        draft.name, draft.kind.rawValue, draft.host, draft.port, draft.serverName, certificateId, agentId,
                        draft.description, draft.startingStatus.rawValue,
                    ])
                let id: UUID = try rows[0].decode("id")
                try EndpointAudit.record(
                    on: c, action: .endpointAdded, endpointId: id, actor: actor,
                    details: [
                        "name": draft.name, "kind": draft.kind.rawValue,
                        "address": "\(draft.host):\(draft.port)",
                    ])
                return try find(id: id, on: c)
            }
        } catch {
            throw EndpointError.translating(error)
        }
    }

    /// The endpoint with this id; throws `.notFound`.
    public static func find(id: UUID, on connection: Connection) throws -> Endpoint {
        let rows = try connection.query("SELECT \(Endpoint.columns) FROM \(Endpoint.from) WHERE e.id = $1", [id])
        guard let row = rows.firstRow else { throw EndpointError(.notFound, "no endpoint with id \(id.uuidString.lowercased())") }
        return try Endpoint(row: row)
    }

    /// The endpoint named `reference`, or with that id; throws `.notFound`.
    public static func find(_ reference: String, on connection: Connection) throws -> Endpoint {
        if let id = UUID(uuidString: reference) { return try find(id: id, on: connection) }
        let rows = try connection.query("SELECT \(Endpoint.columns) FROM \(Endpoint.from) WHERE e.name = $1", [reference])
        guard let row = rows.firstRow else { throw EndpointError(.notFound, "no endpoint named \"\(reference)\"") }
        return try Endpoint(row: row)
    }

    /// Endpoints by name, optionally only of one kind, in one status, or of one agent.
    public static func list(
        kind: EndpointAutomationKind? = nil, status: AutomationStatus? = nil, agentId: UUID? = nil, on connection: Connection
    ) throws -> [Endpoint] {
        try connection.query(
            """
            SELECT \(Endpoint.columns) FROM \(Endpoint.from)
             WHERE ($1::text IS NULL OR e.kind = $1) AND ($2::text IS NULL OR e.automation_status = $2)
               AND ($3::uuid IS NULL OR e.agent_id = $3)
             ORDER BY e.name
            """, [kind?.rawValue, status?.rawValue, agentId]
        ).map { try Endpoint(row: $0) }
    }

    /// The endpoint's status history, oldest first.
    public static func history(of endpointId: UUID, on connection: Connection) throws -> [EndpointStatusChange] {
        try connection.query(
            """
            SELECT id, endpoint_id, from_status, to_status, changed_at, job_id, actor_type, actor_id, message
              FROM certbus.endpoint_status_history WHERE endpoint_id = $1 ORDER BY id
            """, [endpointId]
        ).map { try EndpointStatusChange(row: $0) }
    }

    /// Moves the endpoint to `status` through `certbus.change_endpoint_status` (which enforces the state
    /// machine and writes the history row); returns the history row id. Throws `.illegalTransition` or
    /// `.notFound` and changes nothing when refused.
    @discardableResult
    public static func changeStatus(
        _ endpointId: UUID, to status: AutomationStatus, actor: Actor, message: String = "", jobId: Int64? = nil,
        on connection: Connection
    ) throws -> Int64 {
        do {
            return try connection.withTransaction { c in
                try c.query(
                    "SELECT certbus.change_endpoint_status($1, $2, $3, $4, $5, $6) AS history_id",
                    [endpointId, status.rawValue, actor.kind.rawValue, actor.id, message, jobId]
                )[0].decode("history_id")
            }
        } catch {
            throw EndpointError.translating(error)
        }
    }

    /// Moves the endpoint through `statuses` in order (each step checked and recorded), in one transaction.
    public static func changeStatus(
        _ endpointId: UUID, through statuses: [AutomationStatus], actor: Actor, message: String = "", jobId: Int64? = nil,
        on connection: Connection
    ) throws {
        do {
            try connection.withTransaction { c in
                for status in statuses {
                    try changeStatus(endpointId, to: status, actor: actor, message: message, jobId: jobId, on: c)
                }
            }
        } catch {
            throw EndpointError.translating(error)
        }
    }

    /// Sets the certificate expected on the endpoint (nil clears it), in the caller's transaction.
    public static func setExpectedCertificate(_ certificateId: UUID?, of endpointId: UUID, on connection: Connection) throws {
        let changed = try connection.execute(
            "UPDATE certbus.endpoints SET expected_certificate_id = $2 WHERE id = $1", [endpointId, certificateId])
        if changed == 0 { throw EndpointError(.notFound, "no endpoint with id \(endpointId.uuidString.lowercased())") }
    }

    /// Sets the certificate expected on the endpoint from an operator's reference (certificate id or SHA-256
    /// fingerprint; nil clears it) and audits the change (CONFIG_CHANGED). Throws `.notFound`/`.invalidInput`.
    public static func setExpectedCertificate(
        _ reference: String?, of endpointId: UUID, actor: Actor, on connection: Connection
    ) throws {
        try connection.withTransaction { c in
            let certificateId = try reference.map { try CertificateReference.resolve($0, on: c) }
            try setExpectedCertificate(certificateId, of: endpointId, on: c)
            try EndpointAudit.record(
                on: c, action: .configChanged, endpointId: endpointId, actor: actor,
                details: ["change": "expected certificate", "certificate_id": certificateId?.uuidString.lowercased() ?? "none"])
        }
    }
}

/// Sets the transaction-local `certbus.actor` setting that database triggers use to name who acted.
enum ActorSetting {
    static func apply(_ actor: Actor, on connection: Connection) throws {
        _ = try connection.query("SELECT set_config('certbus.actor', $1, true)", ["\(actor.kind.rawValue):\(actor.id)"])
    }
}

/// Finds a certificate by id or SHA-256 fingerprint.
enum CertificateReference {
    /// The id of the certificate `reference` names (a UUID, or a SHA-256 fingerprint in hex with optional colons).
    static func resolve(_ reference: String, on connection: Connection) throws -> UUID {
        let trimmed = reference.trimmingCharacters(in: .whitespaces)
        if let id = UUID(uuidString: trimmed) {
            guard !(try connection.query("SELECT 1 FROM certbus.certificates WHERE id = $1", [id]).isEmpty) else {
                throw EndpointError(.notFound, "no certificate with id \(trimmed.lowercased())")
            }
            return id
        }
        let hex = trimmed.replacingOccurrences(of: ":", with: "").lowercased()
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            throw EndpointError(.invalidInput, "certificate \"\(reference)\" is neither a certificate id nor a SHA-256 fingerprint")
        }
        guard let row = try connection.query("SELECT id FROM certbus.certificates WHERE fingerprint_sha256 = $1", [hex]).firstRow
        else { throw EndpointError(.notFound, "no certificate with fingerprint \(hex)") }
        return try row.decode("id")
    }
}
