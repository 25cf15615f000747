import CertbusArguments
import CertbusCore
import CertbusServices
import Postgres

/// The blast-radius options `cert list` and `incident renew` share: certificates sharing a key, issued
/// below a CA, with names matching a pattern, of a profile, deployed on an endpoint — every option
/// given must match.
enum SelectorOptions {
    static let sharingKeyOf = Option<String>(
        "sharing-key-of", valueName: "certificate",
        help: "Only certificates with the same public key as this certificate (id or SHA-256 fingerprint), itself included.")
    static let issuedBy = Option<String>(
        "issued-by", valueName: "ca", help: "Only certificates issued by this CA (name or id) or by any CA below it, through every intermediate.")
    static let sanMatches = Option<String>(
        "san-matches", valueName: "pattern",
        help: "Only certificates with a name (SAN or common name) matching this pattern: * for any characters, case ignored (*.example.com).")
    static let profile = Option<String>("profile", valueName: "name", help: "Only certificates of this RA profile (name or id).")
    static let endpoint = Option<String>("endpoint", valueName: "name", help: "Only certificates deployed on this endpoint (expected there or served at its last validation).")
    static let selectorText = Option<String>(
        "selector", valueName: "key=value,...", repeatable: true,
        help: "The same criteria as key=value pairs: sharing-key-of, issued-by, san-matches, profile, endpoint (e.g. issued-by=acme-corp,san-matches=*.example.com).")

    /// The five criteria options (cert list).
    static let criteria: [any OptionDeclaration] = [sharingKeyOf, issuedBy, sanMatches, profile, endpoint]

    /// The selector the options of `invocation` give (empty when none); a bad pattern, an unknown key or a
    /// criterion given twice is a usage error.
    static func selector(_ invocation: Invocation, withSelectorText: Bool = false) throws -> CertificateSelector {
        var selector = CertificateSelector()
        do {
            if let value = invocation[sharingKeyOf] { try selector.set("sharing-key-of", value) }
            if let value = invocation[issuedBy] { try selector.set("issued-by", value) }
            if let value = invocation[sanMatches] { try selector.set("san-matches", value) }
            if let value = invocation[profile] { try selector.set("profile", value) }
            if let value = invocation[endpoint] { try selector.set("endpoint", value) }
            if withSelectorText {
                for text in invocation.values(selectorText) { try selector.add(selectorText: text) }
            }
        } catch let error as CertificateSelectorError {
            throw UsageError(error.message)
        }
        return selector
    }

    /// Resolves `selector`, turning unknown names into a command failure (exit 1) naming them.
    static func resolve(_ selector: CertificateSelector, on connection: Connection) throws -> ResolvedSelector {
        do {
            return try CertificateSelection.resolve(selector, on: connection)
        } catch let error as CertificateSelectionError {
            throw CommandFailure(error.message)
        }
    }
}
