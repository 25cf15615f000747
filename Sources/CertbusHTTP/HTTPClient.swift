import Foundation

/// A small HTTP/1.1 client for http:// and https:// URLs with a chosen set of trusted CAs.
///
/// Every request opens its own connection (`Connection: close`), so an `HTTPClient` holds no
/// connection state and is safe to share between threads and tasks. Redirects are not followed.
/// `sendBlocking` blocks the calling thread; `send` runs the same work on a thread of its own
/// (never on Swift's cooperative pool, and not on a width-limited dispatch queue either, so
/// slow servers cannot starve other requests) and suspends the caller meanwhile.
public final class HTTPClient: Sendable {
    /// Limits and trust settings for every request of a client.
    public struct Configuration: Sendable, Equatable {
        /// The CAs that https:// servers must chain to. Default: the system store.
        public var trust: TLSTrust
        /// Time allowed to open the TCP connection (all addresses of the host together).
        public var connectTimeout: Duration
        /// Time allowed for the whole request: connect, TLS handshake, send, complete response.
        /// Host name resolution (getaddrinfo) is not bounded by it.
        public var requestTimeout: Duration
        /// Largest accepted response body, in bytes, after de-chunking.
        public var maxResponseBodyBytes: Int
        /// Largest accepted response head (status line plus header fields), in bytes.
        public var maxResponseHeadBytes: Int
        /// The `User-Agent` sent when the request has none (empty: send none).
        public var userAgent: String

        /// The defaults: system trust, 10 s connect, 30 s request, 10 MiB body, 64 KiB head.
        public init(
            trust: TLSTrust = .systemDefault, connectTimeout: Duration = .seconds(10),
            requestTimeout: Duration = .seconds(30), maxResponseBodyBytes: Int = 10 << 20,
            maxResponseHeadBytes: Int = 64 << 10, userAgent: String = "certbus"
        ) {
            self.trust = trust
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.maxResponseBodyBytes = maxResponseBodyBytes
            self.maxResponseHeadBytes = maxResponseHeadBytes
            self.userAgent = userAgent
        }
    }

    /// The settings used for every request.
    public let configuration: Configuration
    private let tls: TLSClientContext?
    private let tlsError: String?

    /// Makes a client. A trust setting that cannot be loaded (missing CA bundle, no
    /// certificate in it) does not fail here: every https:// request then fails with
    /// `.tlsConfiguration` naming the cause, while http:// requests still work.
    /// Use `validateTrust()` to fail fast at startup.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        do {
            tls = try TLSClientContext(trust: configuration.trust)
            tlsError = nil
        } catch {
            tls = nil
            tlsError = error.message
        }
    }

    /// Throws `HTTPError` with kind `.tlsConfiguration` if the configured trust could not be loaded.
    public func validateTrust() throws(HTTPError) {
        if let tlsError { throw HTTPError(.tlsConfiguration(tlsError), method: "-", url: "-") }
    }

    /// Sends `request` and waits for the complete response, suspending (not blocking) the
    /// caller; the blocking I/O runs on a dedicated thread. Task cancellation is not observed:
    /// the request ends by completing or by its timeouts. Any status is a response;
    /// only transport and protocol failures throw `HTTPError`.
    public func send(_ request: HTTPClientRequest) async throws(HTTPError) -> HTTPResponse {
        let result: Result<HTTPResponse, HTTPError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Result { () throws(HTTPError) in try self.sendBlocking(request) })
            }
            thread.name = "certbus-http-client"
            thread.start()
        }
        return try result.get()
    }

    /// `GET url` with optional extra headers; see `send(_:)`.
    public func get(_ url: URL, headers: HTTPHeaders = HTTPHeaders()) async throws(HTTPError) -> HTTPResponse {
        try await send(HTTPClientRequest(method: .get, url: url, headers: headers))
    }

    /// `POST url` with `body` and optional extra headers; see `send(_:)`.
    public func post(_ url: URL, body: Data, headers: HTTPHeaders = HTTPHeaders()) async throws(HTTPError)
        -> HTTPResponse
    {
        try await send(HTTPClientRequest(method: .post, url: url, headers: headers, body: body))
    }

    /// Sends `request` and blocks the calling thread until the complete response arrived or a
    /// limit was hit. Do not call this from Swift's cooperative pool (use `send`).
    public func sendBlocking(_ request: HTTPClientRequest) throws(HTTPError) -> HTTPResponse {
        let method = request.method.rawValue
        let redactedURL = RequestTarget.redacted(request.url)
        func failure(_ kind: HTTPError.Kind) -> HTTPError { HTTPError(kind, method: method, url: redactedURL) }

        let target: RequestTarget
        let head: Data
        do {
            target = try RequestTarget(url: request.url)
            head = try MessageWriter.requestHead(
                method: request.method, target: target, headers: request.headers,
                bodyCount: request.body.count, userAgent: configuration.userAgent)
        } catch {
            throw failure(error.kind)
        }
        var tlsContext: TLSClientContext?
        if target.isTLS {
            guard let tls else { throw failure(.tlsConfiguration(tlsError ?? "unavailable")) }
            tlsContext = tls
        }

        let deadline = Deadline.after(configuration.requestTimeout)
        var phase = HTTPError.Phase.connect
        do {
            return try exchange(
                target: target, tls: tlsContext, head: head, request: request, deadline: deadline, phase: &phase)
        } catch let error as TransportError {
            throw failure(Self.kind(for: error, phase: phase))
        } catch let error as MessageError {
            throw failure(Self.kind(for: error, phase: phase))
        } catch {
            throw failure(.connectionLost("\(error)"))
        }
    }

    /// Connects, sends `head` and the body, and reads the response; `phase` tracks progress so
    /// that a failure can say where it happened.
    private func exchange(
        target: RequestTarget, tls: TLSClientContext?, head: Data, request: HTTPClientRequest,
        deadline: Deadline, phase: inout HTTPError.Phase
    ) throws -> HTTPResponse {
        phase = .connect
        let fd = try Socket.connect(
            host: target.host, port: target.port,
            deadline: .earliest(.after(configuration.connectTimeout), deadline))
        let stream: ByteStream
        if let tls {
            phase = .tlsHandshake
            stream = try TLSStream(context: tls, fd: fd, host: target.host, deadline: deadline)
        } else {
            stream = SocketStream(fd: fd, deadline: deadline)
        }
        defer { stream.close() }
        let reader = MessageReader(stream: stream)
        phase = .send
        var writeError: TransportError?
        do throws(TransportError) {
            try stream.write(head)
            if !request.body.isEmpty { try stream.write(request.body) }
        } catch {
            writeError = error
        }
        phase = .receive
        if let writeError {
            // The server may have answered early (e.g. 413) and closed: use what it sent.
            guard writeError == .peerClosed, let response = try? readResponse(reader, method: request.method) else {
                phase = .send
                throw writeError
            }
            return response
        }
        return try readResponse(reader, method: request.method)
    }

    /// Reads a final response (skipping 1xx interim responses) and its body.
    private func readResponse(_ reader: MessageReader, method: HTTPMethod) throws(MessageError) -> HTTPResponse {
        while true {
            let lines = try reader.readHead(limit: configuration.maxResponseHeadBytes)
            let status = try MessageHead.parseStatusLine(lines[0])
            let headers = try MessageHead.parseFields(lines.dropFirst())
            if status.status == 101 { throw .malformed("unexpected protocol switch (101)") }
            if (100..<200).contains(status.status) { continue }
            let framing = try BodyFraming.forResponse(status: status.status, method: method, headers: headers)
            let body = try reader.readBody(framing, limit: configuration.maxResponseBodyBytes)
            return HTTPResponse(status: status.status, reason: status.reason, headers: headers, body: body)
        }
    }

    /// Maps a transport failure in `phase` to the public error kind.
    static func kind(for error: TransportError, phase: HTTPError.Phase) -> HTTPError.Kind {
        switch error {
        case .dns(let why): .dnsFailure(why)
        case .refused: .connectionRefused
        case .timedOut: .timeout(phase)
        case .tlsHandshake(let why): .tlsHandshake(why)
        case .tls(let why) where phase == .tlsHandshake: .tlsHandshake(why)
        case .tls(let why): .connectionLost(why)
        case .peerClosed where phase == .receive: .connectionClosed
        case .peerClosed: .connectionLost("connection closed by peer")
        case .system where phase == .connect: .connectionFailed(error.message)
        case .system: .connectionLost(error.message)
        }
    }

    /// Maps a message-reading failure in `phase` to the public error kind.
    static func kind(for error: MessageError, phase: HTTPError.Phase) -> HTTPError.Kind {
        switch error {
        case .closed: .connectionClosed
        case .malformed(let why), .unsupported(let why): .badResponse(why)
        case .headTooLarge(let limit), .bodyTooLarge(let limit): .responseTooLarge(limit: limit)
        case .transport(let transport): kind(for: transport, phase: phase)
        }
    }
}
