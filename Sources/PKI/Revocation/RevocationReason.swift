/// The CRLReason codes of RFC 5280 §5.3.1 (value 7 is unused by the standard).
public enum RevocationReason: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// unspecified (0). RFC 5280 says to omit the reasonCode extension instead; certbus does.
    case unspecified = 0
    /// keyCompromise (1)
    case keyCompromise = 1
    /// cACompromise (2)
    case caCompromise = 2
    /// affiliationChanged (3)
    case affiliationChanged = 3
    /// superseded (4)
    case superseded = 4
    /// cessationOfOperation (5)
    case cessationOfOperation = 5
    /// certificateHold (6)
    case certificateHold = 6
    /// removeFromCRL (8), only in delta CRLs
    case removeFromCRL = 8
    /// privilegeWithdrawn (9)
    case privilegeWithdrawn = 9
    /// aACompromise (10)
    case aaCompromise = 10

    /// The RFC 5280 name, e.g. "keyCompromise".
    public var description: String {
        switch self {
        case .unspecified: "unspecified"
        case .keyCompromise: "keyCompromise"
        case .caCompromise: "cACompromise"
        case .affiliationChanged: "affiliationChanged"
        case .superseded: "superseded"
        case .cessationOfOperation: "cessationOfOperation"
        case .certificateHold: "certificateHold"
        case .removeFromCRL: "removeFromCRL"
        case .privilegeWithdrawn: "privilegeWithdrawn"
        case .aaCompromise: "aACompromise"
        }
    }

    /// The reason for an RFC 5280 name (as in ``description``); nil if unknown.
    public init?(name: String) {
        guard let reason = Self.allCases.first(where: { $0.description.lowercased() == name.lowercased() }) else { return nil }
        self = reason
    }
}
