import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// JSON and text renderings of endpoints, agents and status history for the command line.
enum EndpointOutput {
    static func time(_ date: Date?) -> String { date.map { PostgresTimestamp.format($0) } ?? "" }

    static func json(_ endpoint: Endpoint) -> JSONValue {
        [
            "id": .string(endpoint.id.uuidString.lowercased()), "name": .string(endpoint.name),
            "kind": .string(endpoint.kind.rawValue), "host": .string(endpoint.host), "port": .int(endpoint.port),
            "address": .string(endpoint.address), "server_name": endpoint.serverName.map { .string($0) } ?? .null,
            "expected_certificate_id": endpoint.expectedCertificateId.map { .string($0.uuidString.lowercased()) } ?? .null,
            "agent": endpoint.agentName.map { .string($0) } ?? .null,
            "agent_id": endpoint.agentId.map { .string($0.uuidString.lowercased()) } ?? .null,
            "description": .string(endpoint.description),
            "automation_status": .string(endpoint.automationStatus.rawValue),
            "automation_status_title": .string(endpoint.automationStatus.title),
            "automation_status_is_error": .bool(endpoint.automationStatus.isError),
            "automation_status_since": .date(endpoint.automationStatusSince), "created_at": .date(endpoint.createdAt),
        ]
    }

    static func json(_ change: EndpointStatusChange) -> JSONValue {
        [
            "id": .int(Int(change.id)), "from": change.from.map { .string($0.rawValue) } ?? .null,
            "to": .string(change.to.rawValue), "to_title": .string(change.to.title), "changed_at": .date(change.changedAt),
            "job_id": change.jobId.map { .int(Int($0)) } ?? .null, "actor_type": .string(change.actor.kind.rawValue),
            "actor_id": .string(change.actor.id), "message": .string(change.message),
        ]
    }

    static func json(_ agent: Agent) -> JSONValue {
        [
            "id": .string(agent.id.uuidString.lowercased()), "name": .string(agent.name), "hostname": .string(agent.hostname),
            "version": .string(agent.version), "status": .string(agent.status.rawValue),
            "last_seen_at": agent.lastSeenAt.map { .date($0) } ?? .null, "login_role": agent.loginRole.map { .string($0) } ?? .null,
            "queue": .string(agent.queue),
        ]
    }

    static func table(_ endpoints: [Endpoint]) -> String {
        TableFormatter([
            .init("NAME"), .init("KIND"), .init("ADDRESS"), .init("SERVER NAME"), .init("STATUS"), .init("SINCE"), .init("AGENT"),
        ]).render(endpoints.map { e in
            [e.name, e.kind.rawValue, e.address, e.sniName ?? "", e.automationStatus.title, time(e.automationStatusSince), e.agentName ?? ""]
        })
    }

    static func table(_ history: [EndpointStatusChange]) -> String {
        TableFormatter([.init("AT"), .init("FROM"), .init("TO"), .init("BY"), .init("JOB", alignment: .right), .init("MESSAGE", maxWidth: 80)])
            .render(history.map { h in
                [time(h.changedAt), h.from?.title ?? "-", h.to.title, h.actor.description, h.jobId.map(String.init) ?? "", h.message]
            })
    }

    static func details(_ e: Endpoint) -> String {
        var lines = [
            "name:               \(e.name)", "id:                 \(e.id.uuidString.lowercased())",
            "kind:               \(e.kind.rawValue)", "address:            \(e.address)",
            "server name:        \(e.sniName ?? "(none: the IP address is checked)")",
            "automation status:  \(e.automationStatus.title)\(e.automationStatus.isError ? " (error)" : "") since \(time(e.automationStatusSince))",
            "expected cert:      \(e.expectedCertificateId?.uuidString.lowercased() ?? "(none)")",
        ]
        if e.kind == .agent { lines.append("agent:              \(e.agentName ?? "(none: automation not configured)")") }
        if !e.description.isEmpty { lines.append("description:        \(e.description)") }
        return lines.joined(separator: "\n")
    }
}

/// Reading operator values that name automation statuses and endpoint kinds.
enum EndpointArguments {
    /// `agent`, `sensor`, `admin-web-request` (or the stored codes).
    static let kindWords = ["agent", "sensor", "admin-web-request"]

    static func kind(_ word: String) throws -> EndpointAutomationKind {
        let code = word.uppercased().replacingOccurrences(of: "-", with: "_")
        guard let kind = EndpointAutomationKind(rawValue: code) else {
            throw UsageError("unknown endpoint kind '\(word)' (expected \(kindWords.joined(separator: ", ")))")
        }
        return kind
    }

    /// A status by code (`INSTALL_VALIDATION_FAILED`, `install-validation-failed`) or title (`"Install validation failed"`).
    static func status(_ word: String) throws -> AutomationStatus {
        if let status = AutomationStatus(codeOrTitle: word) ?? AutomationStatus(codeOrTitle: word.replacingOccurrences(of: "-", with: "_")) {
            return status
        }
        throw UsageError(
            "unknown automation status '\(word)'",
            suggestion: "statuses: \(AutomationStatus.allCases.map { $0.rawValue.lowercased().replacingOccurrences(of: "_", with: "-") }.sorted().joined(separator: ", "))")
    }

    /// The operator running the command, for audit rows and status history.
    static func operatorActor(_ invocation: Invocation) -> Actor {
        let name = invocation.environment["CERTBUS_USER"] ?? invocation.environment["USER"] ?? NSUserName()
        return .user(name.isEmpty ? "unknown" : name)
    }
}
