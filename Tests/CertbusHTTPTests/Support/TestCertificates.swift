import Foundation

/// A throwaway PKI made with the `openssl` command line: two unrelated CAs and server
/// certificates for loopback names.
final class TestCertificates: Sendable {
    /// The directory holding every file; removed at deinit.
    let directory: URL
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
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("certbus-http-tests-\(UUID().uuidString)")
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        caCertificate = path("ca.pem")
        otherCACertificate = path("other-ca.pem")
        localhostCertificate = path("localhost.pem")
        localhostKey = path("localhost.key")
        otherNameCertificate = path("other-name.pem")
        otherNameKey = path("other-name.key")

        try Self.makeCA(certificate: caCertificate, key: path("ca.key"), name: "certbus test CA")
        try Self.makeCA(certificate: otherCACertificate, key: path("other-ca.key"), name: "unrelated CA")
        try Self.makeLeaf(
            certificate: localhostCertificate, key: localhostKey, name: "localhost",
            subjectAltName: "DNS:localhost,IP:127.0.0.1", caCertificate: caCertificate, caKey: path("ca.key"),
            in: directory)
        try Self.makeLeaf(
            certificate: otherNameCertificate, key: otherNameKey, name: "other.test",
            subjectAltName: "DNS:other.test", caCertificate: caCertificate, caKey: path("ca.key"), in: directory)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    private static func makeCA(certificate: String, key: String, name: String) throws {
        try OpenSSLCommand.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=\(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    private static func makeLeaf(
        certificate: String, key: String, name: String, subjectAltName: String, caCertificate: String,
        caKey: String, in directory: URL
    ) throws {
        let csr = directory.appendingPathComponent("\(name).csr").path
        let extensions = directory.appendingPathComponent("\(name).ext").path
        try OpenSSLCommand.run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=\(name)",
        ])
        try "subjectAltName=\(subjectAltName)\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        try OpenSSLCommand.run([
            "x509", "-req", "-in", csr, "-CA", caCertificate, "-CAkey", caKey, "-CAcreateserial",
            "-out", certificate, "-days", "2", "-extfile", extensions,
        ])
    }
}

/// Runs `/usr/bin/openssl`.
enum OpenSSLCommand {
    struct Failure: Error, CustomStringConvertible {
        let arguments: [String]
        let output: String
        var description: String { "openssl \(arguments.joined(separator: " ")) failed: \(output)" }
    }

    /// Runs openssl with `arguments` and throws with its output when it exits non-zero.
    static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(arguments: arguments, output: String(decoding: data, as: UTF8.self))
        }
    }
}
