import COpenSSL
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Looks at what a TLS service serves, without trusting anything: connects to `host:port`,
/// sends SNI, completes a TLS handshake with certificate verification turned off, and returns
/// the certificate chain the server presented, the protocol and the cipher. Used by deployment
/// validation (is the expected certificate served?) and discovery (which certificates exist?).
///
/// Nothing is sent after the handshake. Every probe is bounded by its `timeout` (connect and
/// handshake together). Failures are `TLSProbeError`s that say what went wrong in words an
/// operator can act on: refused, timed out, unreachable, not a TLS service, handshake failed.
public enum TLSProbe {
    /// Probes `host:port`. `serverName` is sent as SNI (never for an IP literal); nil sends none.
    /// `timeout` is in seconds (0 < timeout ≤ 300).
    public static func probe(
        host: String, port: Int, serverName: String? = nil, timeout: Double = 10
    ) throws(TLSProbeError) -> TLSProbeResult {
        func fail(_ kind: TLSProbeError.Kind, _ reason: String) -> TLSProbeError {
            TLSProbeError(kind: kind, host: host, port: port, reason: reason)
        }
        guard !host.isEmpty, host.utf8.count <= 253, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw fail(.invalidTarget, "host must be a host name or IP address")
        }
        guard (1...65535).contains(port) else { throw fail(.invalidTarget, "port \(port) is not between 1 and 65535") }
        guard timeout > 0, timeout <= 300 else { throw fail(.invalidTarget, "timeout must be between 0 and 300 seconds") }
        if let serverName, serverName.isEmpty || serverName.utf8.count > 253 || serverName.contains(where: \.isWhitespace) {
            throw fail(.invalidTarget, "server name \"\(serverName)\" is not a host name")
        }
        let deadline = Deadline.after(.milliseconds(Int64(timeout * 1000)))

        let fd: Int32
        do throws(TransportError) {
            fd = try Socket.connect(host: host, port: port, deadline: deadline)
        } catch {
            switch error {
            case .refused: throw fail(.refused, "connection refused (nothing listens on that port)")
            case .timedOut: throw fail(.timedOut, "no TCP connection within \(Self.seconds(timeout))")
            case .dns(let why): throw fail(.nameResolution, "cannot resolve \(host): \(why)")
            case .system(_, let code) where code == EHOSTUNREACH || code == ENETUNREACH:
                throw fail(.unreachable, "\(String(cString: strerror(code)))")
            default: throw fail(.system, error.message)
            }
        }
        let context: ProbeContext
        do throws(TLSProbeError) {
            context = try ProbeContext.shared()
        } catch {
            Socket.closeDescriptor(fd)
            throw fail(error.kind, error.reason)
        }
        return try Session(context: context, fd: fd).run(
            host: host, port: port, serverName: serverName, deadline: deadline, timeout: timeout)
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

/// What a TLS service presented during the handshake.
public struct TLSProbeResult: Sendable, Equatable {
    /// The host probed.
    public var host: String
    /// The port probed.
    public var port: Int
    /// The SNI sent, if any.
    public var serverName: String?
    /// Negotiated protocol, e.g. "TLSv1.3".
    public var protocolVersion: String
    /// Negotiated cipher suite, e.g. "TLS_AES_256_GCM_SHA384".
    public var cipher: String
    /// The certificates the server sent, leaf first, as sent (never empty).
    public var chain: [ServedCertificate]

    /// The server's own certificate.
    public var leaf: ServedCertificate { chain[0] }
}

/// One certificate as a server sent it.
public struct ServedCertificate: Sendable, Equatable, Hashable {
    /// DER encoding.
    public var der: Data
    /// SHA-256 of the DER encoding, lowercase hex (64 characters).
    public var sha256Fingerprint: String

    /// PEM encoding ("-----BEGIN CERTIFICATE-----").
    public var pem: String {
        "-----BEGIN CERTIFICATE-----\n" + der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            + "\n-----END CERTIFICATE-----\n"
    }
}

/// Why a probe failed. `kind` is for programs, `description` for people.
public struct TLSProbeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The class of failure.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// Host, port, server name or timeout are malformed (nothing was sent).
        case invalidTarget
        /// The host name does not resolve.
        case nameResolution
        /// The host actively refused the TCP connection.
        case refused
        /// No route to the host or network.
        case unreachable
        /// The connection or the handshake did not finish in time.
        case timedOut
        /// Something answered, but not TLS (e.g. plain HTTP).
        case notTLS
        /// A TLS peer that refused or broke off the handshake.
        case handshakeFailed
        /// Any other system-level failure.
        case system

        /// True when the target could not be reached at all (refused, unreachable, timeout, DNS).
        public var isUnreachable: Bool {
            self == .refused || self == .unreachable || self == .timedOut || self == .nameResolution
        }
    }

    public var kind: Kind
    public var host: String
    public var port: Int
    /// What went wrong, e.g. "connection refused (nothing listens on that port)".
    public var reason: String

    public init(kind: Kind, host: String, port: Int, reason: String) {
        self.kind = kind
        self.host = host
        self.port = port
        self.reason = reason
    }

    /// "cannot probe 127.0.0.1:8443: connection refused (...)".
    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return "cannot probe \(address): \(reason)"
    }
}

/// The client context of every probe: any protocol version OpenSSL still speaks, every cipher,
/// security level 0 and no certificate verification — a probe observes, it never trusts.
final class ProbeContext: @unchecked Sendable {
    let context: OpaquePointer
    nonisolated(unsafe) private static var instance: ProbeContext?
    private static let lock = NSLock()

    private init(context: OpaquePointer) { self.context = context }
    deinit { SSL_CTX_free(context) }

    static func shared() throws(TLSProbeError) -> ProbeContext {
        lock.lock()
        defer { lock.unlock() }
        if let instance { return instance }
        Socket.ignoreSIGPIPE
        ERR_clear_error()
        func failure(_ what: String) -> TLSProbeError {
            TLSProbeError(kind: .system, host: "", port: 0, reason: "\(what): \(OpenSSLError.drain() ?? "unknown error")")
        }
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw failure("SSL_CTX_new failed") }
        let made = ProbeContext(context: ctx)
        SSL_CTX_set_security_level(ctx, 0)
        _ = certbus_http_SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION)
        _ = SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0")
        _ = SSL_CTX_set_options(ctx, certbus_http_SSL_OP_IGNORE_UNEXPECTED_EOF())
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        ERR_clear_error()
        instance = made
        return made
    }
}

/// One probe's SSL object and socket, freed at deinit.
private final class Session {
    let ssl: OpaquePointer?
    let fd: Int32

    init(context: ProbeContext, fd: Int32) {
        self.fd = fd
        ERR_clear_error()
        ssl = SSL_new(context.context)
    }

    deinit {
        if let ssl {
            ERR_clear_error()
            SSL_free(ssl)
        }
        Socket.closeDescriptor(fd)
        ERR_clear_error()
    }

    func run(host: String, port: Int, serverName: String?, deadline: Deadline, timeout: Double)
        throws(TLSProbeError) -> TLSProbeResult
    {
        func fail(_ kind: TLSProbeError.Kind, _ reason: String) -> TLSProbeError {
            TLSProbeError(kind: kind, host: host, port: port, reason: reason)
        }
        guard let ssl else { throw fail(.system, "SSL_new failed: \(OpenSSLError.drain() ?? "unknown error")") }
        guard SSL_set_fd(ssl, fd) == 1 else { throw fail(.system, "SSL_set_fd failed: \(OpenSSLError.drain() ?? "unknown error")") }
        if let serverName, !IPAddress.isLiteral(serverName) {
            guard certbus_http_SSL_set_tlsext_host_name(ssl, serverName) == 1 else {
                throw fail(.invalidTarget, "cannot send server name \(serverName)")
            }
        }
        while true {
            ERR_clear_error()
            errno = 0
            let result = SSL_connect(ssl)
            if result == 1 { break }
            let error = SSL_get_error(ssl, result)
            let savedErrno = errno
            do throws(TransportError) {
                switch error {
                case SSL_ERROR_WANT_READ:
                    try Socket.wait(fd, for: Int16(POLLIN), until: deadline)
                    continue
                case SSL_ERROR_WANT_WRITE:
                    try Socket.wait(fd, for: Int16(POLLOUT), until: deadline)
                    continue
                default:
                    break
                }
            } catch {
                if error == .timedOut {
                    throw fail(.timedOut, "no TLS handshake within \(TLSProbe.seconds(timeout)) (the service accepted the connection but did not answer as a TLS server)")
                }
                throw fail(.system, error.message)
            }
            throw Self.classify(sslError: error, errno: savedErrno, queue: OpenSSLError.drain(), fail: fail)
        }
        guard let stack = SSL_get_peer_cert_chain(ssl), certbus_probe_sk_X509_num(stack) > 0 else {
            throw fail(.handshakeFailed, "the server completed the handshake without presenting a certificate")
        }
        var chain: [ServedCertificate] = []
        for index in 0..<certbus_probe_sk_X509_num(stack) {
            guard let certificate = certbus_probe_sk_X509_value(stack, index) else { continue }
            chain.append(try Self.served(certificate, fail: fail))
        }
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "unknown"
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "unknown"
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
        return TLSProbeResult(
            host: host, port: port, serverName: serverName.flatMap { IPAddress.isLiteral($0) ? nil : $0 },
            protocolVersion: version, cipher: cipher, chain: chain)
    }

    /// DER and fingerprint of one received certificate.
    private static func served(_ certificate: OpaquePointer, fail: (TLSProbeError.Kind, String) -> TLSProbeError)
        throws(TLSProbeError) -> ServedCertificate
    {
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { throw fail(.handshakeFailed, "the server sent a certificate that cannot be encoded") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509(certificate, &cursor)
        }
        guard written == length else { throw fail(.handshakeFailed, "the server sent a certificate that cannot be encoded") }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var digestLength: UInt32 = 0
        guard X509_digest(certificate, EVP_sha256(), &digest, &digestLength) == 1, digestLength == 32 else {
            throw fail(.system, "cannot compute the certificate's SHA-256 fingerprint")
        }
        let hex = digest.prefix(32).map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
        return ServedCertificate(der: Data(der), sha256Fingerprint: hex)
    }

    /// Turns a failed `SSL_connect` into the clearest probe error.
    private static func classify(
        sslError: Int32, errno code: Int32, queue: String?, fail: (TLSProbeError.Kind, String) -> TLSProbeError
    ) -> TLSProbeError {
        let notTLSMarkers = ["wrong version number", "packet length too long", "unknown protocol", "http request",
                             "record layer failure", "record length mismatch", "unexpected record"]
        if let queue {
            let lower = queue.lowercased()
            if notTLSMarkers.contains(where: lower.contains) {
                return fail(.notTLS, "the service does not speak TLS (OpenSSL: \(queue))")
            }
            if lower.contains("unexpected eof") {
                return fail(.handshakeFailed, "the server closed the connection during the TLS handshake")
            }
            if lower.contains("alert") {
                return fail(.handshakeFailed, "the server refused the TLS handshake (OpenSSL: \(queue))")
            }
            return fail(.handshakeFailed, "TLS handshake failed (OpenSSL: \(queue))")
        }
        if sslError == SSL_ERROR_ZERO_RETURN || (sslError == SSL_ERROR_SYSCALL && code == 0) {
            return fail(.handshakeFailed, "the server closed the connection during the TLS handshake")
        }
        if sslError == SSL_ERROR_SYSCALL {
            if code == ECONNRESET { return fail(.handshakeFailed, "the server reset the connection during the TLS handshake") }
            return fail(.system, "TLS handshake failed: \(String(cString: strerror(code)))")
        }
        return fail(.handshakeFailed, "TLS handshake failed (SSL error \(sslError))")
    }
}
