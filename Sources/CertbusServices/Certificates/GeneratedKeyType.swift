import PKI

/// Key types certbus generates for requests without a CSR, named as stored in SQL.
public enum GeneratedKeyType: String, Sendable, CaseIterable, Codable {
    case ecP256 = "EC-P256"
    case ecP384 = "EC-P384"
    case rsa2048 = "RSA-2048"
    case rsa3072 = "RSA-3072"
    case rsa4096 = "RSA-4096"
    case ed25519 = "ED25519"

    /// The PKI algorithm.
    public var algorithm: KeyAlgorithm {
        switch self {
        case .ecP256: .ecdsaP256
        case .ecP384: .ecdsaP384
        case .rsa2048: .rsa(bits: 2048)
        case .rsa3072: .rsa(bits: 3072)
        case .rsa4096: .rsa(bits: 4096)
        case .ed25519: .ed25519
        }
    }
}

extension KeyAlgorithm {
    /// The family name profiles and the certificates table use: EC-P256, EC-P384, EC-P521, RSA, ED25519.
    public var profileName: String {
        switch self {
        case .ecdsa(let curve): "EC-" + curve.rawValue.replacingOccurrences(of: "-", with: "")
        case .rsa: "RSA"
        case .ed25519: "ED25519"
        }
    }
}
