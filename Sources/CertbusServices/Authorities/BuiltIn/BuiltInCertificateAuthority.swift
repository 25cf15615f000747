import CertbusCore
import Foundation
import PKI
import Postgres

/// The connector of a built-in CA: certbus signs with the CA key (opened once from its sealed
/// form under the key-encryption key), records every certificate in the CA's ledger
/// (`certbus.ca_issued_certificates`) keyed by the idempotency key, and publishes CRLs
/// (`certbus.ca_crls`).
public final class BuiltInCertificateAuthority: CertificateAuthorityConnector, @unchecked Sendable {
    /// The kind stored in `certificate_authorities.kind`.
    public static let kind = "BUILT_IN"
    /// The ``KeyEncryptionKey`` purpose under which CA keys are sealed (bound to the CA's id).
    public static let keyPurpose = "ca-private-key"

    public let authority: CertificateAuthorityRecord
    /// The CA's signer (certificate + opened key).
    public let issuer: CertificateIssuer
    /// The CA certificate followed by the certificates above it (root last).
    public let chain: [Certificate]
    /// The CA's settings.
    public let configuration: CAConfiguration

    /// Opens the CA: decrypts its key with the KEK and parses its certificate and chain.
    public init(authority: CertificateAuthorityRecord, keyEncryptionKey: KeyEncryptionKey) throws {
        self.authority = authority
        func misconfigured(_ message: String) -> CAConnectorError {
            .permanent(.misconfigured, caName: authority.name, message)
        }
        guard let certificatePEM = authority.certificatePEM, let sealed = authority.encryptedPrivateKey else {
            throw misconfigured("a built-in CA needs its certificate and sealed private key; this row has none")
        }
        do {
            configuration = try authority.configuration(as: CAConfiguration.self)
        } catch {
            throw misconfigured("its configuration is not valid: \(error)")
        }
        let keyBytes: Data
        do {
            keyBytes = try keyEncryptionKey.open(sealed, purpose: Self.keyPurpose, id: authority.id)
        } catch let error as KeyEncryptionKeyError {
            throw CAConnectorError.permanent(.keyUnavailable, caName: authority.name, error.description)
        }
        do {
            let certificate = try Certificate(pem: certificatePEM)
            issuer = try CertificateIssuer(certificate: certificate, key: try PrivateKey(der: keyBytes))
            let above = (authority.chainPEM ?? "").isEmpty ? [] : try Certificate.parseChain(pem: authority.chainPEM ?? "")
            chain = [certificate] + above
        } catch let error as PKIError {
            throw misconfigured("its certificate or key cannot be loaded: \(error)")
        }
    }

    /// The PKI profile for a request of `type` and lifetime, with this CA's CRL and AIA URLs.
    func issuanceProfile(_ type: CertificateType, validityDays: Int) -> IssuanceProfile {
        var profile: IssuanceProfile
        switch type {
        case .tlsServer: profile = .tlsServer(validityDays: validityDays)
        case .tlsServerAndClient: profile = .tlsServerAndClient(validityDays: validityDays)
        case .tlsClient: profile = .tlsClient(validityDays: validityDays)
        }
        profile.crlDistributionPointURL = configuration.crlURL
        profile.ocspURL = configuration.ocspURL
        profile.caIssuersURL = configuration.caIssuersURL
        return profile
    }

    /// Signs and records one certificate; a key seen before returns the recorded certificate.
    public func issue(_ request: CAIssueRequest, context: CAOperationContext) throws -> CAIssuedCertificate {
        let signed = try sign(request)
        return try context.database.withConnection { connection in
            try connection.withRelaxedCommit { try record([(request.idempotencyKey, signed)], on: $0)[0] }
        }
    }

    /// Signs several requests and records them with one statement (the handler's batch path).
    /// Results are in request order; keys seen before return their recorded certificates.
    public func issueBatch(_ requests: [CAIssueRequest], on connection: Connection) throws -> [Result<CAIssuedCertificate, CAConnectorError>] {
        var signed: [(Int, String, Certificate)] = []
        var results = [Result<CAIssuedCertificate, CAConnectorError>?](repeating: nil, count: requests.count)
        for (index, request) in requests.enumerated() {
            do {
                signed.append((index, request.idempotencyKey, try sign(request)))
            } catch let error as CAConnectorError {
                results[index] = .failure(error)
            }
        }
        let recorded = try connection.withRelaxedCommit { try record(signed.map { ($0.1, $0.2) }, on: $0) }
        for (position, entry) in signed.enumerated() { results[entry.0] = .success(recorded[position]) }
        return results.map { $0! }
    }

    private func sign(_ request: CAIssueRequest) throws -> Certificate {
        do {
            return try issuer.issue(
                publicKey: request.csr.publicKey, subject: request.subject,
                subjectAlternativeNames: request.subjectAlternativeNames,
                profile: issuanceProfile(request.certificateType, validityDays: request.validityDays))
        } catch let error as PKIError {
            throw CAConnectorError(
                error.kind == .internalFailure ? .internalFailure : .rejected, caName: authority.name,
                message: error.description, isPermanent: error.kind != .internalFailure)
        }
    }

    /// Inserts the signed certificates into the ledger; for keys already present, the stored
    /// certificate wins and the fresh signature is discarded (it never left this process).
    private func record(_ entries: [(key: String, certificate: Certificate)], on connection: Connection) throws -> [CAIssuedCertificate] {
        guard !entries.isEmpty else { return [] }
        let keys = entries.map(\.key)
        let inserted = try connection.query(
            """
            INSERT INTO certbus.ca_issued_certificates
                   (ca_id, idempotency_key, serial_number, fingerprint_sha256, certificate_pem, not_after)
            SELECT $1, k, s, f, p, n::timestamptz
              FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(k, s, f, p, n)
            ON CONFLICT (ca_id, idempotency_key) DO NOTHING
            RETURNING idempotency_key
            """,
            [authority.id, keys, entries.map(\.certificate.serialNumberHex), entries.map(\.certificate.sha256Fingerprint),
             entries.map(\.certificate.pem), entries.map { PostgresTimestamp.format($0.certificate.notAfter) }])
        let fresh = Set(try inserted.map { try $0.decode("idempotency_key", as: String.self) })
        var existing: [String: Certificate] = [:]
        let missing = keys.filter { !fresh.contains($0) }
        if !missing.isEmpty {
            for row in try connection.query(
                "SELECT idempotency_key, certificate_pem FROM certbus.ca_issued_certificates WHERE ca_id = $1 AND idempotency_key = ANY($2::text[])",
                [authority.id, missing]) {
                existing[try row.decode("idempotency_key")] = try Certificate(pem: try row.decode("certificate_pem", as: String.self))
            }
        }
        return try entries.map { entry in
            let certificate = fresh.contains(entry.key) ? entry.certificate : existing[entry.key]
            guard let certificate else {
                throw CAConnectorError.retryable(.internalFailure, caName: authority.name,
                                                 "the ledger entry for request \(entry.key) vanished")
            }
            return CAIssuedCertificate(certificate: certificate, chain: chain, caRequestId: certificate.serialNumberHex)
        }
    }

    /// Marks the certificate revoked in the ledger and publishes a new CRL, in one transaction.
    public func revoke(_ request: CARevocationRequest, context: CAOperationContext) throws -> CARevocationResult {
        let serial = request.certificate.serialNumberHex
        return try context.database.withConnection { connection in
            try connection.withTransaction { c in
                try lockAuthority(c)
                let updated = try c.query(
                    """
                    UPDATE certbus.ca_issued_certificates SET revoked_at = now(), revocation_reason = $3
                     WHERE ca_id = $1 AND serial_number = $2 AND revoked_at IS NULL RETURNING revoked_at
                    """, [authority.id, serial, request.reason.rawValue])
                if let row = updated.firstRow {
                    let published = try publishCRL(on: c)
                    return CARevocationResult(revokedAt: try row.decode("revoked_at"), newlyRevoked: true, crlNumber: published.number)
                }
                guard let row = try c.query(
                    "SELECT revoked_at FROM certbus.ca_issued_certificates WHERE ca_id = $1 AND serial_number = $2",
                    [authority.id, serial]).firstRow
                else {
                    throw CAConnectorError.permanent(.notFound, caName: authority.name,
                                                     "it did not issue a certificate with serial \(serial)")
                }
                let current = try c.query("SELECT max(crl_number) AS n FROM certbus.ca_crls WHERE ca_id = $1", [authority.id])
                return CARevocationResult(revokedAt: try row.decode("revoked_at"), newlyRevoked: false,
                                          crlNumber: try current.firstRow?.decode("n", as: Int64?.self))
            }
        }
    }

    /// Publishes a CRL when the current one is missing or within its refresh margin, and warns
    /// when the CA certificate expires within the warning horizon.
    public func refresh(context: CAOperationContext) throws -> CARefreshResult {
        try context.database.withConnection { connection in
            try connection.withTransaction { c in
                try lockAuthority(c)
                let current = try c.query(
                    "SELECT crl_number, next_update FROM certbus.ca_crls WHERE ca_id = $1 ORDER BY crl_number DESC LIMIT 1",
                    [authority.id]).firstRow
                let now = Date()
                var summary: String
                var published: Int64?
                let due: Bool
                if let current {
                    let nextUpdate: Date = try current.decode("next_update")
                    due = nextUpdate.timeIntervalSince(now) < configuration.crlRefreshMargin
                    summary = "CRL \(try current.decode("crl_number", as: Int64.self)) current until \(PostgresTimestamp.format(nextUpdate))"
                } else {
                    due = true
                    summary = "no CRL yet"
                }
                if due {
                    let result = try publishCRL(on: c)
                    published = result.number
                    summary = "CRL \(result.number) published, next update \(PostgresTimestamp.format(result.nextUpdate))"
                }
                var warnings: [CAWarning] = []
                let notAfter = issuer.certificate.notAfter
                let left = notAfter.timeIntervalSince(now)
                if left < configuration.expiryWarning {
                    let days = Int((left / 86400).rounded(.down))
                    let message = left <= 0
                        ? "the certificate of CA \(authority.name) expired on \(PostgresTimestamp.format(notAfter))"
                        : "the certificate of CA \(authority.name) expires in \(days) days (\(PostgresTimestamp.format(notAfter))); certificates it issues cannot outlive it"
                    warnings.append(CAWarning(code: "CA_CERTIFICATE_EXPIRING", message: message))
                }
                return CARefreshResult(summary: summary, warnings: warnings, publishedCRLNumber: published)
            }
        }
    }

    /// Serialises CRL numbering of this CA: row lock on the CA, held to the end of the transaction.
    private func lockAuthority(_ c: Connection) throws {
        _ = try c.query("SELECT 1 FROM certbus.certificate_authorities WHERE id = $1 FOR UPDATE", [authority.id])
    }

    /// Generates and stores the next CRL from the ledger. The caller holds the CA row lock.
    func publishCRL(on c: Connection) throws -> (number: Int64, nextUpdate: Date) {
        let number: Int64 = try c.query(
            "SELECT coalesce(max(crl_number), 0) + 1 AS n FROM certbus.ca_crls WHERE ca_id = $1", [authority.id]
        ).firstRow!.decode("n")
        let entries = try c.query(
            """
            SELECT serial_number, revoked_at, revocation_reason FROM certbus.ca_issued_certificates
             WHERE ca_id = $1 AND revoked_at IS NOT NULL AND not_after > now()
             ORDER BY revoked_at, serial_number
            """, [authority.id]
        ).map { row -> RevokedCertificate in
            let serialHex: String = try row.decode("serial_number")
            guard let serial = SerialNumber(hex: serialHex) else {
                throw CAConnectorError.permanent(.misconfigured, caName: authority.name, "its ledger holds a bad serial \(serialHex)")
            }
            let reasonName: String? = try row.decode("revocation_reason")
            let code = reasonName.flatMap(RevocationPolicy.Reason.init(name:))?.code
            return RevokedCertificate(serialNumber: serial, revocationDate: try row.decode("revoked_at"),
                                      reason: code.flatMap(RevocationReason.init(rawValue:)))
        }
        let now = Date()
        let crl: CertificateRevocationList
        do {
            crl = try issuer.revocationList(entries: entries, crlNumber: UInt64(number), thisUpdate: now,
                                            nextUpdate: now.addingTimeInterval(configuration.crlValidity))
        } catch let error as PKIError {
            throw CAConnectorError.permanent(.misconfigured, caName: authority.name, "cannot sign its CRL: \(error)")
        }
        let nextUpdate = crl.nextUpdate ?? now.addingTimeInterval(configuration.crlValidity)
        try c.execute(
            """
            INSERT INTO certbus.ca_crls (ca_id, crl_number, this_update, next_update, entry_count, crl_pem)
            VALUES ($1, $2, $3, $4, $5, $6)
            """, [authority.id, number, crl.thisUpdate, nextUpdate, entries.count, crl.pem])
        return (number, nextUpdate)
    }
}

/// Makes ``BuiltInCertificateAuthority`` connectors.
public struct BuiltInCertificateAuthorityFactory: CertificateAuthorityConnectorFactory {
    public var kind: String { BuiltInCertificateAuthority.kind }

    /// Creates the factory.
    public init() {}

    public func makeConnector(for authority: CertificateAuthorityRecord, environment: CAConnectorEnvironment) throws
        -> any CertificateAuthorityConnector {
        let key: KeyEncryptionKey
        do {
            key = try environment.keyEncryptionKey()
        } catch let error as KeyEncryptionKeyError {
            throw CAConnectorError.permanent(.keyUnavailable, caName: authority.name, error.description)
        }
        return try BuiltInCertificateAuthority(authority: authority, keyEncryptionKey: key)
    }
}
