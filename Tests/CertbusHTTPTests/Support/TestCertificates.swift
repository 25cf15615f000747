import CertbusTesting
import Foundation

/// A throwaway PKI made with the `openssl` command line: two unrelated CAs and server
/// certificates for loopback names.
final class TestCertificates: Sendable {
    private let pki: OpenSSLTestPKI
    /// The directory holding every file; removed at deinit.
    var directory: URL { pki.directory }
    /// CA that signed the server certificates.
    let caCertificate: String
    /// An unrelated CA (for "wrong CA" tests).
    let otherCACertificate: String
    /// Server certificate for DNS:localhost and IP:127.0.0.1, signed by `caCertificate`.
    let localhostCertificate: String
    let localhostKey: String
    /// Server certificate for DNS:other.test only, signed by `caCertificate`.
    let otherNameCertificate: String
    let otherNameKey: String

    /// Generates everything with /usr/bin/openssl (EC P-256 keys).
    init() throws {
        pki = try OpenSSLTestPKI(prefix: "certbus-http-tests")
        let ca = try pki.makeCA("ca", commonName: "certbus test CA")
        caCertificate = ca.certificate
        otherCACertificate = try pki.makeCA("other-ca", commonName: "unrelated CA").certificate
        let localhost = try pki.makeLeaf(
            "localhost", commonName: "localhost", subjectAltName: "DNS:localhost,IP:127.0.0.1", signedBy: ca)
        (localhostCertificate, localhostKey) = (localhost.certificate, localhost.key)
        let otherName = try pki.makeLeaf("other-name", commonName: "other.test", subjectAltName: "DNS:other.test", signedBy: ca)
        (otherNameCertificate, otherNameKey) = (otherName.certificate, otherName.key)
    }
}
