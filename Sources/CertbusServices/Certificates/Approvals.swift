import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres

/// One approval with what it would release.
public struct ApprovalRecord: Sendable, Equatable, Codable {
    /// Approval id.
    public var id: UUID
    /// The request it releases.
    public var requestId: UUID
    /// PENDING, APPROVED, DENIED, EXPIRED.
    public var status: ApprovalStatus
    /// What is being approved.
    public var summary: String
    /// Who asked.
    public var requestedBy: String
    /// Who decided.
    public var decidedBy: String?
    /// When decided.
    public var decidedAt: Date?
    /// Approver's comment.
    public var comment: String?
    /// When a pending approval expires.
    public var expiresAt: Date
    /// When requested.
    public var createdAt: Date
    /// The bound SHA-256.
    public var bindingSHA256: String

    static let columns = """
        v.id, v.request_id, v.status, v.summary, v.requested_by_type || ':' || v.requested_by_id AS requested_by,
        v.decided_by_type || ':' || v.decided_by_id AS decided_by, v.decided_at, v.comment, v.expires_at, v.created_at,
        v.binding_sha256
        """

    init(row: Row) throws {
        id = try row.decode("id")
        requestId = try row.decode("request_id")
        status = ApprovalStatus(rawValue: try row.decode("status")) ?? .expired
        summary = try row.decode("summary")
        requestedBy = try row.decode("requested_by")
        decidedBy = try row.decode("decided_by")
        decidedAt = try row.decode("decided_at")
        comment = try row.decode("comment")
        expiresAt = try row.decode("expires_at")
        createdAt = try row.decode("created_at")
        bindingSHA256 = try row.decode("binding_sha256")
    }
}

/// Why an approval decision was refused; nothing changed.
public struct ApprovalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}

/// Approvals of certificate requests: opened by the issuance pipeline (or `cert request`),
/// decided by `certbus approval approve|deny`, expired by ``ApprovalExpiryTask``.
public enum Approvals {
    /// Opens a PENDING approval for `request` bound to its binding hash, moves the request to
    /// PENDING_APPROVAL, and writes APPROVAL_REQUESTED (audit and event) — in the caller's transaction.
    static func open(id: UUID, request: CertificateRequestRecord, summary: String, lifetime: Double, actor: Actor,
                     on c: Connection) throws {
        try c.execute(
            """
            INSERT INTO certbus.approvals (id, request_id, binding_sha256, summary, requested_by_type, requested_by_id, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7::float8))
            """,
            [id, request.id, request.bindingSHA256, summary, request.requestedBy.kind.rawValue, request.requestedBy.id, lifetime])
        try c.execute("UPDATE certbus.certificate_requests SET status = 'PENDING_APPROVAL' WHERE id = $1", [request.id])
        let idText = id.uuidString.lowercased()
        let payload: [String: Any] = [
            "approvalId": idText, "requestId": request.id.uuidString.lowercased(), "status": "PENDING", "summary": summary,
            "names": request.subjectAlternativeNames, "requestedBy": request.requestedBy.description,
        ]
        try Lifecycle.audit(.approvalRequested, entityType: .approval, entityId: idText, actor: actor, details: payload, on: c)
        try Lifecycle.approval(closed: false, ApprovalEventData(
            approvalId: idText, status: ApprovalStatus.pending.rawValue, requestId: request.id.uuidString.lowercased(),
            profileId: request.profileId, requestedBy: request.requestedBy.description), on: c)
    }

    /// Approvals, newest first; only `status` when given.
    public static func list(status: ApprovalStatus? = nil, on c: Connection) throws -> [ApprovalRecord] {
        try c.query(
            "SELECT \(ApprovalRecord.columns) FROM certbus.approvals v WHERE ($1::text IS NULL OR v.status = $1) ORDER BY v.created_at DESC LIMIT 1000",
            [status?.rawValue]
        ).map(ApprovalRecord.init(row:))
    }

    /// The approval with this id, or nil.
    public static func find(id: UUID, on c: Connection) throws -> ApprovalRecord? {
        try c.query("SELECT \(ApprovalRecord.columns) FROM certbus.approvals v WHERE v.id = $1", [id]).firstRow.map(ApprovalRecord.init(row:))
    }

    /// Approves a pending approval: checks its binding against the request, marks it APPROVED,
    /// queues the request and enqueues the job that issues it (returned), with audit and
    /// APPROVAL_CLOSED event, in one transaction. Refuses decided, expired or mismatched approvals.
    public static func approve(id: UUID, actor: Actor, comment: String? = nil, on connection: Connection) throws -> (approval: ApprovalRecord, jobId: Int64) {
        try connection.withTransaction { c in
            let (approval, request) = try lockPending(id: id, on: c)
            guard approval.bindingSHA256 == request.bindingSHA256, request.bindingSHA256 == request.computedBindingSHA256 else {
                throw ApprovalError(message: "approval \(id.uuidString.lowercased()) does not match its request's current parameters; deny it and request again")
            }
            try decide(approval, request: request, status: .approved, actor: actor, comment: comment, on: c)
            try c.execute("UPDATE certbus.certificate_requests SET status = 'QUEUED' WHERE id = $1", [request.id])
            let kind: JobKind = request.operation == .renew ? .renewCertificate : .issueCertificate
            let names = request.subjectAlternativeNames.joined(separator: ", ")
            var payload = ["request_id": request.id.uuidString.lowercased()]
            if let predecessor = request.predecessorId { payload["certificate_id"] = predecessor.uuidString.lowercased() }
            let jobId = try JobQueue.enqueue(on: c, try NewJob(
                kind: kind, payload: payload,
                name: "\(request.operation == .renew ? "Renew" : "Issue") \(names) (approved)",
                uniqueKey: "request:\(request.id.uuidString.lowercased())", triggeredBy: actor, caId: request.caId,
                certificateId: request.predecessorId))
            try c.execute("UPDATE certbus.certificate_requests SET job_id = $2 WHERE id = $1", [request.id, jobId])
            return (try find(id: id, on: c)!, jobId)
        }
    }

    /// Denies a pending approval: the request ends DENIED with "Approval denied", with audit and
    /// APPROVAL_CLOSED event, in one transaction.
    public static func deny(id: UUID, actor: Actor, reason: String? = nil, on connection: Connection) throws -> ApprovalRecord {
        try connection.withTransaction { c in
            let (approval, request) = try lockPending(id: id, on: c)
            try decide(approval, request: request, status: .denied, actor: actor, comment: reason, on: c)
            try c.execute(
                "UPDATE certbus.certificate_requests SET status = 'DENIED', error = $2, completed_at = now() WHERE id = $1",
                [request.id, "Approval denied" + (reason.map { ": \($0)" } ?? "")])
            return try find(id: id, on: c)!
        }
    }

    /// Expires pending approvals past their time (and their requests), with audit and events;
    /// returns how many expired.
    @discardableResult
    public static func expire(now: Date = Date(), on connection: Connection) throws -> Int {
        try connection.withTransaction { c in
            let due = try c.query(
                "SELECT id FROM certbus.approvals WHERE status = 'PENDING' AND expires_at <= $1 ORDER BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED",
                [now]).map { try $0.decode("id", as: UUID.self) }
            for id in due {
                guard let approval = try find(id: id, on: c),
                      let request = try CertificateRequestStore.find(id: approval.requestId, on: c) else { continue }
                try decide(approval, request: request, status: .expired, actor: .system("approvals"), comment: nil, on: c)
                try c.execute(
                    "UPDATE certbus.certificate_requests SET status = 'EXPIRED', error = $2, completed_at = now() WHERE id = $1 AND status = 'PENDING_APPROVAL'",
                    [request.id, "Approval expired at \(PostgresTimestamp.format(approval.expiresAt))"])
            }
            return due.count
        }
    }

    private static func lockPending(id: UUID, on c: Connection) throws -> (ApprovalRecord, CertificateRequestRecord) {
        guard let row = try c.query("SELECT \(ApprovalRecord.columns) FROM certbus.approvals v WHERE v.id = $1 FOR UPDATE", [id]).firstRow else {
            throw ApprovalError(message: "unknown approval \(id.uuidString.lowercased()) (see certbus approval list)")
        }
        let approval = try ApprovalRecord(row: row)
        guard approval.status == .pending else {
            throw ApprovalError(message: "approval \(id.uuidString.lowercased()) is already \(approval.status.rawValue)")
        }
        guard approval.expiresAt > Date() else {
            throw ApprovalError(message: "approval \(id.uuidString.lowercased()) expired at \(PostgresTimestamp.format(approval.expiresAt)); request the certificate again")
        }
        guard let request = try CertificateRequestStore.find(id: approval.requestId, on: c) else {
            throw ApprovalError(message: "the request of approval \(id.uuidString.lowercased()) is missing")
        }
        return (approval, request)
    }

    private static func decide(_ approval: ApprovalRecord, request: CertificateRequestRecord, status: ApprovalStatus,
                               actor: Actor, comment: String?, on c: Connection) throws {
        try c.execute(
            """
            UPDATE certbus.approvals SET status = $2, decided_by_type = $3, decided_by_id = $4, decided_at = now(), comment = $5
             WHERE id = $1
            """, [approval.id, status.rawValue, actor.kind.rawValue, actor.id, comment])
        let idText = approval.id.uuidString.lowercased()
        let payload: [String: Any] = [
            "approvalId": idText, "requestId": request.id.uuidString.lowercased(), "status": status.rawValue,
            "decidedBy": actor.description, "comment": comment ?? NSNull(), "summary": approval.summary,
        ]
        let action: AuditAction = switch status {
        case .approved: .approvalGranted
        case .denied: .approvalDenied
        case .expired: .approvalExpired
        case .pending: .approvalRequested
        }
        try Lifecycle.audit(action, entityType: .approval, entityId: idText, actor: actor, details: payload, on: c)
        try Lifecycle.approval(closed: true, ApprovalEventData(
            approvalId: idText, status: status.rawValue, requestId: request.id.uuidString.lowercased(),
            profileId: request.profileId, requestedBy: request.requestedBy.description, closedBy: actor.description,
            comment: comment), on: c)
    }
}
