import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Postgres

/// A root and an intermediate CA made with the PKI module, issuing TLS server leaves.
struct ValidationPKI {
    let root: CertificateIssuer
    let intermediate: CertificateIssuer

    init(name: String = "Validation Test") throws {
        let rootKey = try PrivateKey.generate(.ecdsaP256)
        root = try CertificateIssuer.selfSignedRoot(key: rootKey, subject: DistinguishedName(commonName: "\(name) Root"))
        let intermediateKey = try PrivateKey.generate(.ecdsaP256)
        let certificate = try root.issue(
            publicKey: intermediateKey.publicKey, subject: DistinguishedName(commonName: "\(name) Issuing CA"),
            subjectAlternativeNames: [], profile: .intermediateCA())
        intermediate = try CertificateIssuer(certificate: certificate, key: intermediateKey)
    }

    /// A leaf for `names` (DNS names or IP addresses) issued at `issuedAt`, valid `days` days.
    func leaf(_ names: [String], issuedAt: Date = Date(), days: Int = 30) throws -> (key: PrivateKey, certificate: Certificate) {
        let key = try PrivateKey.generate(.ecdsaP256)
        let certificate = try intermediate.issue(
            publicKey: key.publicKey, subject: DistinguishedName(commonName: names[0]),
            subjectAlternativeNames: names.map(SubjectAlternativeName.dnsNameOrIPAddress),
            profile: .tlsServer(validityDays: days), now: issuedAt)
        return (key, certificate)
    }

    /// The chain a correctly configured server sends after its leaf.
    var servedChain: [Certificate] { [intermediate.certificate] }

    /// Inserts this CA into certbus.certificate_authorities (intermediate, with the root as its chain).
    func insertCA(on connection: Connection, name: String = "test-ca") throws -> UUID {
        try connection.query(
            """
            INSERT INTO certbus.certificate_authorities (name, kind, certificate_pem, chain_pem)
            VALUES ($1, 'BUILT_IN', $2, $3) RETURNING id
            """, [name, intermediate.certificate.pem, root.certificate.pem])[0].decode("id")
    }
}

/// A scratch directory removed at deinit.
final class ScratchFolder: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-endpoints-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` and returns the path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// `openssl s_server` on 127.0.0.1 serving a leaf and chain; killed at deinit.
final class ValidationTLSServer: @unchecked Sendable {
    private let server: OpenSSLTestServer
    private let scratch: ScratchFolder
    var port: Int { server.port }

    init(certificate: Certificate, key: PrivateKey, chain: [Certificate]) throws {
        scratch = try ScratchFolder()
        server = try OpenSSLTestServer(
            certificate: try scratch.write(certificate.pem, to: "leaf.pem"), key: try scratch.write(try key.pkcs8PEM(), to: "leaf.key"),
            chain: chain.isEmpty ? nil : try scratch.write(chain.map(\.pem).joined(), to: "chain.pem"))
    }
}
