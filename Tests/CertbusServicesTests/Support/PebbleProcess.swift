import Foundation

/// Debian's `pebble` ACME test server on 127.0.0.1 with free ports and its own TLS
/// certificate, validating http-01 challenges on `httpPort`. Stopped (SIGKILL) at deinit.
///
/// Started with `PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0` and `-strict=false`; nonce rejection
/// is off unless `nonceRejectPercent` says otherwise. With `dnsServer`, pebble resolves
/// identifiers there (a `PebbleChallengeTestServer`) instead of the system resolver.
final class PebbleProcess: @unchecked Sendable {
    static let executable = "/usr/bin/pebble"
    /// A domain pebble refuses to issue for, with its subdomains (`rejectedIdentifier`). One
    /// label only: pebble 2.4 panics comparing names with fewer labels than a blocked domain.
    static let blockedDomain = "invalid"

    let tls: PebbleTLSFiles
    private let process: Process
    private let output: PebbleProcessSupport.OutputBuffer
    /// The ACME API port.
    let port: Int
    /// The management port (roots, intermediates).
    let managementPort: Int
    /// Where pebble's validator connects for http-01.
    let httpPort: Int

    init(httpPort: Int, nonceRejectPercent: Int = 0, dnsServer: String? = nil) throws {
        tls = try PebbleTLSFiles()
        port = try PebbleProcessSupport.freeLoopbackPort()
        managementPort = try PebbleProcessSupport.freeLoopbackPort()
        self.httpPort = httpPort
        let tlsPort = try PebbleProcessSupport.freeLoopbackPort()
        let config = try tls.write(
            """
            {"pebble": {
              "listenAddress": "127.0.0.1:\(port)",
              "managementListenAddress": "127.0.0.1:\(managementPort)",
              "certificate": "\(tls.serverCertificate)",
              "privateKey": "\(tls.serverKey)",
              "httpPort": \(httpPort),
              "tlsPort": \(tlsPort),
              "ocspResponderURL": "",
              "externalAccountBindingRequired": false,
              "domainBlocklist": ["\(Self.blockedDomain)"]
            }}
            """, to: "pebble-config.json")
        var arguments = ["-config", config, "-strict=false"]
        if let dnsServer { arguments += ["-dnsserver", dnsServer] }
        (process, output) = try PebbleProcessSupport.start(
            executable: Self.executable, arguments: arguments,
            environment: [
                "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "\(nonceRejectPercent)", "PEBBLE_AUTHZREUSE": "0",
            ],
            readyLine: "ACME directory available", ports: [port, managementPort], installHint: "apt-get install pebble")
    }

    deinit { PebbleProcessSupport.kill(process) }

    /// The ACME directory URL.
    var directoryURL: String { "https://localhost:\(port)/dir" }

    /// The URL of pebble's management resource `path` (e.g. `roots/0`).
    func managementURL(_ path: String) -> URL { URL(string: "https://127.0.0.1:\(managementPort)/\(path)")! }

    /// What pebble printed so far (the last 64 KiB), for diagnosing failures.
    var log: String { output.text }

    /// Stops pebble now (for "CA down" tests).
    func kill() { PebbleProcessSupport.kill(process) }
}

/// `pebble-challtestsrv` as a mock DNS server on 127.0.0.1 answering every A query with
/// 127.0.0.1 (its own challenge responders disabled). Stopped (SIGKILL) at deinit.
final class PebbleChallengeTestServer: @unchecked Sendable {
    static let executable = "/usr/bin/pebble-challtestsrv"

    private let process: Process
    /// The DNS port (UDP and TCP).
    let dnsPort: Int

    init() throws {
        dnsPort = try PebbleProcessSupport.freeLoopbackPort()
        let managementPort = try PebbleProcessSupport.freeLoopbackPort()
        (process, _) = try PebbleProcessSupport.start(
            executable: Self.executable,
            arguments: [
                "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-management", "127.0.0.1:\(managementPort)", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            ],
            readyLine: "Starting management server", ports: [dnsPort, managementPort],
            installHint: "apt-get install pebble")
    }

    deinit { PebbleProcessSupport.kill(process) }

    /// `127.0.0.1:<dnsPort>`, for pebble's `-dnsserver`.
    var address: String { "127.0.0.1:\(dnsPort)" }
}
