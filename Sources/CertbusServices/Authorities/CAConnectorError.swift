/// A CA connector failure, saying whether asking again can help.
public struct CAConnectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Sendable, Equatable {
        /// The CA is DISABLED in certbus.
        case disabled
        /// No connector is registered for the CA's kind.
        case unknownKind
        /// The CA's row or configuration cannot work (missing key, missing certificate).
        case misconfigured
        /// The CA's private key cannot be opened (wrong or missing key-encryption key).
        case keyUnavailable
        /// The CA refused the request (policy, bad CSR, unknown certificate).
        case rejected
        /// The CA does not know the certificate or request.
        case notFound
        /// The CA could not be reached or did not answer in time.
        case unreachable
        /// Something unexpected inside certbus.
        case internalFailure
    }

    /// What kind of failure.
    public var code: Code
    /// True when retrying cannot help: the job fails at once.
    public var isPermanent: Bool
    /// The CA's name.
    public var caName: String
    /// What went wrong, for people; never key material.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, caName: String, message: String, isPermanent: Bool) {
        self.code = code
        self.caName = caName
        self.message = message
        self.isPermanent = isPermanent
    }

    /// A failure retrying cannot fix.
    public static func permanent(_ code: Code, caName: String, _ message: String) -> CAConnectorError {
        CAConnectorError(code, caName: caName, message: message, isPermanent: true)
    }

    /// A failure that may pass (CA down, timeout).
    public static func retryable(_ code: Code, caName: String, _ message: String) -> CAConnectorError {
        CAConnectorError(code, caName: caName, message: message, isPermanent: false)
    }

    /// "CA <name>: message".
    public var description: String { "CA \(caName): \(message)" }
}
