import Foundation
import PKI
import Postgres

/// One file `certbus ca publish` wrote.
public struct PublishedCAFile: Sendable, Equatable {
    /// The CA it belongs to.
    public var caName: String
    /// `certificate` or `crl`.
    public var kind: String
    /// Where it was written.
    public var path: String
}

/// Writes what a built-in CA's certificates point at (the caIssuers URL: its certificate; the
/// CRL distribution point: its current CRL) as files for a web server: `<name>.crt` and
/// `<name>.crl`, DER, as RFC 5280 §4.2.1.13 and §4.2.2.1 want them served over HTTP
/// (`application/pkix-crl`, `application/pkix-cert`). Each file is written to a temporary name
/// and renamed, so a web server never serves half a file.
public enum CAPublication {
    /// The file name of a CA's certificate: `<name>.crt`.
    public static func certificateFileName(_ caName: String) -> String { caName + ".crt" }
    /// The file name of a CA's CRL: `<name>.crl`.
    public static func crlFileName(_ caName: String) -> String { caName + ".crl" }

    /// Writes the certificate and current CRL of every built-in CA into `directory` (which must
    /// exist) and returns what it wrote, by CA name. Throws ``CACreationError`` naming the problem
    /// (no such directory, a file that cannot be written) after writing nothing more.
    public static func publish(into directory: String, on connection: Connection) throws -> [PublishedCAFile] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CACreationError(message: "\(directory) is not a directory")
        }
        var written: [PublishedCAFile] = []
        for authority in try CertificateAuthorityStore.list(on: connection) where authority.kind == BuiltInCertificateAuthority.kind {
            guard let pem = authority.certificatePEM else { continue }
            let certificate = try Certificate(pem: pem)
            let certificatePath = (directory as NSString).appendingPathComponent(certificateFileName(authority.name))
            try write(certificate.der, to: certificatePath)
            written.append(PublishedCAFile(caName: authority.name, kind: "certificate", path: certificatePath))
            if let crlPEM = try CertificateAuthorityAdmin.currentCRL(authority.id.uuidString, on: connection) {
                let crlPath = (directory as NSString).appendingPathComponent(crlFileName(authority.name))
                try write(try CertificateRevocationList(pem: crlPEM).der, to: crlPath)
                written.append(PublishedCAFile(caName: authority.name, kind: "crl", path: crlPath))
            }
        }
        return written
    }

    private static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, path) != 0 {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: temporary)
                throw CACreationError(message: "cannot write \(path): \(reason)")
            }
        } catch let error as CACreationError {
            throw error
        } catch {
            throw CACreationError(message: "cannot write \(path): \(error.localizedDescription)")
        }
    }
}
