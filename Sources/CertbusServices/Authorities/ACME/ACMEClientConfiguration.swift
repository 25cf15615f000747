import CertbusHTTP
import Foundation

/// Where an ``ACMEClient`` finds its CA and how it talks to it.
public struct ACMEClientConfiguration: Sendable, Equatable {
    /// The CA's directory URL (https), e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    public var directoryURL: URL
    /// Contact URLs for the account (`mailto:ops@example.com`); may be empty.
    public var contact: [String]
    /// Whether the operator agreed to the CA's terms of service (sent as `termsOfServiceAgreed`).
    public var termsOfServiceAgreed: Bool
    /// The CAs the ACME server's TLS certificate must chain to (system store by default).
    public var trust: TLSTrust
    /// Time allowed to open a connection to the CA.
    public var connectTimeout: Duration
    /// Time allowed for each request to the CA.
    public var requestTimeout: Duration
    /// Polling intervals and deadlines for validation and issuance.
    public var polling: ACMEPolling

    /// Checks and normalises the settings: `directoryURL` must be an absolute https URL with a
    /// host and no user info or fragment; each contact must be an email address or a
    /// `mailto:` URL (a bare address gets `mailto:`). Throws `.invalidConfiguration` otherwise.
    public init(
        directoryURL: String, contact: [String] = [], termsOfServiceAgreed: Bool = true,
        trust: TLSTrust = .systemDefault, connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(30), polling: ACMEPolling = ACMEPolling()
    ) throws(ACMEError) {
        self.directoryURL = try Self.validateDirectoryURL(directoryURL)
        self.contact = try contact.map { (value) throws(ACMEError) in try Self.normaliseContact(value) }
        self.termsOfServiceAgreed = termsOfServiceAgreed
        self.trust = trust
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.polling = polling
    }

    /// The directory URL if `text` is an absolute https URL with a host, no user info and no fragment.
    public static func validateDirectoryURL(_ text: String) throws(ACMEError) -> URL {
        func refuse(_ why: String) -> ACMEError {
            ACMEError(.invalidConfiguration("directory URL \"\(text)\" \(why)"), operation: "configure ACME client")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw refuse("is empty") }
        guard trimmed.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw refuse("contains spaces or non-ASCII characters")
        }
        guard let components = URLComponents(string: trimmed), let url = components.url else {
            throw refuse("is not a URL")
        }
        guard let scheme = components.scheme else {
            throw refuse("is not an absolute URL (expected https://host/path)")
        }
        guard scheme.lowercased() == "https" else {
            throw refuse("must use https (RFC 8555 §6.1), not \(scheme)")
        }
        guard let host = components.host, !host.isEmpty else { throw refuse("has no host") }
        if let port = components.port, !(1...65535).contains(port) { throw refuse("has an invalid port \(port)") }
        guard components.user == nil, components.password == nil else { throw refuse("must not contain user info") }
        guard components.fragment == nil else { throw refuse("must not contain a fragment") }
        return url
    }

    /// `mailto:` + address for a bare address; a `mailto:` URL unchanged; anything else is refused.
    public static func normaliseContact(_ text: String) throws(ACMEError) -> String {
        let value = text.trimmingCharacters(in: .whitespaces)
        let address = value.lowercased().hasPrefix("mailto:") ? String(value.dropFirst(7)) : value
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        let printable = address.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f && $0 != "," }
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasSuffix("."), printable else {
            throw ACMEError(
                .invalidConfiguration("contact \"\(text)\" is not an email address (ops@example.com or mailto:ops@example.com)"),
                operation: "configure ACME client")
        }
        return "mailto:" + address
    }
}
