import Foundation

/// Debian's `pebble` ACME test server (`apt-get install pebble`) on 127.0.0.1 with free ports
/// and an HTTPS certificate of its own, validating http-01 challenges on `httpPort`. Killed
/// (SIGKILL) at deinit.
///
/// Started with `-strict=false`, `PEBBLE_VA_NOSLEEP=1` (no validation sleeps) and
/// `PEBBLE_AUTHZREUSE=0`; nonce rejection is off unless `nonceRejectPercent` says otherwise.
/// The initializer returns once pebble announced its directory and both of its ports accept
/// connections. With `dnsServer`, pebble resolves identifiers there (a
/// `PebbleChallengeTestServer`) instead of the system resolver.
public final class PebbleServer: @unchecked Sendable {
    /// Where pebble is expected.
    public static let executable = "/usr/bin/pebble"
    /// Whether pebble is installed (for `.enabled(if:)` traits).
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable) }
    /// A domain pebble refuses to issue for, with its subdomains (`rejectedIdentifier`). One
    /// label only: pebble 2.4 panics comparing names with fewer labels than a blocked domain.
    public static let blockedDomain = "invalid"

    /// The throwaway PKI of pebble's HTTPS listener (a CA and a certificate for `localhost` and
    /// 127.0.0.1). Its directory also holds pebble's config; tests may write files there.
    public let pki: OpenSSLTestPKI
    /// The CA certificate (PEM path) that signed pebble's HTTPS certificate: what an ACME client
    /// must trust to talk to pebble. Not the CA pebble issues from (see `managementURL`).
    public let caCertificate: String
    /// The ACME API port.
    public let port: Int
    /// The management port (roots, intermediates).
    public let managementPort: Int
    /// Where pebble's validator connects for http-01.
    public let httpPort: Int
    private let process: ServerProcess

    /// Starts pebble; throws `TestServerFailure` when it is not installed, exits, or does not come
    /// up within 20 seconds.
    public init(httpPort: Int, nonceRejectPercent: Int = 0, dnsServer: String? = nil) throws {
        pki = try OpenSSLTestPKI(prefix: "certbus-acme-tests")
        let ca = try pki.makeCA("ca", commonName: "certbus ACME test CA")
        let server = try pki.makeLeaf(
            "pebble", commonName: "localhost", subjectAltName: "DNS:localhost,IP:127.0.0.1", signedBy: ca)
        caCertificate = ca.certificate
        port = try LoopbackPort.unused()
        managementPort = try LoopbackPort.unused()
        self.httpPort = httpPort
        let tlsPort = try LoopbackPort.unused()
        let config = try pki.write(
            """
            {"pebble": {
              "listenAddress": "127.0.0.1:\(port)",
              "managementListenAddress": "127.0.0.1:\(managementPort)",
              "certificate": "\(server.certificate)",
              "privateKey": "\(server.key)",
              "httpPort": \(httpPort),
              "tlsPort": \(tlsPort),
              "ocspResponderURL": "",
              "externalAccountBindingRequired": false,
              "domainBlocklist": ["\(Self.blockedDomain)"]
            }}
            """, to: "pebble-config.json")
        var arguments = ["-config", config, "-strict=false"]
        if let dnsServer { arguments += ["-dnsserver", dnsServer] }
        process = try ServerProcess(
            executable: Self.executable, arguments: arguments,
            environment: [
                "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "\(nonceRejectPercent)", "PEBBLE_AUTHZREUSE": "0",
            ],
            installHint: "apt-get install pebble", ready: { $0.contains("ACME directory available") })
        // pebble logs its URLs just before it binds.
        try process.waitUntilAccepting([port, managementPort])
    }

    /// The ACME directory URL (`https://localhost:<port>/dir`).
    public var directoryURL: String { "https://localhost:\(port)/dir" }

    /// The URL of pebble's management resource `path` (e.g. `roots/0`).
    public func managementURL(_ path: String) -> URL { URL(string: "https://127.0.0.1:\(managementPort)/\(path)")! }

    /// What pebble printed so far (the last 64 KiB), for diagnosing failures.
    public var log: String { process.output }

    /// Stops pebble now (for "CA down" tests).
    public func kill() { process.kill() }
}
