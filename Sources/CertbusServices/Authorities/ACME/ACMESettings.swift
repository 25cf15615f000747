import CertbusHTTP
import Foundation

/// The settings of an ACME CA as stored in `certificate_authorities.configuration` (jsonb):
///
/// ```json
/// {"directoryURL": "https://acme-v02.api.letsencrypt.org/directory",
///  "contact": ["ops@example.com"], "termsOfServiceAgreed": true,
///  "http01Address": "0.0.0.0:80", "trustedCAFile": null, "accountURL": null}
/// ```
///
/// `trustedCAFile` (a PEM bundle) replaces the system CA store for the ACME server's TLS
/// certificate (private ACME CAs, pebble). `accountURL` is filled in once the account exists.
public struct ACMESettings: Sendable, Equatable, Codable {
    /// The CA's directory URL (https).
    public var directoryURL: String
    /// Contact email addresses or `mailto:` URLs.
    public var contact: [String]
    /// Whether the operator agreed to the CA's terms of service.
    public var termsOfServiceAgreed: Bool
    /// Where certbus's http-01 responder listens, `host:port` (`[v6]:port` for IPv6). The CA
    /// connects to port 80 of every name, which must reach this address.
    public var http01Address: String
    /// A PEM CA bundle to trust for the ACME server instead of the system store.
    public var trustedCAFile: String?
    /// The account URL, once known.
    public var accountURL: String?

    /// The default http-01 address: every interface, port 80.
    public static let defaultHTTP01Address = "0.0.0.0:80"

    /// Makes settings; see the properties.
    public init(
        directoryURL: String, contact: [String] = [], termsOfServiceAgreed: Bool = true,
        http01Address: String = ACMESettings.defaultHTTP01Address, trustedCAFile: String? = nil,
        accountURL: String? = nil
    ) {
        self.directoryURL = directoryURL
        self.contact = contact
        self.termsOfServiceAgreed = termsOfServiceAgreed
        self.http01Address = http01Address
        self.trustedCAFile = trustedCAFile
        self.accountURL = accountURL
    }

    enum CodingKeys: String, CodingKey {
        case directoryURL, contact, termsOfServiceAgreed, http01Address, trustedCAFile, accountURL
    }

    /// Decodes with defaults for everything but `directoryURL`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        directoryURL = try container.decode(String.self, forKey: .directoryURL)
        contact = try container.decodeIfPresent([String].self, forKey: .contact) ?? []
        termsOfServiceAgreed = try container.decodeIfPresent(Bool.self, forKey: .termsOfServiceAgreed) ?? true
        http01Address = try container.decodeIfPresent(String.self, forKey: .http01Address)
            ?? Self.defaultHTTP01Address
        trustedCAFile = try container.decodeIfPresent(String.self, forKey: .trustedCAFile)
        accountURL = try container.decodeIfPresent(String.self, forKey: .accountURL)
    }

    /// Reads settings from the CA row's configuration JSON; `.invalidConfiguration` naming
    /// the problem when it is not an object with a `directoryURL` string or a value is invalid.
    public static func decode(json: Data) throws(ACMEError) -> ACMESettings {
        let settings: ACMESettings
        do {
            settings = try JSONDecoder().decode(ACMESettings.self, from: json)
        } catch {
            throw ACMEError(
                .invalidConfiguration("the ACME CA configuration is not valid: \(ACMEClient.describe(error))"),
                operation: "read ACME CA configuration")
        }
        _ = try settings.clientConfiguration()
        _ = try settings.responderAddress()
        return settings
    }

    /// The client configuration these settings describe (validated).
    public func clientConfiguration(polling: ACMEPolling = ACMEPolling()) throws(ACMEError) -> ACMEClientConfiguration {
        var trust = TLSTrust.systemDefault
        if let trustedCAFile {
            guard FileManager.default.isReadableFile(atPath: trustedCAFile) else {
                throw ACMEError(.invalidConfiguration("trustedCAFile \(trustedCAFile) is not a readable file"),
                                operation: "read ACME CA configuration")
            }
            trust = .caBundle(path: trustedCAFile)
        }
        return try ACMEClientConfiguration(
            directoryURL: directoryURL, contact: contact, termsOfServiceAgreed: termsOfServiceAgreed, trust: trust,
            polling: polling)
    }

    /// The known account URL, if any and well formed.
    public var account: URL? {
        accountURL.flatMap { URL(string: $0) }.flatMap { $0.scheme == "https" ? $0 : nil }
    }

    /// `http01Address` split into host and port: `0.0.0.0:80`, `127.0.0.1:5002`, `[::]:80`.
    public func responderAddress() throws(ACMEError) -> (host: String, port: Int) {
        try Self.parseAddress(http01Address)
    }

    /// Splits `host:port` (IPv6 in brackets); `.invalidConfiguration` otherwise.
    public static func parseAddress(_ text: String) throws(ACMEError) -> (host: String, port: Int) {
        func refuse() -> ACMEError {
            ACMEError(.invalidConfiguration("http01Address \"\(text)\" is not host:port (e.g. 0.0.0.0:80 or [::]:80)"),
                      operation: "read ACME CA configuration")
        }
        guard let colon = text.lastIndex(of: ":") else { throw refuse() }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard host.contains(":") else { throw refuse() }
        } else if host.contains(":") {
            throw refuse()
        }
        guard !host.isEmpty, !host.contains(" "), let port = Int(portText), (0...65535).contains(port),
            portText.allSatisfy(\.isNumber)
        else { throw refuse() }
        return (host, port)
    }
}
