import Foundation
import PKI

/// The ACME account key of a CA at rest: generated as ECDSA P-256 (ES256), stored as PKCS#8
/// sealed under the key-encryption key (the same KEK as built-in CA keys) for the purpose
/// `acme-account-key` and the CA's id, so a sealed key copied to another CA row does not open.
public enum ACMEAccountKeyVault {
    /// The ``KeyEncryptionKey`` purpose of sealed ACME account keys.
    public static let purpose = "acme-account-key"

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
    public static func seal(_ key: PrivateKey, caID: UUID, with kek: KeyEncryptionKey) throws(ACMEError) -> Data {
        do {
            return try kek.seal(try key.pkcs8DER(), purpose: purpose, id: caID)
        } catch {
            throw ACMEError(.invalidConfiguration("cannot seal the ACME account key: \(error)"),
                            operation: "seal ACME account key of CA \(caID.uuidString.lowercased())")
        }
    }

    /// The account key of CA `caID` from its sealed form. Fails with `.invalidConfiguration`
    /// when the key-encryption key is not the one it was sealed with, or the bytes were altered
    /// or belong to another CA.
    public static func open(_ sealed: Data, caID: UUID, with kek: KeyEncryptionKey) throws(ACMEError) -> PrivateKey {
        let operation = "open ACME account key of CA \(caID.uuidString.lowercased())"
        let der: Data
        do {
            der = try kek.open(sealed, purpose: purpose, id: caID)
        } catch {
            throw ACMEError(.invalidConfiguration("\(error)"), operation: operation)
        }
        do {
            return try PrivateKey(der: der)
        } catch {
            throw ACMEError(.invalidConfiguration("the stored ACME account key does not parse: \(error)"),
                            operation: operation)
        }
    }
}
