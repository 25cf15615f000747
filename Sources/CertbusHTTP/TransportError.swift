#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Failures of the byte transports (sockets and TLS) below the HTTP layer.
enum TransportError: Error, Equatable {
    /// Name resolution failed (getaddrinfo message).
    case dns(String)
    /// Every address refused the connection.
    case refused
    /// A system call failed; `operation` names it.
    case system(operation: String, errno: Int32)
    /// The deadline passed.
    case timedOut
    /// The peer reset or closed the connection while we were writing.
    case peerClosed
    /// TLS handshake failure with a human-readable reason.
    case tlsHandshake(String)
    /// A TLS failure after the handshake.
    case tls(String)

    /// A readable message for logs and `HTTPError`.
    var message: String {
        switch self {
        case .dns(let why): why
        case .refused: "connection refused"
        case .system(let operation, let code): "\(operation): \(String(cString: strerror(code)))"
        case .timedOut: "timed out"
        case .peerClosed: "connection closed by peer"
        case .tlsHandshake(let why), .tls(let why): why
        }
    }
}
