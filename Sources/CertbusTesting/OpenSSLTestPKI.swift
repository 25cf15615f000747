import Foundation

/// A throwaway PKI made with the openssl command line in a temporary directory of its own,
/// removed at deinit: self-signed CAs and TLS server certificates they sign. Keys are EC P-256,
/// certificates valid for two days. Every file lives in `directory` as `<name>.pem` and
/// `<name>.key`, so names must be unique within one PKI.
public final class OpenSSLTestPKI: Sendable {
    /// A certificate and its private key, as paths of PEM files.
    public struct Files: Sendable {
        /// The certificate (PEM).
        public let certificate: String
        /// Its unencrypted private key (PEM).
        public let key: String
    }

    /// The directory holding every file; callers may write their own files into it.
    public let directory: URL

    /// Creates an empty directory `<prefix>-<uuid>` under the temporary directory.
    public init(prefix: String = "certbus-test-pki") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// The path of the file `name` in `directory` (whether or not it exists).
    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Writes `text` to the file `name` in `directory` and returns its path.
    @discardableResult
    public func write(_ text: String, to name: String) throws -> String {
        let path = path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A self-signed CA certificate `<name>.pem` (subject `CN=commonName`, critical
    /// `basicConstraints CA:TRUE`, `keyUsage keyCertSign, cRLSign`) and its key `<name>.key`.
    public func makeCA(_ name: String, commonName: String) throws -> Files {
        let files = Files(certificate: path("\(name).pem"), key: path("\(name).key"))
        try OpenSSLCommand.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", files.key, "-out", files.certificate, "-days", "2", "-subj", "/CN=\(commonName)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        return files
    }

    /// A TLS server certificate `<name>.pem` signed by `ca` (subject `CN=commonName`,
    /// `subjectAltName` in openssl's syntax, e.g. `DNS:localhost,IP:127.0.0.1`,
    /// `extendedKeyUsage serverAuth`, `basicConstraints CA:FALSE`) and its key `<name>.key`.
    public func makeLeaf(_ name: String, commonName: String, subjectAltName: String, signedBy ca: Files) throws -> Files {
        let files = Files(certificate: path("\(name).pem"), key: path("\(name).key"))
        let csr = path("\(name).csr")
        try OpenSSLCommand.run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", files.key, "-out", csr, "-subj", "/CN=\(commonName)",
        ])
        let extensions = try write(
            "subjectAltName=\(subjectAltName)\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n", to: "\(name).ext")
        try OpenSSLCommand.run([
            "x509", "-req", "-in", csr, "-CA", ca.certificate, "-CAkey", ca.key, "-CAcreateserial",
            "-out", files.certificate, "-days", "2", "-extfile", extensions,
        ])
        return files
    }
}
