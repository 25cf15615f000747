import Foundation

/// Settings every CA kind understands, stored in `certificate_authorities.configuration`.
/// Connectors decode their own extra fields from the same JSON object.
public struct CAConfiguration: Codable, Sendable, Equatable {
    /// URL put into the cRLDistributionPoints of issued certificates (built-in).
    public var crlURL: String?
    /// OCSP responder URL put into authorityInfoAccess (built-in).
    public var ocspURL: String?
    /// caIssuers URL put into authorityInfoAccess (built-in).
    public var caIssuersURL: String?
    /// Lifetime of a CRL (thisUpdate → nextUpdate) in hours; default 168 (7 days).
    public var crlValidityHours: Int?
    /// A new CRL is published by CA_REFRESH when less than this many hours remain; default half the validity.
    public var crlRefreshHours: Int?
    /// Warn when the CA certificate expires within this many days; default 90.
    public var expiryWarningDays: Int?

    /// Creates settings; nil fields take the defaults.
    public init(
        crlURL: String? = nil, ocspURL: String? = nil, caIssuersURL: String? = nil, crlValidityHours: Int? = nil,
        crlRefreshHours: Int? = nil, expiryWarningDays: Int? = nil
    ) {
        self.crlURL = crlURL
        self.ocspURL = ocspURL
        self.caIssuersURL = caIssuersURL
        self.crlValidityHours = crlValidityHours
        self.crlRefreshHours = crlRefreshHours
        self.expiryWarningDays = expiryWarningDays
    }

    /// CRL lifetime in seconds.
    public var crlValidity: TimeInterval { TimeInterval(max(1, crlValidityHours ?? 168)) * 3600 }
    /// Publish a new CRL when less than this remains, in seconds.
    public var crlRefreshMargin: TimeInterval {
        crlRefreshHours.map { TimeInterval(max(0, $0)) * 3600 } ?? crlValidity / 2
    }
    /// The CA-expiry warning horizon in seconds.
    public var expiryWarning: TimeInterval { TimeInterval(max(0, expiryWarningDays ?? 90)) * 86400 }
}
