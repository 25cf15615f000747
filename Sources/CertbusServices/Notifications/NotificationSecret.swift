import Foundation
import PKI

/// Seals and opens webhook signing secrets with the key-encryption key, bound to the profile id
/// (a sealed secret copied onto another profile does not open).
public enum NotificationSecret {
    /// The purpose the KEK authenticates with each sealed secret.
    public static let purpose = "notification-secret"

    /// Seals `secret` for the profile.
    public static func seal(_ secret: String, profileId: UUID, with kek: KeyEncryptionKey) throws -> Data {
        try kek.seal(Data(secret.utf8), purpose: purpose, id: profileId)
    }

    /// Opens a sealed secret; throws `NotificationProfileError` when the key is wrong or the bytes were altered.
    public static func open(_ sealed: Data, profileId: UUID, with kek: KeyEncryptionKey) throws -> Data {
        do {
            return try kek.open(sealed, purpose: purpose, id: profileId)
        } catch {
            throw NotificationProfileError(
                "the signing secret of notification profile \(profileId.uuidString.lowercased()) does not open with the key-encryption key \(kek.path) (another CERTBUS_KEK_FILE sealed it, or the data was altered)")
        }
    }
}
