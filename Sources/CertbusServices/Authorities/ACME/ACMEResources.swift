import Foundation
import PKI

/// The status of an ACME account, order, authorization or challenge (RFC 8555 §7.1.6).
public enum ACMEStatus: String, Sendable, Equatable, Codable {
    /// Waiting for the client (authorizations to satisfy, a challenge to start).
    case pending
    /// An order whose authorizations are all valid: it can be finalized.
    case ready
    /// The CA is working (validating a challenge, issuing a finalized order).
    case processing
    /// Done: the account is usable, the identifier validated, the certificate issued.
    case valid
    /// Failed for good (validation failed, order abandoned).
    case invalid
    /// Deactivated by the client.
    case deactivated
    /// Passed its expiry.
    case expired
    /// Revoked by the CA or the client.
    case revoked
}

/// An identifier in an order or authorization: a DNS name (`dns`) or an IP address (`ip`, RFC 8738).
public struct ACMEIdentifier: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `dns` or `ip`.
    public var type: String
    /// The name or address.
    public var value: String

    /// Makes an identifier.
    public init(type: String, value: String) {
        self.type = type
        self.value = value
    }

    /// A `dns` identifier.
    public static func dns(_ name: String) -> ACMEIdentifier { ACMEIdentifier(type: "dns", value: name) }

    /// An `ip` identifier (RFC 8738).
    public static func ip(_ address: String) -> ACMEIdentifier { ACMEIdentifier(type: "ip", value: address) }

    /// "dns:www.example.com".
    public var description: String { "\(type):\(value)" }
}

/// The ACME directory (RFC 8555 §7.1.1): the URLs of the CA's resources.
public struct ACMEDirectory: Sendable, Equatable, Decodable {
    /// Optional information about the CA.
    public struct Meta: Sendable, Equatable, Decodable {
        /// The current terms of service the account must agree to.
        public var termsOfService: URL?
        /// The CA's web site.
        public var website: URL?
        /// The CAA issuer domain names of the CA.
        public var caaIdentities: [String]?
        /// Whether accounts must be bound to an external account (EAB), which certbus does not support.
        public var externalAccountRequired: Bool?
    }

    /// Where to get a fresh anti-replay nonce (HEAD).
    public var newNonce: URL
    /// Where to create (or find) an account.
    public var newAccount: URL
    /// Where to place an order.
    public var newOrder: URL
    /// Where to revoke a certificate.
    public var revokeCert: URL
    /// Where to roll over the account key (unused by certbus).
    public var keyChange: URL?
    /// Optional CA information.
    public var meta: Meta?
}

/// An ACME account as the CA describes it, with its URL (the JWS `kid`).
public struct ACMEAccount: Sendable, Equatable {
    /// The account URL (Location of newAccount), used as `kid` in every later request.
    public var url: URL
    /// `valid`, `deactivated` or `revoked`.
    public var status: ACMEStatus
    /// The contact URLs the CA holds (`mailto:`).
    public var contact: [String]
    /// Whether the account was created by this request (false: it existed for this key).
    public var created: Bool
}

/// The body of an account object (RFC 8555 §7.1.2).
struct ACMEAccountBody: Sendable, Decodable {
    var status: ACMEStatus
    var contact: [String]?
}

/// An ACME order (RFC 8555 §7.1.3).
public struct ACMEOrder: Sendable, Equatable, Decodable {
    /// `pending`, `ready`, `processing`, `valid` or `invalid`.
    public var status: ACMEStatus
    /// When the order stops being usable, as the CA wrote it (RFC 3339).
    public var expires: String?
    /// The identifiers the order is for.
    public var identifiers: [ACMEIdentifier]
    /// The authorizations to satisfy, one per identifier.
    public var authorizations: [URL]
    /// Where to send the CSR once the order is `ready`.
    public var finalize: URL
    /// Where to download the chain once the order is `valid`.
    public var certificate: URL?
    /// Why the order became `invalid`.
    public var error: ACMEProblem?
}

/// An ACME authorization for one identifier (RFC 8555 §7.1.4).
public struct ACMEAuthorization: Sendable, Equatable, Decodable {
    /// The identifier being authorized.
    public var identifier: ACMEIdentifier
    /// `pending`, `valid`, `invalid`, `deactivated`, `expired` or `revoked`.
    public var status: ACMEStatus
    /// The challenges offered; one valid challenge authorizes the identifier.
    public var challenges: [ACMEChallenge]
    /// Whether the identifier was a wildcard (the `*.` is removed from `identifier`).
    public var wildcard: Bool?
}

/// One challenge of an authorization (RFC 8555 §7.1.5, §8).
public struct ACMEChallenge: Sendable, Equatable, Decodable {
    /// `http-01`, `dns-01`, `tls-alpn-01`, ...
    public var type: String
    /// Where to tell the CA the challenge is ready, and to poll it.
    public var url: URL
    /// `pending`, `processing`, `valid` or `invalid`.
    public var status: ACMEStatus
    /// The token that names the challenge resource.
    public var token: String?
    /// Why validation failed.
    public var error: ACMEProblem?
}

/// A certificate chain downloaded from the CA.
public struct ACMEIssuedCertificate: Sendable {
    /// The order URL: the CA's request id for this issuance.
    public var orderURL: URL
    /// Where the chain was downloaded from.
    public var certificateURL: URL
    /// The chain exactly as the CA sent it (`application/pem-certificate-chain`), leaf first.
    public var pemChain: String
    /// The parsed chain, leaf first.
    public var chain: [PKI.Certificate]
    /// The issued certificate (the first of the chain).
    public var leaf: PKI.Certificate { chain[0] }
}
