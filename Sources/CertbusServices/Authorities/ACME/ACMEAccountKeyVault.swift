import Foundation
import PKI

/// The ACME account key of a CA at rest: generated as ECDSA P-256 (ES256), stored as PKCS#8
/// sealed with AES-256-GCM under the key-encryption key, bound to the CA's id so that a sealed
/// key copied to another CA row does not open.
public enum ACMEAccountKeyVault {
    /// A fresh ECDSA P-256 account key.
    public static func generate() throws(ACMEError) -> PrivateKey {
        do {
            return try PrivateKey.generate(.ecdsaP256)
        } catch {
            throw ACMEError(.invalidConfiguration("cannot generate an ACME account key: \(error)"),
                            operation: "generate ACME account key")
        }
    }

    /// The sealed form of `key` for the CA `caID` (what goes in `encrypted_private_key`).
    public static func seal(_ key: PrivateKey, caID: UUID, with box: SecretBox) throws(ACMEError) -> Data {
        do {
            return try box.seal(try key.pkcs8DER(), additionalData: additionalData(caID))
        } catch {
            throw ACMEError(.invalidConfiguration("cannot seal the ACME account key: \(error)"),
                            operation: "seal ACME account key of CA \(caID)")
        }
    }

    /// The account key of CA `caID` from its sealed form. Fails with `.invalidConfiguration`
    /// when the key-encryption key is not the one it was sealed with, or the bytes were altered
    /// or belong to another CA.
    public static func open(_ sealed: Data, caID: UUID, with box: SecretBox) throws(ACMEError) -> PrivateKey {
        let operation = "open ACME account key of CA \(caID)"
        let der: Data
        do {
            der = try box.open(sealed, additionalData: additionalData(caID))
        } catch {
            throw ACMEError(
                .invalidConfiguration("the ACME account key does not open with the configured key-encryption key (wrong CERTBUS_KEK_FILE, or altered data): \(error)"),
                operation: operation)
        }
        do {
            return try PrivateKey(der: der)
        } catch {
            throw ACMEError(.invalidConfiguration("the stored ACME account key does not parse: \(error)"),
                            operation: operation)
        }
    }

    static func additionalData(_ caID: UUID) -> Data {
        Data("certbus acme account key \(caID.uuidString.lowercased())".utf8)
    }
}
