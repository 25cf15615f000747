import CertbusCore
import CertbusHTTP
import CertbusTesting
import Foundation
import PKI

@testable import CertbusServices

/// pebble plus certbus's http-01 responder on a free loopback port that pebble validates
/// against, and helpers to make clients, CSRs and check chains.
final class ACMETestFixture: @unchecked Sendable {
    let responder: ACMEHTTP01Responder
    let pebble: PebbleServer
    let dns: PebbleChallengeTestServer?
    /// Without a running responder: the port pebble validates against, held so that it refuses.
    let refusing: RefusingPort?

    /// Starts the responder (unless `responderRunning` is false: then pebble validates against a
    /// port nothing listens on), optionally challtestsrv as pebble's DNS, and pebble.
    init(responderRunning: Bool = true, withDNS: Bool = false, nonceRejectPercent: Int = 0) throws {
        responder = ACMEHTTP01Responder(host: "127.0.0.1", port: 0)
        let httpPort: Int
        if responderRunning {
            try responder.start()
            httpPort = responder.port!
            refusing = nil
        } else {
            let reserved = try LoopbackPort.refusing()
            refusing = reserved
            httpPort = reserved.port
        }
        dns = withDNS ? try PebbleChallengeTestServer() : nil
        pebble = try PebbleServer(httpPort: httpPort, nonceRejectPercent: nonceRejectPercent, dnsServer: dns?.address)
    }

    deinit { responder.stop() }

    /// Fast polling for tests; deadlines generous enough for a loaded machine.
    static let polling = ACMEPolling(
        interval: .milliseconds(100), maximumDelay: .seconds(1), validationTimeout: .seconds(30),
        issuanceTimeout: .seconds(30))

    /// A client for pebble trusting the test CA, with a fresh (or the given) account key.
    func client(key: PrivateKey? = nil, contact: [String] = ["ops@certbus.test"]) throws -> ACMEClient {
        let configuration = try ACMEClientConfiguration(
            directoryURL: pebble.directoryURL, contact: contact, trust: .caBundle(path: pebble.caCertificate),
            polling: Self.polling)
        return try ACMEClient(configuration: configuration, accountKey: key ?? PrivateKey.generate(.ecdsaP256))
    }

    /// A CSR with a fresh P-256 key for `names` (the first is also the common name).
    static func csr(for names: [String]) throws -> (CertificateSigningRequest, PrivateKey) {
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: names[0]),
            subjectAlternativeNames: names.map { .dnsName($0) })
        return (csr, key)
    }

    /// pebble's issuing root (PEM), from its management interface.
    func rootPEM() async throws -> String {
        let http = HTTPClient(configuration: .init(trust: .caBundle(path: pebble.caCertificate)))
        let response = try await http.get(pebble.managementURL("roots/0"))
        guard response.status == 200, let text = response.bodyText else {
            throw TestServerFailure("pebble root: HTTP \(response.status)")
        }
        return text
    }

    /// Runs `openssl verify` on the chain's leaf with pebble's root as the only trust anchor and
    /// the rest of the chain as untrusted intermediates; returns openssl's output.
    func verifyWithOpenSSL(_ issued: ACMEIssuedCertificate) async throws -> String {
        let id = UUID().uuidString
        let root = try pebble.pki.write(try await rootPEM(), to: "root-\(id).pem")
        let leaf = try pebble.pki.write(issued.leaf.pem, to: "leaf-\(id).pem")
        let rest = issued.chain.dropFirst().map(\.pem).joined()
        var arguments = ["verify", "-CAfile", root]
        if !rest.isEmpty { arguments += ["-untrusted", try pebble.pki.write(rest, to: "intermediates-\(id).pem")] }
        return try OpenSSLCommand.run(arguments + [leaf])
    }
}

/// Collects progress reports (thread-safe).
final class ProgressRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [ACMEProgress] = []

    var handler: ACMEProgressHandler { { [self] report in lock.withLock { reports.append(report) } } }

    var all: [ACMEProgress] { lock.withLock { reports } }

    /// The statuses in order.
    var statuses: [AutomationStatus] {
        all.compactMap { if case .status(let status, _) = $0 { status } else { nil } }
    }

    /// The detail of the last report with `status`.
    func detail(of status: AutomationStatus) -> String? {
        all.reversed().compactMap { report -> String? in
            if case .status(status, let detail) = report { detail } else { nil }
        }.first
    }

    /// The order URLs reported, with whether each was resumed.
    var orders: [(URL, Bool)] {
        all.compactMap { if case .order(let url, let resumed) = $0 { (url, resumed) } else { nil } }
    }
}
