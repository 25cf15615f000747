/// Why a certificate request is refused before any CA is asked. Refusals are permanent:
/// the same request would be refused again.
public struct RequestRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of refusal, for callers and tests that branch on it.
    public enum Code: String, Sendable, Equatable {
        /// The CSR is not a parseable PEM/DER request.
        case malformedCSR
        /// The CSR's signature does not verify under its own key.
        case badSignature
        /// The key is weaker than the profile allows (e.g. 1024-bit RSA).
        case weakKey
        /// The key type is not among the profile's allowed algorithms.
        case keyTypeNotAllowed
        /// A requested name is not allowed by the profile's domain patterns.
        case nameNotAllowed
        /// A requested name is malformed, or there is none.
        case invalidName
        /// The profile does not exist or is disabled.
        case unknownProfile
        /// The profile's CA does not exist, is disabled or cannot be used.
        case unavailableCA
        /// The request is inconsistent (both or neither of CSR and names, unknown key type...).
        case invalidRequest
        /// The approval was denied.
        case approvalDenied
        /// The approval expired.
        case approvalExpired
        /// The approval does not match the request.
        case approvalMismatch
        /// The certificate cannot be renewed or revoked in its state.
        case invalidState
    }

    /// The kind of refusal.
    public var code: Code
    /// One clear sentence for the operator.
    public var message: String

    /// Creates a refusal.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
