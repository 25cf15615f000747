/// What a job does. Kinds are open-ended strings (so psql can enqueue kinds
/// a newer worker knows), but certbus only accepts the ones listed in `known`.
public struct JobKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Issue a certificate from a CSR or a server-generated key.
    public static let issueCertificate = JobKind("ISSUE_CERT")
    /// Renew (optionally rekey) a certificate.
    public static let renewCertificate = JobKind("RENEW_CERT")
    /// Revoke a certificate with an RFC 5280 reason.
    public static let revokeCertificate = JobKind("REVOKE_CERT")
    /// Refresh a CA's chain, CRL and health.
    public static let refreshCA = JobKind("CA_REFRESH")
    /// Check that a deployed certificate is served correctly.
    public static let validateDeployment = JobKind("VALIDATE_DEPLOYMENT")
    /// Install a certificate on an endpoint (run by an agent).
    public static let installCertificate = JobKind("INSTALL_CERT")
    /// Scan endpoints for certificates.
    public static let discoverCertificates = JobKind("DISCOVERY")
    /// Deliver one notification (webhook) with retries.
    public static let deliverNotification = JobKind("DELIVER_NOTIFICATION")
    /// Does nothing; for benchmarks and smoke tests.
    public static let noop = JobKind("NOOP")

    /// Every kind certbus knows.
    public static let known: [JobKind] = [
        .issueCertificate, .renewCertificate, .revokeCertificate, .refreshCA, .validateDeployment,
        .installCertificate, .discoverCertificates, .deliverNotification, .noop,
    ]
}

/// Where a job is in its life. Legal moves: QUEUED → RUNNING → SUCCESS | FAILED | QUEUED (retry);
/// QUEUED | RUNNING → CANCELLED; FAILED | CANCELLED → QUEUED (manual retry).
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued = "QUEUED"
    case running = "RUNNING"
    case success = "SUCCESS"
    case failed = "FAILED"
    case cancelled = "CANCELLED"

    /// True for statuses a job never leaves on its own.
    public var isFinal: Bool { self == .success || self == .failed || self == .cancelled }
}
