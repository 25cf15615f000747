import Foundation

/// `pebble-challtestsrv` (`apt-get install pebble`) as a mock DNS server on 127.0.0.1 answering
/// every A query with 127.0.0.1 (its own challenge responders disabled), for
/// `PebbleServer(dnsServer:)`. Killed (SIGKILL) at deinit.
public final class PebbleChallengeTestServer: @unchecked Sendable {
    /// Where pebble-challtestsrv is expected.
    public static let executable = "/usr/bin/pebble-challtestsrv"

    private let process: ServerProcess
    /// The DNS port (UDP and TCP).
    public let dnsPort: Int

    /// Starts it and returns once its DNS and management ports accept connections; throws
    /// `TestServerFailure` when it is not installed, exits, or does not come up within 20 seconds.
    public init() throws {
        dnsPort = try LoopbackPort.unused()
        let managementPort = try LoopbackPort.unused()
        process = try ServerProcess(
            executable: Self.executable,
            arguments: [
                "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-management", "127.0.0.1:\(managementPort)", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            ],
            installHint: "apt-get install pebble", ready: { $0.contains("Starting management server") })
        try process.waitUntilAccepting([dnsPort, managementPort])
    }

    /// `127.0.0.1:<dnsPort>`, for pebble's `-dnsserver`.
    public var address: String { "127.0.0.1:\(dnsPort)" }
}
