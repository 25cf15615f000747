import CertbusServices
import Foundation
import PKI
import Postgres

#if canImport(Glibc)
import Glibc
#endif

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
    struct StartFailure: Error, CustomStringConvertible {
        let output: String
        var description: String { "openssl s_server did not start: \(output)" }
    }

    private let process = Process()
    private let scratch: ScratchFolder
    let port: Int

    init(certificate: Certificate, key: PrivateKey, chain: [Certificate]) throws {
        scratch = try ScratchFolder()
        let certificatePath = try scratch.write(certificate.pem, to: "leaf.pem")
        let keyPath = try scratch.write(try key.pkcs8PEM(), to: "leaf.key")
        var arguments = ["s_server", "-accept", "127.0.0.1:0", "-cert", certificatePath, "-key", keyPath, "-www"]
        if !chain.isEmpty {
            arguments += ["-cert_chain", try scratch.write(chain.map(\.pem).joined(), to: "chain.pem")]
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = Pipe()
        try process.run()
        var seen = Data()
        var found: Int?
        let handle = output.fileHandleForReading
        while found == nil {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
            let text = String(decoding: seen, as: UTF8.self)
            if let range = text.range(of: "ACCEPT 127.0.0.1:") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if text[range.upperBound...].dropFirst(digits.count).first?.isNewline == true { found = Int(digits) }
            }
        }
        guard let found else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            throw StartFailure(output: String(decoding: seen, as: UTF8.self))
        }
        port = found
        handle.readabilityHandler = { handle in _ = handle.availableData }
    }

    deinit {
        // SIGKILL: processes started from test threads may inherit a mask that blocks SIGTERM.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A loopback port nothing listens on (bound, read back, closed).
func unusedLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
