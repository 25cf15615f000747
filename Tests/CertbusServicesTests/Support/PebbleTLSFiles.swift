import Foundation

/// A throwaway CA and a server certificate for `localhost`/127.0.0.1, made with the openssl
/// command line, for pebble's own HTTPS listener. Removed at deinit.
final class PebbleTLSFiles: Sendable {
    /// The directory holding every file (and pebble's config).
    let directory: URL
    /// The CA that signed the server certificate: what the ACME client must trust.
    let caCertificate: String
    /// pebble's server certificate and key.
    let serverCertificate: String
    let serverKey: String

    init() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("certbus-acme-tests-\(UUID().uuidString)")
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        caCertificate = path("ca.pem")
        serverCertificate = path("pebble.pem")
        serverKey = path("pebble.key")
        let caKey = path("ca.key")
        let csr = path("pebble.csr")
        let extensions = path("pebble.ext")
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", caKey, "-out", caCertificate, "-days", "2", "-subj", "/CN=certbus ACME test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try Self.openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", serverKey, "-out", csr, "-subj", "/CN=localhost",
        ])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        try Self.openssl([
            "x509", "-req", "-in", csr, "-CA", caCertificate, "-CAkey", caKey, "-CAcreateserial",
            "-out", serverCertificate, "-days", "2", "-extfile", extensions,
        ])
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes `text` to a file in the directory and returns its path.
    func write(_ text: String, to name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct OpenSSLFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs /usr/bin/openssl; returns its output, throws with it when it exits non-zero.
    @discardableResult
    static func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw OpenSSLFailure(description: "openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}
