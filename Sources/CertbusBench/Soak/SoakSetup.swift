import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// The soak's private home: the folder its processes use as `CERTBUS_HOME` (their KEK and audit
/// signing key are created there, so no key of the operator's is touched) and where their logs go.
struct SoakWorkDirectory {
    /// The folder.
    let path: String
    /// Whether it is removed at the end (a temporary folder, not one given with `--keep`).
    let isTemporary: Bool

    /// `keep` (created if missing; it must be empty), or a new temporary folder.
    init(keep: String?) throws {
        let manager = FileManager.default
        if let keep {
            let absolute = URL(fileURLWithPath: keep).standardizedFileURL.path
            if manager.fileExists(atPath: absolute) {
                guard let contents = try? manager.contentsOfDirectory(atPath: absolute), contents.isEmpty else {
                    throw BenchmarkError("--keep \(keep): the folder must be empty or new (it receives the run's keys and logs)")
                }
            } else {
                try manager.createDirectory(atPath: absolute, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            chmod(absolute, 0o700)
            path = absolute
            isTemporary = false
        } else {
            path = manager.temporaryDirectory.appendingPathComponent("certbus-soak-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            isTemporary = true
        }
    }

    /// The environment of the soak's certbus processes: this folder as home, default key files in
    /// it (any configured KEK, audit key or database URL is blanked out).
    var environment: [String: String] {
        ["CERTBUS_HOME": path, KeyEncryptionKey.environmentVariable: "", AuditSigningKey.environmentVariable: "", "CERTBUS_DATABASE_URL": ""]
    }

    /// The KEK the processes use (created now).
    func keyEncryptionKey() throws -> KeyEncryptionKey { try KeyEncryptionKey.load(environment: [:], homeDirectory: path) }

    /// The audit signing key the scheduler's sealer uses (created now).
    func auditKey() throws -> AuditSigningKey { try AuditSigningKey.load(environment: [:], homeDirectory: path) }

    /// `name` inside the folder.
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Removes the folder if it is temporary.
    func cleanUp() {
        if isTemporary { try? FileManager.default.removeItem(atPath: path) }
    }
}

extension SoakBenchmark {
    /// The soak's CA and profile names.
    static let caName = "soak-ca"
    static let profileName = "soak"
    static let domain = "soak.test"

    /// Creates the built-in CA (ECDSA P-256 root + intermediate, sealed under the soak's KEK) and
    /// a TLS server profile for `*.soak.test`.
    func createAuthority(kek: KeyEncryptionKey, on c: Connection) throws {
        _ = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: Self.caName), keyEncryptionKey: kek, actor: .system("soak"), on: c)
        var draft = RAProfileDraft(name: Self.profileName, ca: Self.caName)
        draft.allowedDomains = ["*.\(Self.domain)"]
        _ = try RAProfileStore.create(draft, actor: .system("soak"), on: c)
    }

    /// The payloads of the jobs: names for certbus to generate keys for, or fresh ECDSA P-256 CSRs
    /// (made on every core; the keys are thrown away).
    func makePayloads() throws -> [IssueCertificatePayload] {
        let names = (0..<jobs).map { "host-\($0).\(Self.domain)" }
        if generatedKeys {
            return names.map { IssueCertificatePayload(profile: Self.profileName, commonName: $0, subjectAlternativeNames: [$0]) }
        }
        let csrs = BenchLocked<[Int: String]>([:])
        let failure = BenchLocked<Error?>(nil)
        DispatchQueue.concurrentPerform(iterations: max(1, ProcessInfo.processInfo.activeProcessorCount)) { part in
            var mine: [Int: String] = [:]
            for i in stride(from: part, to: names.count, by: max(1, ProcessInfo.processInfo.activeProcessorCount)) {
                do {
                    let key = try PrivateKey.generate(.ecdsaP256)
                    mine[i] = try CertificateSigningRequest.create(
                        key: key, subject: DistinguishedName(commonName: names[i]), subjectAlternativeNames: [.dnsName(names[i])]).pem
                } catch {
                    failure.value = error
                    return
                }
            }
            csrs.update { $0.merge(mine) { a, _ in a } }
        }
        if let error = failure.value { throw error }
        let all = csrs.value
        return (0..<jobs).map { IssueCertificatePayload(profile: Self.profileName, csr: all[$0]!) }
    }

    /// Enqueues one ISSUE_CERT job per payload, 1,000 per statement.
    func enqueue(_ payloads: [IssueCertificatePayload], on c: Connection) throws {
        for start in stride(from: 0, to: payloads.count, by: 1000) {
            let batch = try payloads[start..<min(start + 1000, payloads.count)].map {
                try NewJob(kind: .issueCertificate, payload: $0, name: "soak", triggeredBy: .system("soak"))
            }
            _ = try c.withTransaction { try JobQueue.enqueue(on: $0, batch: batch) }
        }
    }
}
