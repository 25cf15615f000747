import CertbusCore
import CertbusHTTP
import Foundation

/// Why an ACME operation failed, with what was being attempted and, when the CA answered,
/// its problem document. Never carries key material, nonces or signed requests.
public struct ACMEError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The client was configured wrongly (directory URL, contact, responder); nothing was sent.
        case invalidConfiguration(String)
        /// The request could not be given to the CA, or no complete answer came back
        /// (connection refused, DNS, TLS, timeout).
        case transport(HTTPError)
        /// The CA refused the request with a problem document.
        case problem(ACMEProblem)
        /// The CA answered with something that is not a valid ACME response.
        case badResponse(String)
        /// An authorization ended `invalid` (or the CA refused the challenge): the
        /// identifier was not validated. `problem` is the challenge's error from the CA.
        case validationFailed(identifier: String, problem: ACMEProblem?)
        /// The order ended `invalid` (or expired) while being finalized or processed.
        case orderFailed(status: String, problem: ACMEProblem?)
        /// The CA offers no challenge certbus can answer for this identifier.
        case unsupportedChallenge(identifier: String, offered: [String])
        /// Waiting for the CA (validation, issuance) passed the configured deadline.
        case timedOut(String)
        /// The CA's certificate does not belong to the request (another public key).
        case certificateMismatch(String)
        /// The caller cancelled the operation (job cancelled, worker stopping, or the order URL
        /// could not be recorded); nothing further was sent.
        case cancelled(String)
    }

    /// What went wrong.
    public let kind: Kind
    /// What was being attempted, e.g. `create account at https://ca.example/acme/new-account`.
    public let operation: String
    /// The automation status the step ended in (`Account creation failed`, `Validation failed`,
    /// `Issuance failed`), or nil for operations outside issuance (revocation, directory checks).
    public internal(set) var failedStatus: AutomationStatus?

    /// Makes an error.
    public init(_ kind: Kind, operation: String, failedStatus: AutomationStatus? = nil) {
        self.kind = kind
        self.operation = operation
        self.failedStatus = failedStatus
    }

    /// The CA's problem document, when the failure came with one.
    public var problem: ACMEProblem? {
        switch kind {
        case .problem(let problem): problem
        case .validationFailed(_, let problem), .orderFailed(_, let problem): problem
        default: nil
        }
    }

    /// Whether the same request may succeed later without a change of configuration: the CA
    /// was unreachable or timed out, answered 5xx, asked to slow down (`rateLimited`) or kept
    /// rejecting nonces. Refusals (`unauthorized`, `rejectedIdentifier`, a failed validation)
    /// and configuration errors are permanent.
    public var isRetryable: Bool {
        switch kind {
        case .invalidConfiguration, .unsupportedChallenge, .validationFailed, .orderFailed, .certificateMismatch: false
        case .timedOut, .cancelled: true
        case .problem(let problem): problem.isRetryable
        case .badResponse: true
        case .transport(let error):
            switch error.kind {
            case .invalidURL, .invalidRequest, .tlsConfiguration, .tlsHandshake, .responseTooLarge: false
            case .dnsFailure, .connectionRefused, .connectionFailed, .timeout, .connectionLost, .connectionClosed,
                .badResponse:
                true
            }
        }
    }

    /// `create account at URL: connection refused` — one line for logs, job errors and operators.
    public var description: String {
        "\(operation): \(kindDescription)"
    }

    /// The message for `kind` alone.
    public var kindDescription: String {
        switch kind {
        case .invalidConfiguration(let why): "invalid ACME configuration: \(why)"
        case .transport(let error): "CA unreachable: \(error.description)"
        case .problem(let problem): "the CA refused: \(problem)"
        case .badResponse(let why): "unexpected answer from the CA: \(why)"
        case .validationFailed(let identifier, let problem):
            "validation of \(identifier) failed" + (problem.map { ": \($0)" } ?? "")
        case .orderFailed(let status, let problem):
            "the order became \(status)" + (problem.map { ": \($0)" } ?? "")
        case .unsupportedChallenge(let identifier, let offered):
            "no http-01 challenge offered for \(identifier) (offered: "
                + (offered.isEmpty ? "none" : offered.joined(separator: ", ")) + ")"
        case .timedOut(let what): "timed out waiting for \(what)"
        case .certificateMismatch(let why): why
        case .cancelled(let why): "cancelled: \(why)"
        }
    }

    /// A copy that reports `status` as the step's outcome unless one is already set.
    func ending(in status: AutomationStatus) -> ACMEError {
        var copy = self
        if copy.failedStatus == nil { copy.failedStatus = status }
        return copy
    }
}
