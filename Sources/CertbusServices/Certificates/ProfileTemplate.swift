import CertbusCore
import Foundation

/// A built-in preset for RA profiles (`certbus profile create NAME --ca CA --template T`): the
/// settings of one kind of profile certbus ships, and what the CA must provide so that the
/// certificates conform to the standard the template names. `scripts/conformance` lints a
/// certificate of every template with pkilint.
///
/// A template fills in a draft; options given on top of it may narrow it (fewer key types, a
/// shorter lifetime, domains, approval) but not leave it (another certificate type, a key type
/// it does not allow).
public struct ProfileTemplate: Sendable, Equatable {
    /// The template's name, e.g. `tls-server-br`.
    public var name: String
    /// One line saying what it is for.
    public var summary: String
    /// The certificate type of its profiles.
    public var certificateType: CertificateType
    /// Lifetime in days.
    public var validityDays: Int
    /// Accepted key types (names as in ``RAProfileDraft/allowedKeyAlgorithms``).
    public var allowedKeyAlgorithms: [String]
    /// The key type certbus generates for requests without a CSR.
    public var defaultKeyAlgorithm: String
    /// Whether a built-in CA must put a CRL distribution point and an authority information
    /// access caIssuers URL into the certificates (the CA/Browser Forum Baseline Requirements,
    /// 7.1.2.7.7 and 7.1.2.11.2, require both in publicly-trusted TLS server certificates).
    public var requiresRevocationPointers: Bool

    /// Publicly-trusted TLS server certificates shaped by the CA/Browser Forum Baseline
    /// Requirements (DV): serverAuth only, ECDSA P-256/P-384 or RSA ≥ 2048 (no Ed25519, BR 6.1.5),
    /// 90 days, the DV policy OID, CRL distribution point and caIssuers required.
    public static let tlsServerBR = ProfileTemplate(
        name: "tls-server-br",
        summary: "publicly-trusted TLS server certificates (CA/Browser Forum Baseline Requirements, DV)",
        certificateType: .tlsServer, validityDays: 90, allowedKeyAlgorithms: ["EC-P256", "EC-P384", "RSA"],
        defaultKeyAlgorithm: "EC-P256", requiresRevocationPointers: true)

    /// TLS server certificates of a private PKI: as `tls-server-br`, plus Ed25519 keys, and no
    /// requirement on CRL or caIssuers URLs. The default of `certbus profile create`.
    public static let tlsServer = ProfileTemplate(
        name: "tls-server", summary: "TLS server certificates for a private PKI (Ed25519 allowed)",
        certificateType: .tlsServer, validityDays: 90, allowedKeyAlgorithms: ["EC-P256", "EC-P384", "RSA", "ED25519"],
        defaultKeyAlgorithm: "EC-P256", requiresRevocationPointers: false)

    /// Certificates for services that are TLS servers and clients (mutual TLS), 90 days.
    public static let tlsServerClient = ProfileTemplate(
        name: "tls-server-client", summary: "mutual-TLS certificates for services (serverAuth + clientAuth)",
        certificateType: .tlsServerAndClient, validityDays: 90, allowedKeyAlgorithms: ["EC-P256", "EC-P384", "RSA", "ED25519"],
        defaultKeyAlgorithm: "EC-P256", requiresRevocationPointers: false)

    /// TLS client certificates (clientAuth), one year.
    public static let tlsClient = ProfileTemplate(
        name: "tls-client", summary: "TLS client certificates (clientAuth), one year",
        certificateType: .tlsClient, validityDays: 365, allowedKeyAlgorithms: ["EC-P256", "EC-P384", "RSA", "ED25519"],
        defaultKeyAlgorithm: "EC-P256", requiresRevocationPointers: false)

    /// Every template, in the order `certbus profile templates` lists them.
    public static let all: [ProfileTemplate] = [tlsServerBR, tlsServer, tlsServerClient, tlsClient]

    /// The template with this name (case-insensitive), or nil.
    public static func named(_ name: String) -> ProfileTemplate? {
        all.first { $0.name == name.lowercased() }
    }

    /// A draft for profile `name` on CA `ca` with this template's settings.
    public func draft(name: String, ca: String) -> RAProfileDraft {
        var draft = RAProfileDraft(name: name, ca: ca)
        draft.template = self
        draft.certificateType = certificateType
        draft.validityDays = validityDays
        draft.allowedKeyAlgorithms = allowedKeyAlgorithms
        draft.defaultKeyAlgorithm = defaultKeyAlgorithm
        return draft
    }

    /// Why `draft` leaves this template, or nil when it stays within it: its certificate type
    /// differs, it allows a key type the template does not, or it generates one it does not allow.
    public func problem(with draft: RAProfileDraft) -> String? {
        if draft.certificateType != certificateType {
            return "the \(name) template issues \(certificateType.rawValue) certificates, not \(draft.certificateType.rawValue)"
        }
        let outside = draft.allowedKeyAlgorithms.map { $0.uppercased() }.filter { !allowedKeyAlgorithms.contains($0) }
        if !outside.isEmpty {
            return "the \(name) template allows only \(allowedKeyAlgorithms.joined(separator: ", ")) keys, not \(outside.joined(separator: ", "))"
                + (name == Self.tlsServerBR.name ? " (Baseline Requirements 6.1.5)" : "")
        }
        let generated = draft.defaultKeyAlgorithm.uppercased()
        let family = generated.hasPrefix("RSA") ? "RSA" : generated
        if !draft.allowedKeyAlgorithms.map({ $0.uppercased() }).contains(family) {
            return "the default key type \(generated) is not among the profile's key types (\(draft.allowedKeyAlgorithms.joined(separator: ", ")))"
        }
        return nil
    }

    /// Why a CA of `kind` with `configuration` cannot issue this template's certificates, or nil.
    /// Only built-in CAs are checked: an ACME CA shapes its certificates itself.
    public func problem(withCA name: String, kind: String, configuration: CAConfiguration) -> String? {
        guard requiresRevocationPointers, kind == "BUILT_IN" else { return nil }
        var missing: [String] = []
        if configuration.crlURL == nil { missing.append("a CRL URL (--crl-url)") }
        if configuration.caIssuersURL == nil { missing.append("a caIssuers URL (--ca-issuers-url)") }
        guard !missing.isEmpty else { return nil }
        return "the \(self.name) template needs a CA whose certificates point at its CRL and at its own certificate "
            + "(Baseline Requirements 7.1.2.7.7, 7.1.2.11.2), but CA \(name) lacks \(missing.joined(separator: " and ")); "
            + "create one with: certbus ca create NAME --org ORG --country CC "
            + "--crl-url 'http://pki.example.com/{ca}.crl' --ca-issuers-url 'http://pki.example.com/{ca}.crt'"
    }
}
