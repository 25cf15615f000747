import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus approval list|approve|deny`.
enum ApprovalCommands {
    static let command = Command(
        "approval", abstract: "List, approve and deny certificate request approvals.",
        discussion: """
            An approval is bound to a SHA-256 of the exact request (CSR or generated-key parameters, names, \
            profile, CA, lifetime): approving releases only that request. Approving queues its ISSUE_CERT job; \
            denying ends the request with "Approval denied".
            """,
        subcommands: [list, approve, deny])

    static let statusOption = Option<String>("status", valueName: "status", default: "PENDING", allowed: ApprovalStatus.allCases.map(\.rawValue) + ["ALL"],
                                             help: "PENDING (default), APPROVED, DENIED, EXPIRED or ALL.")
    static let idArgument = Argument<String>("id", help: "The approval id.")
    static let commentOption = Option<String>("comment", valueName: "text", help: "A comment recorded with the decision.")
    static let reasonOption = Option<String>("reason", valueName: "text", help: "Why the request is denied.")

    static func json(_ a: ApprovalRecord) -> JSONValue {
        .object([
            "id": CertCommandSupport.json(a.id), "request_id": CertCommandSupport.json(a.requestId), "status": .string(a.status.rawValue),
            "summary": .string(a.summary), "requested_by": .string(a.requestedBy), "decided_by": CertCommandSupport.json(a.decidedBy),
            "decided_at": CertCommandSupport.json(a.decidedAt), "comment": CertCommandSupport.json(a.comment),
            "expires_at": CertCommandSupport.json(a.expiresAt), "created_at": CertCommandSupport.json(a.createdAt),
            "binding_sha256": .string(a.bindingSHA256),
        ])
    }

    static let list = Command("list", abstract: "List approvals (pending ones by default).", options: CommandContext.options + [statusOption]) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let status = invocation[statusOption]! == "ALL" ? nil : ApprovalStatus(rawValue: invocation[statusOption]!)
        let approvals = try Approvals.list(status: status, on: connection)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(approvals.map(json))))
            return
        }
        if approvals.isEmpty {
            invocation.print("no \(status?.rawValue.lowercased() ?? "") approvals")
            return
        }
        let table = TableFormatter([.init("ID"), .init("STATUS"), .init("REQUESTED BY"), .init("EXPIRES"), .init("SUMMARY", maxWidth: 90)])
        invocation.print(table.render(approvals.map {
            [$0.id.uuidString.lowercased(), $0.status.rawValue, $0.requestedBy, CertCommandSupport.time($0.expiresAt), $0.summary]
        }), terminator: "")
    }

    static func parseId(_ invocation: Invocation) throws -> UUID {
        let text = try invocation.value(idArgument)
        guard let id = UUID(uuidString: text) else { throw UsageError("'\(text)' is not an approval id (see certbus approval list)") }
        return id
    }

    static let approve = Command(
        "approve", abstract: "Approve a pending request: its job is queued.", options: CommandContext.options + [commentOption], arguments: [idArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let (approval, jobId) = try Approvals.approve(id: try parseId(invocation), actor: CertCommandSupport.actor(invocation),
                                                      comment: invocation[commentOption], on: connection)
        try context.emit(text: "approved \(approval.id.uuidString.lowercased()); job \(jobId) will issue it",
                         json: ["id": CertCommandSupport.json(approval.id), "status": .string(approval.status.rawValue), "job_id": .int(Int(jobId))])
    }

    static let deny = Command(
        "deny", abstract: "Deny a pending request: it ends with \"Approval denied\".", options: CommandContext.options + [reasonOption], arguments: [idArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let approval = try Approvals.deny(id: try parseId(invocation), actor: CertCommandSupport.actor(invocation),
                                          reason: invocation[reasonOption], on: connection)
        try context.emit(text: "denied \(approval.id.uuidString.lowercased()): the request ends with \"Approval denied\"",
                         json: ["id": CertCommandSupport.json(approval.id), "status": .string(approval.status.rawValue)])
    }
}
