import COpenSSL

/// The one error type the PKI module throws.
///
/// It says what was being attempted (`operation`), what kind of failure it is (`kind`), a
/// message in certbus's words, and — when OpenSSL was involved — OpenSSL's own reason text
/// taken from its error queue. It never carries key material or the bytes of the input.
public struct PKIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broad class of failure, for callers that branch on it.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The input (PEM, DER, text) could not be decoded.
        case malformedInput
        /// The input is well formed but uses something certbus does not support (a key type, an encryption).
        case unsupported
        /// A caller-supplied argument is out of range or inconsistent.
        case invalidArgument
        /// A signature or chain link did not verify.
        case verificationFailed
        /// The request violates an issuance rule (CA/B Forum Baseline Requirements, CA constraints).
        case policyViolation
        /// Authenticated decryption failed: wrong key or tampered data.
        case authenticationFailed
        /// OpenSSL failed in a way that is not the caller's fault.
        case internalFailure
    }

    /// The broad class of failure.
    public let kind: Kind
    /// What was being attempted, e.g. "parse certificate".
    public let operation: String
    /// What went wrong, in certbus's words.
    public let message: String
    /// OpenSSL's reason text from its error queue, when OpenSSL reported one.
    public let openSSLReason: String?

    /// Creates an error; `openSSLReason` is normally filled by ``PKIError/openSSL(_:_:_:)``.
    public init(_ kind: Kind, operation: String, message: String, openSSLReason: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.message = message
        self.openSSLReason = openSSLReason
    }

    /// "operation: message (OpenSSL: reason)".
    public var description: String {
        var text = "\(operation): \(message)"
        if let openSSLReason { text += " (OpenSSL: \(openSSLReason))" }
        return text
    }

    /// An error that takes OpenSSL's reasons from the calling thread's error queue, emptying it.
    static func openSSL(_ kind: Kind, _ operation: String, _ message: String) -> PKIError {
        PKIError(kind, operation: operation, message: message, openSSLReason: OpenSSLErrorQueue.drain())
    }
}

/// The calling thread's OpenSSL error queue.
enum OpenSSLErrorQueue {
    /// Removes every queued error and returns their reason strings joined by "; ", or nil if none.
    static func drain() -> String? {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !reasons.contains(reason) { reasons.append(reason) }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// Discards whatever is queued (used after an expected, handled failure).
    static func clear() {
        ERR_clear_error()
    }
}
