import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TLS client connection over a non-blocking socket it owns, with SNI and host name
/// (or IP address) verification.
final class TLSStream: ByteStream {
    private let ssl: OpaquePointer
    private var fd: Int32
    var deadline: Deadline

    /// Takes ownership of the connected socket `fd` and performs the handshake for `host` by
    /// `deadline`. Throws `.tlsHandshake` with a readable reason (e.g. the verification error),
    /// or `.timedOut`.
    init(context: TLSClientContext, fd: Int32, host: String, deadline: Deadline) throws(TransportError) {
        self.fd = fd
        self.deadline = deadline
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else {
            Socket.closeDescriptor(fd)
            throw .tlsHandshake("SSL_new failed: \(OpenSSLError.drain() ?? "unknown error")")
        }
        self.ssl = ssl
        guard SSL_set_fd(ssl, fd) == 1 else {
            throw .tlsHandshake("SSL_set_fd failed: \(OpenSSLError.drain() ?? "unknown error")")
        }
        if IPAddress.isLiteral(host) {
            // No SNI for IP literals (RFC 6066); verify against the certificate's IP SANs.
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else {
                throw .tlsHandshake("cannot set expected IP address \(host)")
            }
        } else {
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            guard certbus_http_SSL_set_tlsext_host_name(ssl, host) == 1, SSL_set1_host(ssl, host) == 1 else {
                throw .tlsHandshake("cannot set expected host name \(host)")
            }
        }
        try handshake(host: host)
    }

    deinit {
        close()
        SSL_free(ssl)
    }

    private func handshake(host: String) throws(TransportError) {
        while true {
            ERR_clear_error()
            let result = SSL_connect(ssl)
            if result == 1 { return }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ: try Socket.wait(fd, for: Int16(POLLIN), until: deadline)
            case SSL_ERROR_WANT_WRITE: try Socket.wait(fd, for: Int16(POLLOUT), until: deadline)
            default: throw .tlsHandshake(failureReason(sslError: error, host: host))
            }
        }
    }

    /// The clearest reason for a failed handshake: the certificate verification result if
    /// verification failed, else OpenSSL's error queue, else the socket error.
    private func failureReason(sslError: Int32, host: String) -> String {
        let savedErrno = errno
        let verify = Int32(SSL_get_verify_result(ssl))
        let queue = OpenSSLError.drain()
        if verify != X509_V_OK {
            if verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH {
                return "certificate is not valid for \(host) (host name mismatch)"
            }
            let text = String(cString: X509_verify_cert_error_string(Int(verify)))
            return "certificate verify failed: \(text)"
        }
        if let queue { return queue }
        if sslError == SSL_ERROR_SYSCALL {
            return savedErrno == 0
                ? "connection closed by the server during the handshake"
                : String(cString: strerror(savedErrno))
        }
        return "SSL error \(sslError)"
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        guard fd >= 0 else { throw .tls("stream is closed") }
        while true {
            ERR_clear_error()
            var readCount = 0
            let result = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &readCount)
            if result == 1 { return readCount }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_ZERO_RETURN: return 0
            case SSL_ERROR_WANT_READ: try Socket.wait(fd, for: Int16(POLLIN), until: deadline)
            case SSL_ERROR_WANT_WRITE: try Socket.wait(fd, for: Int16(POLLOUT), until: deadline)
            case SSL_ERROR_SYSCALL where errno == ECONNRESET: throw .peerClosed
            default: throw .tls(OpenSSLError.drain() ?? "SSL_read failed (SSL error \(error))")
            }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        guard fd >= 0 else { throw .tls("stream is closed") }
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            var written = 0
            let result = SSL_write_ex(ssl, bytes.baseAddress! + offset, bytes.count - offset, &written)
            if result == 1 {
                offset += written
                continue
            }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ: try Socket.wait(fd, for: Int16(POLLIN), until: deadline)
            case SSL_ERROR_WANT_WRITE: try Socket.wait(fd, for: Int16(POLLOUT), until: deadline)
            case SSL_ERROR_SYSCALL where errno == EPIPE || errno == ECONNRESET: throw .peerClosed
            default: throw .tls(OpenSSLError.drain() ?? "SSL_write failed (SSL error \(error))")
            }
        }
    }

    /// Sends close_notify (best effort, without waiting) and closes the socket.
    func close() {
        guard fd >= 0 else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
        Socket.closeDescriptor(fd)
        fd = -1
    }
}
