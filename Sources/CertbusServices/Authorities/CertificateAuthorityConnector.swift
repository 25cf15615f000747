import CertbusCore
import Foundation
import PKI
import Postgres

/// One certificate authority as certbus talks to it: issue, revoke, refresh.
///
/// A connector is made for one CA row by the factory registered for the CA's kind (see
/// ``CertificateAuthorityRegistry``), so adding a CA type is one new file with a connector and
/// its factory. Connectors are called from worker threads outside any transaction; they may be
/// slow (network) and must be safe to call concurrently.
///
/// Errors: throw ``CAConnectorError`` — `.permanent` when asking again cannot help (the CA
/// refused the request, it is disabled or misconfigured), `.retryable` when it may (the CA is
/// unreachable, timed out, rate-limited). Any other error counts as retryable.
public protocol CertificateAuthorityConnector: Sendable {
    /// The CA this connector was made for (as read when it was made).
    var authority: CertificateAuthorityRecord { get }

    /// Issues a certificate for `request`. Promise: the same `request.idempotencyKey` never
    /// yields two different certificates — asking again after a crash returns the certificate
    /// issued the first time (or resumes the CA's pending order).
    func issue(_ request: CAIssueRequest, context: CAOperationContext) throws -> CAIssuedCertificate

    /// Revokes a certificate this CA issued. Revoking an already revoked certificate succeeds
    /// and reports the first revocation. The CA's revocation information (CRL) is updated.
    func revoke(_ request: CARevocationRequest, context: CAOperationContext) throws -> CARevocationResult

    /// Checks the CA and refreshes what it publishes (built-in: a new CRL when due; ACME: the
    /// directory, terms and chain), reporting warnings such as a CA certificate near expiry.
    func refresh(context: CAOperationContext) throws -> CARefreshResult
}

/// Makes connectors of one CA kind. Register factories with ``CertificateAuthorityRegistry``.
public protocol CertificateAuthorityConnectorFactory: Sendable {
    /// The CA kind this factory serves, as stored in `certificate_authorities.kind` (e.g. "BUILT_IN").
    var kind: String { get }

    /// Makes a connector for `authority` (whose kind is ``kind``). Throw a permanent
    /// ``CAConnectorError`` when the CA's row cannot work (missing key, bad configuration).
    func makeConnector(for authority: CertificateAuthorityRecord, environment: CAConnectorEnvironment) throws
        -> any CertificateAuthorityConnector
}

/// What a connector is asked to sign. The RA (the handler) has already checked the request
/// against the profile; the CA applies its own rules on top.
public struct CAIssueRequest: Sendable {
    /// Unique per certificate request and stable across retries (the request's id).
    public var idempotencyKey: String
    /// The CSR (its signature was verified by the RA).
    public var csr: CertificateSigningRequest
    /// The subject to issue with (for TLS: only the common name).
    public var subject: DistinguishedName
    /// The subject alternative names to issue with, in order.
    public var subjectAlternativeNames: [SubjectAlternativeName]
    /// Requested lifetime in days.
    public var validityDays: Int
    /// What the certificate is for (decides EKU and BR rules).
    public var certificateType: CertificateType
    /// The CA's request id recorded by an earlier attempt (e.g. an ACME order URL), if any.
    public var previousCARequestId: String?

    /// Creates a request.
    public init(
        idempotencyKey: String, csr: CertificateSigningRequest, subject: DistinguishedName,
        subjectAlternativeNames: [SubjectAlternativeName], validityDays: Int, certificateType: CertificateType,
        previousCARequestId: String? = nil
    ) {
        self.idempotencyKey = idempotencyKey
        self.csr = csr
        self.subject = subject
        self.subjectAlternativeNames = subjectAlternativeNames
        self.validityDays = validityDays
        self.certificateType = certificateType
        self.previousCARequestId = previousCARequestId
    }
}

/// A certificate a CA issued.
public struct CAIssuedCertificate: Sendable {
    /// The certificate.
    public var certificate: Certificate
    /// The certificates above it, issuer first, up to and including the root when known.
    public var chain: [Certificate]
    /// The CA's id for the request (ACME order URL; built-in: the serial number).
    public var caRequestId: String

    /// Creates a result.
    public init(certificate: Certificate, chain: [Certificate], caRequestId: String) {
        self.certificate = certificate
        self.chain = chain
        self.caRequestId = caRequestId
    }
}

/// What a connector is asked to revoke.
public struct CARevocationRequest: Sendable {
    /// The certificate to revoke.
    public var certificate: Certificate
    /// Why (already checked against the revocation policy).
    public var reason: RevocationPolicy.Reason
    /// The CA's request id recorded when it was issued, if any.
    public var caRequestId: String?

    /// Creates a request.
    public init(certificate: Certificate, reason: RevocationPolicy.Reason, caRequestId: String? = nil) {
        self.certificate = certificate
        self.reason = reason
        self.caRequestId = caRequestId
    }
}

/// The outcome of a revocation.
public struct CARevocationResult: Sendable, Equatable {
    /// When the CA revoked it (the first time, for a repeated request).
    public var revokedAt: Date
    /// Whether this call revoked it (false: it was already revoked).
    public var newlyRevoked: Bool
    /// The number of the CRL that lists it, when the CA publishes CRLs.
    public var crlNumber: Int64?

    /// Creates a result.
    public init(revokedAt: Date, newlyRevoked: Bool, crlNumber: Int64?) {
        self.revokedAt = revokedAt
        self.newlyRevoked = newlyRevoked
        self.crlNumber = crlNumber
    }
}

/// The outcome of a refresh.
public struct CARefreshResult: Sendable, Equatable {
    /// One line for the job output, e.g. "CRL 7 published, next update 2025-01-08".
    public var summary: String
    /// Problems someone should look at; each becomes a WARN alert (raised once per cause).
    public var warnings: [CAWarning]
    /// The number of a CRL published by this refresh, if any.
    public var publishedCRLNumber: Int64?

    /// Creates a result.
    public init(summary: String, warnings: [CAWarning] = [], publishedCRLNumber: Int64? = nil) {
        self.summary = summary
        self.warnings = warnings
        self.publishedCRLNumber = publishedCRLNumber
    }
}

/// A condition of a CA that needs attention, e.g. its certificate expires soon.
public struct CAWarning: Sendable, Equatable {
    /// A stable code: "CA_CERTIFICATE_EXPIRING", "CRL_OVERDUE", ...
    public var code: String
    /// One sentence for people.
    public var message: String

    /// Creates a warning.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// What a connector may use while it works: the database (its own tables), a way to record the
/// CA's request id before waiting on the CA, and the job's liveness.
public final class CAOperationContext: @unchecked Sendable {
    /// Connections (autocommit) for the connector's own records.
    public let database: ConnectionPool
    private let recordAction: @Sendable (String) throws -> Void
    private let heartbeatAction: @Sendable () throws -> Void
    private let cancelled: @Sendable () -> Bool

    /// Creates a context.
    public init(
        database: ConnectionPool, recordCARequestId: @escaping @Sendable (String) throws -> Void = { _ in },
        heartbeat: @escaping @Sendable () throws -> Void = {}, isCancelled: @escaping @Sendable () -> Bool = { false }
    ) {
        self.database = database
        recordAction = recordCARequestId
        heartbeatAction = heartbeat
        cancelled = isCancelled
    }

    /// Durably records the CA's id for the request being issued (e.g. an ACME order URL) so a
    /// later attempt can resume it (it arrives as ``CAIssueRequest/previousCARequestId``).
    public func recordCARequestId(_ id: String) throws { try recordAction(id) }

    /// Tells the job queue the job is still alive.
    public func heartbeat() throws { try heartbeatAction() }

    /// Whether the job was cancelled or the worker is shutting down.
    public var isCancelled: Bool { cancelled() }
}
