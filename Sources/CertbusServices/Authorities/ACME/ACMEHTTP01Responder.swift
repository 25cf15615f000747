import CertbusHTTP
import Foundation

/// The http-01 challenge responder (RFC 8555 §8.3): an `HTTPServer` that answers
/// `GET /.well-known/acme-challenge/<token>` with the key authorization of a presented token
/// and 404 for everything else.
///
/// The CA connects to port 80 of each identifier, so the configured address must be reachable
/// there (bind `0.0.0.0:80`, or forward port 80 to it). One responder serves any number of
/// concurrent issuances; it is thread-safe.
public final class ACMEHTTP01Responder: ACMEChallengeResponder, @unchecked Sendable {
    /// The path prefix of challenge resources.
    public static let pathPrefix = "/.well-known/acme-challenge/"

    /// `http-01`.
    public var challengeType: String { "http-01" }

    private let lock = NSLock()
    private var answers: [String: String] = [:]
    private var served: [String: Int] = [:]
    private var server: HTTPServer?
    /// Where the responder listens (host and port as configured; port 0 picks a free one).
    public let host: String
    private let configuredPort: Int

    /// A responder for `host:port` that is not yet listening.
    public init(host: String = "0.0.0.0", port: Int = 80) {
        self.host = host
        self.configuredPort = port
    }

    deinit { server?.stop() }

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedResponders: [String: ACMEHTTP01Responder] = [:]

    /// The one responder of this process for `host:port` (created, not started, on first use),
    /// so every ACME CA and connector configured with the same address shares its listener.
    public static func shared(host: String, port: Int) -> ACMEHTTP01Responder {
        sharedLock.withLock {
            let key = "\(host)|\(port)"
            if let responder = sharedResponders[key] { return responder }
            let responder = ACMEHTTP01Responder(host: host, port: port)
            sharedResponders[key] = responder
            return responder
        }
    }

    /// Starts listening. Throws `.invalidConfiguration` naming the address when it cannot be
    /// bound (in use, or port 80 without the privilege to bind it). Starting twice is a no-op.
    public func start() throws(ACMEError) {
        let result: Result<Void, ACMEError> = lock.withLock {
            if server != nil { return .success(()) }
            let configuration = HTTPServer.Configuration(
                host: host, port: configuredPort, maxHeadBytes: 8 << 10, maxBodyBytes: 1024,
                readTimeout: .seconds(10), writeTimeout: .seconds(10), maxConnections: 64)
            let server = HTTPServer(configuration: configuration) { [weak self] request in
                self?.respond(to: request) ?? HTTPResponse(status: 503)
            }
            do {
                try server.start()
            } catch {
                return .failure(ACMEError(
                    .invalidConfiguration("the http-01 responder cannot listen on \(host):\(configuredPort): \(error)"),
                    operation: "start http-01 responder"))
            }
            self.server = server
            return .success(())
        }
        try result.get()
    }

    /// Stops listening and waits for open connections to finish. Presented tokens are kept.
    public func stop() {
        let server = lock.withLock {
            defer { self.server = nil }
            return self.server
        }
        server?.stop()
    }

    /// The bound port while listening (the real one when configured with 0), else nil.
    public var port: Int? { lock.withLock { server?.port } }

    /// Publishes a token; fails with `.invalidConfiguration` when the responder is not listening
    /// (the CA could not reach it) or the token is not a base64url string.
    public func present(identifier: ACMEIdentifier, token: String, keyAuthorization: String) throws(ACMEError) {
        let operation = "present http-01 challenge for \(identifier.value)"
        guard ACMENoncePool.isWellFormed(token) else {
            throw ACMEError(.badResponse("the CA sent a challenge token that is not base64url"), operation: operation)
        }
        let listening = lock.withLock {
            guard server != nil else { return false }
            answers[token] = keyAuthorization
            return true
        }
        guard listening else {
            throw ACMEError(
                .invalidConfiguration("the http-01 responder is not running (call start() first)"),
                operation: operation)
        }
    }

    /// Withdraws a token.
    public func remove(token: String) {
        lock.withLock {
            answers[token] = nil
            served[token] = nil
        }
    }

    /// How many times `token` was fetched successfully since it was presented (for diagnostics and tests).
    public func timesServed(token: String) -> Int {
        lock.withLock { served[token] ?? 0 }
    }

    /// The response to one request: the key authorization for a presented token, else 404.
    func respond(to request: HTTPRequest) -> HTTPResponse {
        guard request.method == .get || request.method == .head, request.path.hasPrefix(Self.pathPrefix) else {
            return HTTPResponse.text("not found\n", status: 404)
        }
        let token = String(request.path.dropFirst(Self.pathPrefix.count))
        let answer: String? = lock.withLock {
            guard let answer = answers[token] else { return nil }
            served[token, default: 0] += 1
            return answer
        }
        guard let answer else { return HTTPResponse.text("no such challenge\n", status: 404) }
        return HTTPResponse(
            status: 200, headers: ["Content-Type": "application/octet-stream"], body: Data(answer.utf8))
    }
}
