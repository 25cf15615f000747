/// What certificates of an RA profile are for. It decides the extended key usage and which
/// CA/Browser Forum rules apply (TLS server certificates: a SAN is required, lifetime at most
/// 398 days, only browser-accepted revocation reasons).
public enum CertificateType: String, Sendable, Codable, CaseIterable {
    /// A TLS server certificate (EKU serverAuth).
    case tlsServer = "TLS_SERVER"
    /// A TLS certificate for servers and clients (EKU serverAuth + clientAuth).
    case tlsServerAndClient = "TLS_SERVER_CLIENT"
    /// A TLS client certificate (EKU clientAuth).
    case tlsClient = "TLS_CLIENT"

    /// Whether the Baseline Requirements for TLS server certificates apply.
    public var isTLSServer: Bool { self != .tlsClient }

    /// The longest lifetime in days a profile of this type may set (398 for TLS servers).
    public var maximumValidityDays: Int { isTLSServer ? 398 : 3650 }
}
