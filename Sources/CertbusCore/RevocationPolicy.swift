/// Which RFC 5280 revocation reasons certbus accepts.
///
/// TLS server certificates accept only the reasons browsers and the CA/Browser Forum Baseline
/// Requirements (7.2.2) allow for subscriber certificates: unspecified, keyCompromise,
/// affiliationChanged, superseded and cessationOfOperation. Other certificates accept every
/// reason except removeFromCRL (meaningful only in delta CRLs) and the CA-only cACompromise /
/// aACompromise.
public enum RevocationPolicy {
    /// The CRLReason names of RFC 5280 §5.3.1, with their codes.
    public enum Reason: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
        case unspecified
        case keyCompromise
        case cACompromise
        case affiliationChanged
        case superseded
        case cessationOfOperation
        case certificateHold
        case removeFromCRL
        case privilegeWithdrawn
        case aACompromise

        /// The CRLReason code (7 is unused by the standard).
        public var code: Int {
            switch self {
            case .unspecified: 0
            case .keyCompromise: 1
            case .cACompromise: 2
            case .affiliationChanged: 3
            case .superseded: 4
            case .cessationOfOperation: 5
            case .certificateHold: 6
            case .removeFromCRL: 8
            case .privilegeWithdrawn: 9
            case .aACompromise: 10
            }
        }

        /// The RFC 5280 name, e.g. "keyCompromise".
        public var description: String { rawValue }

        /// The reason for a name, ignoring case ("keycompromise" works); nil if unknown.
        public init?(name: String) {
            guard let reason = Self.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
                return nil
            }
            self = reason
        }
    }

    /// The reasons a TLS server certificate may be revoked with.
    public static let tlsServerReasons: [Reason] = [
        .unspecified, .keyCompromise, .affiliationChanged, .superseded, .cessationOfOperation,
    ]

    /// The reasons other end-entity certificates may be revoked with.
    public static let endEntityReasons: [Reason] = [
        .unspecified, .keyCompromise, .affiliationChanged, .superseded, .cessationOfOperation,
        .certificateHold, .privilegeWithdrawn,
    ]

    /// Checks a requested reason name for a certificate and returns the reason, or throws
    /// ``RevocationReasonError`` naming the allowed reasons.
    public static func validate(_ name: String, isTLSServer: Bool) throws -> Reason {
        let allowed = isTLSServer ? tlsServerReasons : endEntityReasons
        guard let reason = Reason(name: name) else {
            throw RevocationReasonError(
                reason: name, message: "unknown revocation reason \"\(name)\"", allowed: allowed)
        }
        guard allowed.contains(reason) else {
            let what = isTLSServer ? "a TLS server certificate" : "an end-entity certificate"
            throw RevocationReasonError(
                reason: name, message: "\(reason) is not an allowed revocation reason for \(what)", allowed: allowed)
        }
        return reason
    }
}

/// A revocation reason certbus refuses.
public struct RevocationReasonError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason as requested.
    public var reason: String
    /// What is wrong with it.
    public var message: String
    /// The reasons that would be accepted.
    public var allowed: [RevocationPolicy.Reason]

    /// "message (allowed: a, b, c)".
    public var description: String {
        "\(message) (allowed: \(allowed.map(\.rawValue).joined(separator: ", ")))"
    }
}
