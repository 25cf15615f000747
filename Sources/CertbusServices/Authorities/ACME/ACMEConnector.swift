import CertbusCore
import Foundation
import PKI
import Postgres

/// The connector of an ACME CA (`kind = 'ACME'`): issues through ``ACMEClient`` with certbus's
/// own http-01 responder, revokes with the account key, and checks the directory on refresh.
///
/// Idempotency: the order URL is recorded through ``CAOperationContext/recordCARequestId(_:)``
/// as soon as the order exists, before any validation; a retried request arrives with it as
/// ``CAIssueRequest/previousCARequestId`` and the order is resumed, never placed twice. If
/// the URL cannot be recorded, the order is not finalized.
///
/// Calls block the calling thread (a job worker) while the ACME exchange runs; they heartbeat
/// the job every 10 s and stop when the job is cancelled.
public final class ACMEConnector: CertificateAuthorityConnector, @unchecked Sendable {
    /// The kind stored in `certificate_authorities.kind`.
    public static let kind = "ACME"

    /// The CA row this connector was made from.
    public let authority: CertificateAuthorityRecord
    /// The CA's ACME settings (from its configuration).
    public let settings: ACMESettings
    /// The client, acting for the CA's account key.
    public let client: ACMEClient
    /// The http-01 responder (shared by every ACME CA of the process with the same address).
    public let responder: ACMEHTTP01Responder

    /// Opens the CA: reads its settings and opens its account key with the KEK. Throws a
    /// permanent ``CAConnectorError`` (`.misconfigured` or `.keyUnavailable`) when it cannot work.
    public init(
        authority: CertificateAuthorityRecord, keyEncryptionKey: KeyEncryptionKey, polling: ACMEPolling = ACMEPolling()
    ) throws {
        self.authority = authority
        func misconfigured(_ message: String) -> CAConnectorError {
            .permanent(.misconfigured, caName: authority.name, message)
        }
        let settings: ACMESettings
        let configuration: ACMEClientConfiguration
        let address: (host: String, port: Int)
        do throws(ACMEError) {
            settings = try ACMESettings.decode(json: Data(authority.configurationJSON.utf8))
            configuration = try settings.clientConfiguration(polling: polling)
            address = try settings.responderAddress()
        } catch {
            throw misconfigured(error.kindDescription)
        }
        self.settings = settings
        guard let sealed = authority.encryptedPrivateKey else {
            throw misconfigured("an ACME CA needs its sealed account key; this row has none (create it with certbus ca create)")
        }
        let key: PrivateKey
        do throws(ACMEError) {
            key = try ACMEAccountKeyVault.open(sealed, caID: authority.id, with: keyEncryptionKey)
        } catch {
            throw CAConnectorError.permanent(.keyUnavailable, caName: authority.name, error.kindDescription)
        }
        do throws(ACMEError) {
            client = try ACMEClient(configuration: configuration, accountKey: key, accountURL: settings.account)
        } catch {
            throw misconfigured(error.kindDescription)
        }
        responder = ACMEHTTP01Responder.shared(host: address.host, port: address.port)
    }

    // MARK: - Issue

    /// Issues through ACME; see the type's notes on idempotency.
    public func issue(_ request: CAIssueRequest, context: CAOperationContext) throws -> CAIssuedCertificate {
        try issue(request, context: context, progress: nil)
    }

    /// Issues through ACME and reports each step to `progress` as automation statuses
    /// (`Creating account` … `Certificate issued`, or the failed step's status).
    public func issue(
        _ request: CAIssueRequest, context: CAOperationContext, progress: ACMEProgressHandler?
    ) throws -> CAIssuedCertificate {
        try checkNames(request)
        do throws(ACMEError) {
            try responder.start()
        } catch {
            throw CAConnectorError.permanent(.misconfigured, caName: authority.name, error.kindDescription)
        }
        let previous = request.previousCARequestId.flatMap { URL(string: $0) }
        let recording = RecordingFailure()
        let client = client
        let responder = responder
        let csr = request.csr
        let issued: ACMEIssuedCertificate
        do {
            issued = try ACMEBlocking.run(
                tick: { try context.heartbeat() },
                isCancelled: { context.isCancelled || recording.failed }
            ) { () async throws(ACMEError) -> ACMEIssuedCertificate in
                try await client.issue(csr: csr, responder: responder, resumingOrder: previous) { report in
                    if case .order(let url, _) = report, url != previous {
                        do {
                            try context.recordCARequestId(url.absoluteString)
                        } catch {
                            recording.record(error)
                            withUnsafeCurrentTask { $0?.cancel() }
                        }
                    }
                    progress?(report)
                }
            }
        } catch let error as ACMEError {
            if let failure = recording.error {
                throw CAConnectorError.retryable(
                    .internalFailure, caName: authority.name,
                    "could not record the ACME order URL, so the order was not finalized: \(failure)")
            }
            throw Self.connectorError(error, caName: authority.name)
        }
        try rememberAccount(context: context)
        return CAIssuedCertificate(
            certificate: issued.leaf, chain: Array(issued.chain.dropFirst()), caRequestId: issued.orderURL.absoluteString)
    }

    /// Refuses a request whose subject and SANs are not exactly the CSR's names: an ACME CA
    /// certifies what the CSR says, so the two must agree.
    private func checkNames(_ request: CAIssueRequest) throws {
        let fromCSR: [ACMEIdentifier]
        do throws(ACMEError) {
            fromCSR = try ACMEClient.identifiers(for: request.csr)
        } catch {
            throw CAConnectorError.permanent(.rejected, caName: authority.name, error.kindDescription)
        }
        var requested = Set<ACMEIdentifier>()
        for name in request.subjectAlternativeNames {
            switch name {
            case .dnsName(let value): requested.insert(.dns(value.lowercased()))
            case .ipAddress(let address): requested.insert(.ip(address.description))
            default:
                throw CAConnectorError.permanent(
                    .rejected, caName: authority.name, "ACME certificates can only name DNS names and IP addresses, not \(name)")
            }
        }
        if let commonName = request.subject.commonName, !commonName.isEmpty {
            requested.insert(IPAddress(commonName) != nil ? .ip(commonName) : .dns(commonName.lowercased()))
        }
        guard requested == Set(fromCSR) else {
            let list = { (ids: Set<ACMEIdentifier>) in ids.map(\.value).sorted().joined(separator: ", ") }
            throw CAConnectorError.permanent(
                .rejected, caName: authority.name,
                "an ACME CA certifies exactly the CSR's names (\(list(Set(fromCSR)))), but the request asks for \(list(requested))")
        }
    }

    // MARK: - Revoke

    /// Revokes with the account key. A certificate the CA reports as already revoked counts as
    /// revoked (`newlyRevoked` false); ACME CAs do not say when, so `revokedAt` is now.
    public func revoke(_ request: CARevocationRequest, context: CAOperationContext) throws -> CARevocationResult {
        let client = client
        let certificate = request.certificate
        let code = request.reason.code
        do {
            try ACMEBlocking.run(tick: { try context.heartbeat() }, isCancelled: { context.isCancelled }) {
                () async throws(ACMEError) in
                try await client.revoke(certificate, reasonCode: code)
            }
        } catch let error as ACMEError {
            if error.problem?.is("alreadyRevoked") == true {
                return CARevocationResult(revokedAt: Date(), newlyRevoked: false, crlNumber: nil)
            }
            throw Self.connectorError(error, caName: authority.name)
        }
        try rememberAccount(context: context)
        return CARevocationResult(revokedAt: Date(), newlyRevoked: true, crlNumber: nil)
    }

    // MARK: - Refresh

    /// Fetches the directory again and makes sure the account exists (creating it on first
    /// use); warns when the CA has terms of service the operator has not agreed to.
    public func refresh(context: CAOperationContext) throws -> CARefreshResult {
        let client = client
        let (directory, account): (ACMEDirectory, ACMEAccount)
        do {
            (directory, account) = try ACMEBlocking.run(
                tick: { try context.heartbeat() }, isCancelled: { context.isCancelled }
            ) { () async throws(ACMEError) -> (ACMEDirectory, ACMEAccount) in
                let directory = try await client.directory(refresh: true)
                return (directory, try await client.account())
            }
        } catch let error as ACMEError {
            throw Self.connectorError(error, caName: authority.name)
        }
        try rememberAccount(context: context)
        var summary = "ACME directory \(settings.directoryURL) reachable; account \(account.url.absoluteString)"
        var warnings: [CAWarning] = []
        if let terms = directory.meta?.termsOfService {
            summary += "; terms of service \(terms.absoluteString)"
            if !settings.termsOfServiceAgreed {
                warnings.append(CAWarning(
                    code: "ACME_TERMS_NOT_AGREED",
                    message: "CA \(authority.name) has terms of service (\(terms.absoluteString)) that its configuration does not agree to (termsOfServiceAgreed is false)"))
            }
        }
        return CARefreshResult(summary: summary, warnings: warnings)
    }

    // MARK: - Support

    /// Stores the account URL in the CA's configuration the first time it is known.
    private func rememberAccount(context: CAOperationContext) throws {
        guard let account = client.knownAccount, account.url != settings.account else { return }
        try context.database.withConnection { c in
            _ = try c.execute(
                """
                UPDATE certbus.certificate_authorities
                   SET configuration = jsonb_set(configuration, '{accountURL}', to_jsonb($2::text))
                 WHERE id = $1 AND configuration->>'accountURL' IS DISTINCT FROM $2
                """, [authority.id, account.url.absoluteString])
        }
    }

    /// The connector error for an ACME failure: the failed step's status title first, then the
    /// ACME error; permanent unless the ACME error is retryable.
    static func connectorError(_ error: ACMEError, caName: String) -> CAConnectorError {
        let code: CAConnectorError.Code
        switch error.kind {
        case .transport, .timedOut, .cancelled: code = .unreachable
        case .invalidConfiguration: code = .misconfigured
        case .badResponse: code = .internalFailure
        case .problem(let problem) where problem.status == 404: code = .notFound
        case .problem(let problem) where problem.isRetryable: code = .unreachable
        case .problem, .validationFailed, .orderFailed, .unsupportedChallenge, .certificateMismatch: code = .rejected
        }
        let message = (error.failedStatus.map { "\($0.title): " } ?? "") + error.description
        return CAConnectorError(code, caName: caName, message: message, isPermanent: !error.isRetryable)
    }

    /// Remembers why recording the order URL failed (set from the progress callback).
    private final class RecordingFailure: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Error?

        func record(_ error: Error) { lock.withLock { stored = error } }
        var error: Error? { lock.withLock { stored } }
        var failed: Bool { error != nil }
    }
}

/// Makes ``ACMEConnector`` connectors. Register it with ``CertificateAuthorityRegistry``.
public struct ACMEConnectorFactory: CertificateAuthorityConnectorFactory {
    /// `ACME`.
    public var kind: String { ACMEConnector.kind }
    /// Polling intervals and deadlines for the connectors it makes.
    public var polling: ACMEPolling

    /// Creates the factory.
    public init(polling: ACMEPolling = ACMEPolling()) {
        self.polling = polling
    }

    /// Opens the CA's account key with the environment's KEK and makes its connector.
    public func makeConnector(for authority: CertificateAuthorityRecord, environment: CAConnectorEnvironment) throws
        -> any CertificateAuthorityConnector
    {
        let key: KeyEncryptionKey
        do {
            key = try environment.keyEncryptionKey()
        } catch let error as KeyEncryptionKeyError {
            throw CAConnectorError.permanent(.keyUnavailable, caName: authority.name, error.description)
        }
        return try ACMEConnector(authority: authority, keyEncryptionKey: key, polling: polling)
    }
}
