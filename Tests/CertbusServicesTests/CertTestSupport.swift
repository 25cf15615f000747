import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Postgres
@testable import CertbusServices

/// A temporary folder removed on deinit.
final class CertScratch: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        try Data(text.utf8).write(to: url.appendingPathComponent(name))
        return path(name)
    }

    func read(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: url.appendingPathComponent(name)), as: UTF8.self)
    }
}

/// The `openssl` command-line tool in a scratch folder: an independent check of what certbus produces.
enum CertOpenSSL {
    /// Runs openssl in `directory` with `input` on standard input; the result whatever its status.
    @discardableResult
    static func run(_ arguments: [String], input: String = "", in directory: CertScratch) throws -> CommandResult {
        try OpenSSLCommand.capture(arguments, input: input, in: directory.url)
    }
}

/// A database with a built-in CA (root + intermediate), a KEK in memory, a registry and a
/// TLS server profile for *.example.test — what most certificate tests start from.
final class CertFixture: @unchecked Sendable {
    let db: TestDatabase
    let connection: Connection
    let pool: ConnectionPool
    let kek: KeyEncryptionKey
    let registry: CertificateAuthorityRegistry
    let root: CertificateAuthorityRecord
    let intermediate: CertificateAuthorityRecord
    let profile: RAProfile
    let scratch: CertScratch
    let actor = Actor.user("tester")

    init(caName: String = "test-ca", profileDraft: ((inout RAProfileDraft) -> Void)? = nil,
         factories: [any CertificateAuthorityConnectorFactory] = [], function: String = #function) throws {
        db = try TestDatabase.create(function: function)
        connection = try db.connect()
        pool = db.pool(maximumConnections: 4)
        kek = KeyEncryptionKey(key: try SecretBox.Key.generate())
        scratch = try CertScratch()
        registry = CertificateAuthorityRegistry.standard(
            environment: CAConnectorEnvironment(homeDirectory: scratch.url.path, variables: [:], keyEncryptionKey: kek),
            adding: factories)
        let cas = try BuiltInCAProvisioner.create(
            BuiltInCASpecification(name: caName, commonName: "certbus Test CA", organization: "certbus tests",
                                   configuration: CAConfiguration(crlURL: "http://crl.example.test/{ca}.crl")),
            keyEncryptionKey: kek, actor: actor, on: connection)
        root = cas[0]
        intermediate = cas[1]
        var draft = RAProfileDraft(name: "web", ca: caName)
        draft.allowedDomains = ["*.example.test", "example.test", "127.0.0.1"]
        profileDraft?(&draft)
        profile = try RAProfileStore.create(draft, actor: actor, on: connection)
    }

    deinit {
        pool.close()
        connection.close()
        db.drop()
    }

    /// The built-in connector of the intermediate.
    func connector() throws -> BuiltInCertificateAuthority {
        try registry.connector(for: try CertificateAuthorityStore.find(id: intermediate.id, on: connection)!) as! BuiltInCertificateAuthority
    }

    /// A CSR for `names` (first name as CN) with a fresh key.
    static func csr(_ names: [String], algorithm: KeyAlgorithm = .ecdsaP256) throws -> (CertificateSigningRequest, PrivateKey) {
        let key = try PrivateKey.generate(algorithm)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: names.first),
            subjectAlternativeNames: names.map(SubjectAlternativeName.dnsNameOrIPAddress))
        return (csr, key)
    }

    /// Enqueues a job through the queue.
    func enqueue(_ kind: JobKind, payload: some Encodable, maxAttempts: Int? = nil) throws -> Int64 {
        try JobQueue.enqueue(on: connection, try NewJob(kind: kind, payload: payload, maxAttempts: maxAttempts, triggeredBy: actor))
    }

    /// Claims the next due job of `kind` as a worker would.
    func claim(_ kind: JobKind) throws -> ClaimedJob {
        let claimed = try JobQueue.claim(on: connection, workerId: "test:1", limit: 1, queues: ["default"], kinds: [kind],
                                         leaseSeconds: 60)
        guard let job = claimed.first else { throw RequestRefusal(.invalidRequest, "no \(kind) job to claim") }
        return job
    }

    /// Runs a claimed job's handler and records the outcome through the queue (the handler's
    /// commit runs in the transaction that finishes the job), as the worker does.
    @discardableResult
    func finish(_ handler: some JobHandler, _ claimed: ClaimedJob) throws -> Result<JobCompletion, JobFailure> {
        let context = JobContext(database: pool, workerId: "test:1")
        do {
            let completion = try handler.run(claimed.job, context: context)
            _ = try JobQueue.complete(on: connection, claimed, completion)
            return .success(completion)
        } catch let failure as JobFailure {
            _ = try JobQueue.fail(on: connection, claimed, failure, retryDelay: 0)
            return .failure(failure)
        }
    }

    /// Enqueues, claims and runs one job; returns its id and outcome.
    @discardableResult
    func process(_ handler: some JobHandler, payload: some Encodable, maxAttempts: Int? = nil) throws -> (Int64, Result<JobCompletion, JobFailure>) {
        let id = try enqueue(handler.kind, payload: payload, maxAttempts: maxAttempts)
        return (id, try finish(handler, try claim(handler.kind)))
    }

    /// A job's status, error and issued certificate.
    func jobState(_ id: Int64) throws -> (status: String, error: String?, issued: UUID?, caRequestId: String?) {
        let row = try connection.query("SELECT status, error, issued_certificate_id, ca_request_id FROM certbus.jobs WHERE id = $1", [id]).firstRow!
        return (try row.decode("status"), try row.decode("error"), try row.decode("issued_certificate_id"), try row.decode("ca_request_id"))
    }

    /// The handlers of this fixture's registry.
    lazy var issue = IssueCertificateHandler(registry: registry)
    lazy var renew = RenewCertificateHandler(registry: registry)
    lazy var revoke = RevokeCertificateHandler(registry: registry)
    lazy var refresh = RefreshCAHandler(registry: registry)

    /// Row count of a table (for "nothing else changed" checks).
    func count(_ table: String, where condition: String = "true") throws -> Int {
        try connection.query("SELECT count(*) AS n FROM certbus.\(table) WHERE \(condition)").firstRow!.decode("n")
    }
}
