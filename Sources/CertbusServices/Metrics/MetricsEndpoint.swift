import CertbusBus
import CertbusHTTP
import CertbusMetrics
import Foundation

/// The `GET /metrics` endpoint of `certbus serve`, `certbus scheduler` and `certbus worker`
/// (`--metrics-listen`): the Prometheus text format of everything `collect` returns.
///
/// Answers `GET` and `HEAD /metrics` with 200, any other path with 404 and any other method
/// with 405. It runs on the threads of `CertbusHTTP.HTTPServer` (never the cooperative pool),
/// one per connection; `collect` must be thread-safe. A `CertbusService`, so `serve` starts it
/// first and stops it last.
public final class MetricsEndpoint: CertbusService, @unchecked Sendable {
    public let name = "metrics"
    /// Where it listens.
    public let address: MetricsListenAddress
    private let server: HTTPServer
    private let log: ServiceLog

    /// An endpoint on `address` serving the families `collect` returns at each scrape.
    public init(address: MetricsListenAddress, log: ServiceLog = .standardError(), collect: @escaping @Sendable () -> [MetricFamily]) {
        self.address = address
        self.log = log
        self.server = HTTPServer(
            configuration: HTTPServer.Configuration(
                host: address.host, port: address.port, maxBodyBytes: 1024, readTimeout: .seconds(5), writeTimeout: .seconds(10),
                maxConnections: 16)
        ) { request in
            Self.respond(to: request) { Exposition.render(collect()) }
        }
    }

    /// The port it listens on once started.
    public var port: Int { server.port }

    /// Binds and starts serving. Throws `MetricsEndpointError` when the address cannot be bound
    /// (in use, not an address of this machine, a privileged port).
    public func start() throws {
        do {
            try server.start()
        } catch {
            throw MetricsEndpointError(address: address, reason: error.reason)
        }
        log(.info, name, "serving Prometheus metrics on http://\(address)/metrics"
            + (address.isLoopback ? "" : " (reachable from other machines: restrict access with a firewall)"))
    }

    /// Stops serving (waits for scrapes in progress).
    public func stop(grace: Double) {
        server.stop()
    }

    /// The response to `request`; `render` produces the exposition text (called only for `GET`/`HEAD /metrics`).
    public static func respond(to request: HTTPRequest, render: () -> String) -> HTTPResponse {
        guard request.path == "/metrics" else {
            return .text("not found: metrics are at /metrics\n", status: 404)
        }
        guard request.method == .get || request.method == .head else {
            var response = HTTPResponse.text("method \(request.method) not allowed: use GET\n", status: 405)
            response.headers.add("Allow", "GET, HEAD")
            return response
        }
        return HTTPResponse(status: 200, headers: ["Content-Type": Exposition.contentType], body: Data(render().utf8))
    }
}

/// Why a metrics endpoint could not start.
public struct MetricsEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The address it was asked to listen on.
    public var address: MetricsListenAddress
    /// What the system said, e.g. `bind: Address already in use`.
    public var reason: String

    /// Makes an error.
    public init(address: MetricsListenAddress, reason: String) {
        self.address = address
        self.reason = reason
    }

    /// `cannot serve metrics on 127.0.0.1:9464: bind: Address already in use (...)`.
    public var description: String {
        var text = "cannot serve metrics on \(address): \(reason)"
        if reason.contains("in use") { text += " (another process listens on port \(address.port); choose another with --metrics-listen)" }
        return text
    }
}
