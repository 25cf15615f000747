import CertbusTesting
import Foundation
import PKI
import Testing

@testable import CertbusHTTP

#if canImport(Glibc)
import Glibc
#endif

/// TLSProbe against real servers on 127.0.0.1: `openssl s_server` (with SNI), a plain-text
/// service, a silent listener and a closed port.
@Suite struct TLSProbeTests {
    @Test func returnsTheServedChainProtocolAndCipher() throws {
        let certificates = try TestCertificates()
        let server = try OpenSSLTestServer(arguments: [
            "-cert", certificates.localhostCertificate, "-key", certificates.localhostKey,
            "-cert_chain", certificates.caCertificate,
        ])
        let result = try TLSProbe.probe(host: "127.0.0.1", port: server.port, serverName: "localhost", timeout: 10)
        let leaf = try PKI.Certificate(pem: String(contentsOfFile: certificates.localhostCertificate, encoding: .utf8))
        let ca = try PKI.Certificate(pem: String(contentsOfFile: certificates.caCertificate, encoding: .utf8))
        #expect(result.chain.count == 2)
        #expect(result.leaf.sha256Fingerprint == leaf.sha256Fingerprint)
        #expect(result.leaf.der == leaf.der)
        #expect(result.chain[1].sha256Fingerprint == ca.sha256Fingerprint)
        #expect(try PKI.Certificate(pem: result.leaf.pem) == leaf)
        #expect(result.protocolVersion == "TLSv1.3")
        #expect(!result.cipher.isEmpty && result.cipher != "unknown")
        #expect(result.serverName == "localhost")
    }

    /// The probe trusts nothing: a certificate from an unknown CA for another name is still returned.
    @Test func sendsSNIAndTrustsNothing() throws {
        let certificates = try TestCertificates()
        let server = try OpenSSLTestServer(arguments: [
            "-cert", certificates.localhostCertificate, "-key", certificates.localhostKey,
            "-servername", "other.test", "-cert2", certificates.otherNameCertificate, "-key2", certificates.otherNameKey,
        ])
        let localhost = try PKI.Certificate(pem: String(contentsOfFile: certificates.localhostCertificate, encoding: .utf8))
        let other = try PKI.Certificate(pem: String(contentsOfFile: certificates.otherNameCertificate, encoding: .utf8))
        let withSNI = try TLSProbe.probe(host: "127.0.0.1", port: server.port, serverName: "other.test", timeout: 10)
        #expect(withSNI.leaf.sha256Fingerprint == other.sha256Fingerprint)
        let withoutSNI = try TLSProbe.probe(host: "127.0.0.1", port: server.port, timeout: 10)
        #expect(withoutSNI.leaf.sha256Fingerprint == localhost.sha256Fingerprint)
        #expect(withoutSNI.serverName == nil)
        // An IP literal is never sent as SNI.
        let ipName = try TLSProbe.probe(host: "127.0.0.1", port: server.port, serverName: "127.0.0.1", timeout: 10)
        #expect(ipName.serverName == nil)
        #expect(ipName.leaf.sha256Fingerprint == localhost.sha256Fingerprint)
    }

    @Test func refusedConnectionIsNamed() throws {
        let refusing = try LoopbackPort.refusing()
        defer { refusing.release() }
        let port = refusing.port
        let error = try #require(throws: TLSProbeError.self) { try TLSProbe.probe(host: "127.0.0.1", port: port, timeout: 5) }
        #expect(error.kind == .refused)
        #expect(error.kind.isUnreachable)
        #expect(error.description == "cannot probe 127.0.0.1:\(port): connection refused (nothing listens on that port)")
    }

    @Test func silentServiceTimesOut() throws {
        let listener = try SilentListener()
        let error = try #require(throws: TLSProbeError.self) {
            try TLSProbe.probe(host: "127.0.0.1", port: listener.port, timeout: 0.5)
        }
        #expect(error.kind == .timedOut)
        #expect(error.reason.contains("no TLS handshake within 0.5 s"))
    }

    @Test(arguments: ["HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n"])
    func plainTextServiceIsNotTLS(_ greeting: String) throws {
        let service = try PlainTextService(greeting: greeting)
        let error = try #require(throws: TLSProbeError.self) {
            try TLSProbe.probe(host: "127.0.0.1", port: service.port, timeout: 5)
        }
        #expect(error.kind == .notTLS, "\(error)")
        #expect(error.reason.contains("does not speak TLS"))
    }

    @Test func serviceThatHangsUpFailsTheHandshake() throws {
        let service = try PlainTextService(greeting: "")
        let error = try #require(throws: TLSProbeError.self) {
            try TLSProbe.probe(host: "127.0.0.1", port: service.port, timeout: 5)
        }
        #expect(error.kind == .handshakeFailed, "\(error)")
        #expect(error.reason.contains("closed the connection"))
    }

    @Test func badTargetsAreRefusedBeforeConnecting() throws {
        let cases: [(String, Int, String?, Double, String)] = [
            ("", 443, nil, 5, "host"), ("a b", 443, nil, 5, "host"), ("127.0.0.1", 0, nil, 5, "port 0"),
            ("127.0.0.1", 70000, nil, 5, "port 70000"), ("127.0.0.1", 443, nil, 0, "timeout"),
            ("127.0.0.1", 443, "", 5, "server name"),
        ]
        for (host, port, name, timeout, text) in cases {
            let error = try #require(throws: TLSProbeError.self) {
                try TLSProbe.probe(host: host, port: port, serverName: name, timeout: timeout)
            }
            #expect(error.kind == .invalidTarget)
            #expect(error.reason.contains(text), "\(error)")
        }
        let unknown = try #require(throws: TLSProbeError.self) {
            try TLSProbe.probe(host: "no-such-host.invalid", port: 443, timeout: 5)
        }
        #expect(unknown.kind == .nameResolution)
    }
}

/// A loopback socket that listens but never accepts: connections complete in the kernel's
/// backlog and then nothing is ever said.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        (fd, port) = try loopbackListener()
    }

    deinit { close(fd) }
}

/// Accepts one connection, writes `greeting` (possibly nothing), waits for the client's first
/// bytes, and hangs up.
final class PlainTextService: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init(greeting: String) throws {
        (fd, port) = try loopbackListener()
        let listener = fd
        Thread {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            if greeting.isEmpty {
                _ = recv(client, &buffer, buffer.count, 0)
            } else {
                _ = greeting.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                _ = recv(client, &buffer, buffer.count, 0)
            }
            close(client)
        }.start()
    }

    deinit { close(fd) }
}

/// A listening TCP socket on 127.0.0.1 with an ephemeral port.
private func loopbackListener() throws -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0, listen(fd, 8) == 0 else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
