import Foundation
import PKI

/// The private keys an agent holds for one endpoint: the installed `key.pem`, and keys generated
/// for CSRs still being issued (`pending/<install job id>.key`, mode 0600, folder 0700). Keys never
/// leave this folder: only CSRs (public) are sent to the database.
public struct AgentKeyStore: Sendable {
    /// The endpoint's folder (the one `CertificateFiles` writes).
    public var directory: String

    public init(directory: String) { self.directory = directory }

    var pendingDirectory: String { (directory as NSString).appendingPathComponent("pending") }

    func pendingPath(_ jobId: Int64) -> String { (pendingDirectory as NSString).appendingPathComponent("\(jobId).key") }

    /// The key generated earlier for install job `jobId`, if any (a retried job reuses it).
    public func pendingKey(for jobId: Int64) throws -> PrivateKey? {
        let path = pendingPath(jobId)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try PrivateKey(pem: try String(contentsOfFile: path, encoding: .utf8))
    }

    /// Generates a key for install job `jobId` and keeps it (mode 0600) until the certificate is installed.
    public func generatePendingKey(_ algorithm: KeyAlgorithm, for jobId: Int64) throws -> PrivateKey {
        let key = try PrivateKey.generate(algorithm)
        try AtomicFile.makeDirectory(directory)
        try AtomicFile.makeDirectory(pendingDirectory)
        try AtomicFile.write(try key.pkcs8PEM(), to: pendingPath(jobId), mode: 0o600)
        return key
    }

    /// Forgets the pending key of `jobId` (after it was installed as key.pem).
    public func discardPending(for jobId: Int64) {
        try? FileManager.default.removeItem(atPath: pendingPath(jobId))
    }

    /// A key this agent holds whose public half is `certificate`'s: the installed key or a pending one.
    public func key(matching certificate: Certificate) -> PrivateKey? {
        var candidates = [(directory as NSString).appendingPathComponent("key.pem")]
        if let pending = try? FileManager.default.contentsOfDirectory(atPath: pendingDirectory) {
            candidates += pending.filter { $0.hasSuffix(".key") }.map { (pendingDirectory as NSString).appendingPathComponent($0) }
        }
        for path in candidates {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), let key = try? PrivateKey(pem: text) else { continue }
            if certificate.matches(key) { return key }
        }
        return nil
    }
}
