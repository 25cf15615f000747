/// Where an approval is in its life: PENDING → APPROVED | DENIED | EXPIRED. Only a pending
/// approval can be decided; the three others are final.
public enum ApprovalStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for a person to approve or deny.
    case pending = "PENDING"
    /// Approved: the bound request may be issued.
    case approved = "APPROVED"
    /// Denied: the request ends with "Approval denied".
    case denied = "DENIED"
    /// Nobody decided before the approval's expiry time.
    case expired = "EXPIRED"

    /// True for statuses an approval never leaves.
    public var isFinal: Bool { self != .pending }
}

/// Where a certificate request is in its life.
///
/// PENDING_APPROVAL → QUEUED (approved) | DENIED | EXPIRED; QUEUED → SUBMITTED (sent to the CA)
/// → ISSUED | FAILED; QUEUED → FAILED (refused before reaching the CA).
public enum CertificateRequestStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for an approval.
    case pendingApproval = "PENDING_APPROVAL"
    /// A job will process it.
    case queued = "QUEUED"
    /// Sent to the CA; the CA's answer is pending or being recorded.
    case submitted = "SUBMITTED"
    /// The certificate was issued and recorded.
    case issued = "ISSUED"
    /// The request failed; the error says why.
    case failed = "FAILED"
    /// The approval was denied.
    case denied = "DENIED"
    /// The approval expired before anyone decided.
    case expired = "EXPIRED"

    /// True for statuses a request never leaves.
    public var isFinal: Bool {
        switch self {
        case .issued, .failed, .denied, .expired: true
        case .pendingApproval, .queued, .submitted: false
        }
    }
}
