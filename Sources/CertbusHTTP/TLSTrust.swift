/// Which certificate authorities an `HTTPClient` trusts for https:// URLs.
public enum TLSTrust: Sendable, Equatable {
    /// OpenSSL's default verify paths (the system CA store, e.g. /etc/ssl/certs).
    case systemDefault
    /// The PEM certificates in this file (one or more CAs), and nothing else.
    case caBundle(path: String)
    /// The PEM certificates in this text (one or more CAs), and nothing else.
    case certificates(pem: String)
}
