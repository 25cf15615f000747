import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Postgres

@testable import CertbusServices

/// A test database with an ACME CA row pointing at pebble, and the registry that makes its
/// connector. pebble validates http-01 on a free port the CA's `http01Address` names.
final class ACMEConnectorFixture: @unchecked Sendable {
    let db: TestDatabase
    let pool: ConnectionPool
    let pebble: PebbleServer
    let kek: KeyEncryptionKey
    let registry: CertificateAuthorityRegistry
    let authority: CertificateAuthorityRecord
    let home: URL

    init(name: String = "pebble", function: String = #function) throws {
        db = try TestDatabase.create(function: function)
        pool = db.pool()
        let httpPort = try LoopbackPort.unused()
        pebble = try PebbleServer(httpPort: httpPort)
        kek = KeyEncryptionKey(key: try SecretBox.Key.generate())
        home = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-acme-home-\(UUID().uuidString)")
        registry = CertificateAuthorityRegistry.standard(
            environment: CAConnectorEnvironment(homeDirectory: home.path, variables: [:], keyEncryptionKey: kek),
            adding: [ACMEConnectorFactory(polling: ACMETestFixture.polling)])
        let settings = ACMESettings(
            directoryURL: pebble.directoryURL, contact: ["ops@certbus.test"], http01Address: "127.0.0.1:\(httpPort)",
            trustedCAFile: pebble.caCertificate)
        let kek = kek
        authority = try pool.withConnection { c in
            try ACMECAProvisioner.create(
                name: name, settings: settings, keyEncryptionKey: kek, actor: .user("alice"), on: c)
        }
    }

    deinit {
        pool.close()
        db.drop()
        try? FileManager.default.removeItem(at: home)
    }

    /// The CA row as stored now.
    func reload() throws -> CertificateAuthorityRecord {
        try pool.withConnection { c in try CertificateAuthorityStore.find(id: authority.id, on: c)! }
    }

    /// A context whose recorded CA request ids are collected in `recorded`.
    func context(recorded: RecordedIds = RecordedIds(), failRecording: Bool = false) -> CAOperationContext {
        CAOperationContext(
            database: pool,
            recordCARequestId: { id in
                if failRecording { throw RecordingRefused() }
                recorded.append(id)
            })
    }

    /// An issue request for `names` with a fresh key (first name also the common name).
    static func request(for names: [String], previous: String? = nil) throws -> CAIssueRequest {
        let (csr, _) = try ACMETestFixture.csr(for: names)
        return CAIssueRequest(
            idempotencyKey: UUID().uuidString.lowercased(), csr: csr, subject: DistinguishedName(commonName: names[0]),
            subjectAlternativeNames: names.map { .dnsName($0) }, validityDays: 90, certificateType: .tlsServer,
            previousCARequestId: previous)
    }

    struct RecordingRefused: Error, CustomStringConvertible {
        var description: String { "the database refused the update" }
    }
}

/// Thread-safe list of recorded CA request ids.
final class RecordedIds: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String] = []
    func append(_ id: String) { lock.withLock { ids.append(id) } }
    var all: [String] { lock.withLock { ids } }
}

/// Runs blocking work (a CA connector call) on a thread of its own, never on Swift's
/// cooperative pool, and awaits its result.
func onWorkerThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
