import CertbusCore
import Foundation
import PKI
import Postgres

/// How an install attempt ended, as recorded by `certbus.agent_finish_install`.
public struct InstallResult: Sendable, Equatable {
    public var outcome: InstallOutcome
    public var message: String
    public var certificateId: UUID?
    /// The job's status afterwards: SUCCESS, FAILED, QUEUED or CANCELLED.
    public var jobStatus: String
}

/// Runs INSTALL_CERT jobs on the agent's host. Not a `JobHandler`: an agent has no privilege on
/// `certbus.jobs`, so it claims and finishes through `AgentClient` (the `certbus.agent_*` functions),
/// and its database effects happen inside `certbus.agent_finish_install` rather than in a commit closure.
///
/// Two kinds of job:
/// - **CSR path** (payload `profile`): the agent generates the key locally (kept in
///   `<dir>/<endpoint>/pending/<job>.key`, mode 0600), submits only the CSR (endpoint → Issuing
///   certificate), waits for the ISSUE_CERT job (heartbeating its lease), then installs.
/// - **Issued certificate** (payload `certificate_id`): installed when the agent holds its key.
///
/// Installing writes the files atomically (`CertificateFiles`), runs the post-install command, and
/// ends the job: Installation completed → Install validation in progress with a VALIDATE_DEPLOYMENT
/// job, or Installation failed / Script error / Agent error / Issuance failed.
public struct InstallCertificateHandler: Sendable {
    /// Folder under which each endpoint gets `<directory>/<endpoint name>/`.
    public var directory: String
    /// Run after the files are written; nil for none.
    public var postInstall: PostInstallCommand?
    /// How long one attempt waits for the CA before giving the job back (`WAIT`, not counted).
    public var issuanceWait: Double
    /// Seconds between issuance checks.
    public var pollInterval: Double

    public init(directory: String, postInstall: PostInstallCommand? = nil, issuanceWait: Double = 120, pollInterval: Double = 1) {
        self.directory = directory
        self.postInstall = postInstall
        self.issuanceWait = issuanceWait
        self.pollInterval = pollInterval
    }

    /// The files of an endpoint.
    public func files(for endpointName: String) -> CertificateFiles {
        CertificateFiles(directory: (directory as NSString).appendingPathComponent(endpointName))
    }

    /// Runs one attempt of `job` and ends it in the database. Throws only when the database cannot be
    /// reached (the lease then expires and the job is retried).
    @discardableResult
    public func run(_ job: AgentJob, client: AgentClient, on connection: Connection) throws -> InstallResult {
        func finish(_ outcome: InstallOutcome, _ message: String, certificate: UUID? = nil, delay: Double = 30) throws -> InstallResult {
            let status = try client.finish(job, outcome: outcome, message: message, certificateId: certificate, delaySeconds: delay, on: connection)
            return InstallResult(outcome: outcome, message: message, certificateId: certificate, jobStatus: status)
        }
        let details = try client.installDetails(job, on: connection)
        let files = files(for: details.endpointName)
        let keys = AgentKeyStore(directory: files.directory)

        // 1. The certificate and its key.
        let certificateId: UUID
        let certificatePEM: String
        let chainPEM: String
        let key: PrivateKey
        if let givenId = details.certificateId, let pem = details.certificatePEM {
            guard let certificate = try? Certificate(pem: pem) else {
                return try finish(.agentError, "certificate \(givenId.uuidString.lowercased()) cannot be parsed")
            }
            guard let held = keys.key(matching: certificate) else {
                return try finish(
                    .agentError,
                    "this agent holds no private key for certificate \(givenId.uuidString.lowercased()); request the install with a profile so the agent generates the key")
            }
            (certificateId, certificatePEM, chainPEM, key) = (givenId, pem, details.chainPEM ?? "", held)
        } else if details.profile != nil {
            guard let keyType = GeneratedKeyType(rawValue: details.keyAlgorithm) else {
                return try finish(.agentError, "unknown key algorithm \(details.keyAlgorithm)")
            }
            let names = details.names ?? details.serverName.map { [$0] } ?? []
            guard let first = names.first else {
                return try finish(.agentError, "no names for the CSR: the endpoint has no server name and the job gives none")
            }
            do {
                key = try keys.pendingKey(for: job.id) ?? keys.generatePendingKey(keyType.algorithm, for: job.id)
                let csr = try CertificateSigningRequest.create(
                    key: key, subject: DistinguishedName(commonName: first),
                    subjectAlternativeNames: names.map(SubjectAlternativeName.dnsNameOrIPAddress))
                try client.submitCSR(job, pem: csr.pem, on: connection)
            } catch let error as PostgresError {
                throw error
            } catch {
                return try finish(.agentError, "cannot make the key and CSR: \(error)")
            }
            switch try waitForIssuance(job, client: client, on: connection) {
            case .issued(let id, let pem, let chain):
                guard let certificate = try? Certificate(pem: pem), certificate.matches(key) else {
                    return try finish(.agentError, "the issued certificate \(id.uuidString.lowercased()) does not match the agent's key")
                }
                (certificateId, certificatePEM, chainPEM) = (id, pem, chain)
            case .failed(let error):
                keys.discardPending(for: job.id)
                return try finish(.issuanceFailed, error)
            case .pending:
                return try finish(.wait, "waiting for the certificate to be issued", delay: 30)
            }
        } else {
            return try finish(.agentError, "the job gives neither a certificate nor a profile")
        }

        // 2. The files.
        try client.installing(job, certificateId: certificateId, on: connection)
        do {
            try files.install(certificatePEM: certificatePEM, chainPEM: chainPEM, keyPEM: try key.pkcs8PEM())
        } catch {
            return try finish(.installationFailed, "\(error)", certificate: certificateId)
        }
        keys.discardPending(for: job.id)

        // 3. The post-install command.
        if let postInstall {
            let environment = [
                "CERTBUS_ENDPOINT": details.endpointName, "CERTBUS_CERT_FILE": files.certificate, "CERTBUS_KEY_FILE": files.key,
                "CERTBUS_CHAIN_FILE": files.chain, "CERTBUS_FULLCHAIN_FILE": files.fullChain,
                "CERTBUS_CERTIFICATE_ID": certificateId.uuidString.lowercased(),
            ]
            let outcome: PostInstallCommand.Outcome
            do {
                outcome = try postInstall.run(environment: environment)
            } catch {
                return try finish(.scriptError, "\(error)", certificate: certificateId)
            }
            if !outcome.succeeded {
                let what = outcome.timedOut
                    ? "timed out after \(postInstall.timeout) s"
                    : "exited with status \(outcome.exitStatus.map(String.init) ?? "?")"
                let output = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
                return try finish(
                    .scriptError, "post-install command \(what)\(output.isEmpty ? "" : ": " + String(output.prefix(1000)))",
                    certificate: certificateId)
            }
        }
        return try finish(.installed, "installed in \(files.directory)", certificate: certificateId)
    }

    /// Polls the issuance of the job's CSR until issued, failed, `issuanceWait` passed, or the job was cancelled,
    /// extending the job's lease meanwhile.
    private func waitForIssuance(_ job: AgentJob, client: AgentClient, on connection: Connection) throws -> IssuanceState {
        let deadline = Date().addingTimeInterval(issuanceWait)
        while true {
            let state = try client.issuance(job, on: connection)
            if state != .pending { return state }
            if Date() >= deadline { return .pending }
            guard try client.extendLease(job, on: connection) else { return .failed("cancelled by an operator") }
            Thread.sleep(forTimeInterval: pollInterval)
        }
    }
}
