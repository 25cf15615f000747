import Foundation

/// An RFC 7807 problem document as an ACME server sends it (RFC 8555 §6.7), e.g.
/// `urn:ietf:params:acme:error:rejectedIdentifier` with the CA's own detail text.
public struct ACMEProblem: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The URN prefix of the error types RFC 8555 defines.
    public static let acmeErrorPrefix = "urn:ietf:params:acme:error:"

    /// The problem type URI, e.g. `urn:ietf:params:acme:error:unauthorized`.
    public var type: String
    /// The CA's human-readable explanation, when it sent one.
    public var detail: String?
    /// The HTTP status the CA gave the problem (in the document, or of the response).
    public var status: Int?
    /// The identifier a subproblem is about (RFC 8555 §6.7.1).
    public var identifier: ACMEIdentifier?
    /// Per-identifier problems of a compound error (RFC 8555 §6.7.1).
    public var subproblems: [ACMEProblem]?

    /// Makes a problem.
    public init(
        type: String, detail: String? = nil, status: Int? = nil, identifier: ACMEIdentifier? = nil,
        subproblems: [ACMEProblem]? = nil
    ) {
        self.type = type
        self.detail = detail
        self.status = status
        self.identifier = identifier
        self.subproblems = subproblems
    }

    /// The RFC 8555 error name without the URN prefix (`badNonce`), or the whole type for
    /// problem types outside the ACME namespace.
    public var name: String {
        type.hasPrefix(Self.acmeErrorPrefix) ? String(type.dropFirst(Self.acmeErrorPrefix.count)) : type
    }

    /// Whether this is the RFC 8555 error `name`, e.g. `is("badNonce")`.
    public func `is`(_ name: String) -> Bool { type == Self.acmeErrorPrefix + name }

    /// Whether asking again later may succeed: `badNonce`, `rateLimited`, `serverInternal`
    /// and any problem the CA gave a 5xx status. Everything else is the CA's final answer
    /// to this request.
    public var isRetryable: Bool {
        if `is`("badNonce") || `is`("rateLimited") || `is`("serverInternal") { return true }
        if let status, status >= 500 { return true }
        return false
    }

    /// `urn:ietf:params:acme:error:unauthorized (403): detail [sub: ...]`.
    public var description: String {
        var text = type
        if let status { text += " (\(status))" }
        if let detail, !detail.isEmpty { text += ": \(detail)" }
        if let subproblems, !subproblems.isEmpty {
            let parts = subproblems.map { sub in
                (sub.identifier.map { "\($0.value): " } ?? "") + sub.description
            }
            text += " [" + parts.joined(separator: "; ") + "]"
        }
        return text
    }
}
