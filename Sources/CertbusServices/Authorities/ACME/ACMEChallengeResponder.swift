import Foundation

/// Makes ACME challenges answerable while the CA validates them. certbus ships the http-01
/// responder (``ACMEHTTP01Responder``); a DNS-01 integration would be another conformance.
public protocol ACMEChallengeResponder: Sendable {
    /// The challenge type answered, e.g. `http-01`.
    var challengeType: String { get }
    /// Publishes `keyAuthorization` for `token`; once this returns the CA may check it.
    /// Throws ``ACMEError`` (`.invalidConfiguration`) when it cannot publish.
    func present(identifier: ACMEIdentifier, token: String, keyAuthorization: String) throws(ACMEError)
    /// Withdraws the answer for `token` (after validation, successful or not). Never fails.
    func remove(token: String)
}
