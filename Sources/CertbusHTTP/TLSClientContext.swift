import COpenSSL
import Foundation

/// A configured OpenSSL client context: TLS 1.2 or newer, peer verification against the chosen
/// trust anchors. Immutable after init, so one context serves connections on many threads.
final class TLSClientContext: @unchecked Sendable {
    /// The `SSL_CTX*`, owned.
    let context: OpaquePointer

    /// Creates the context and loads `trust`; throws a readable reason when the CA bundle cannot
    /// be read or contains no certificate.
    init(trust: TLSTrust) throws(TransportError) {
        Socket.ignoreSIGPIPE
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw .tls("SSL_CTX_new failed: \(OpenSSLError.drain() ?? "unknown error")")
        }
        self.context = context
        guard certbus_http_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw .tls("cannot require TLS 1.2: \(OpenSSLError.drain() ?? "unknown error")")
        }
        _ = SSL_CTX_set_options(context, certbus_http_SSL_OP_IGNORE_UNEXPECTED_EOF())
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        switch trust {
        case .systemDefault:
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw .tls("cannot load the system CA store: \(OpenSSLError.drain() ?? "unknown error")")
            }
        case .caBundle(let path):
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw .tls("CA bundle \(path) does not exist or is not readable")
            }
            guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                throw .tls("cannot load CA bundle \(path): \(OpenSSLError.drain() ?? "no certificates found")")
            }
        case .certificates(let pem):
            try Self.addCertificates(pem: pem, to: context)
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Adds every PEM certificate in `pem` to the context's store; at least one is required.
    private static func addCertificates(pem: String, to context: OpaquePointer) throws(TransportError) {
        guard let store = SSL_CTX_get_cert_store(context) else { throw .tls("context has no certificate store") }
        let bytes = Array(pem.utf8)
        let count = bytes.withUnsafeBytes { raw -> Int in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return 0 }
            defer { BIO_free(bio) }
            var added = 0
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                if X509_STORE_add_cert(store, certificate) == 1 { added += 1 }
                X509_free(certificate)
            }
            return added
        }
        ERR_clear_error()  // PEM_read_bio_X509 leaves "no start line" at the end of input
        guard count > 0 else { throw .tls("no PEM certificate found in the given trust certificates") }
    }
}
