import Foundation
import PKI

/// Seals and opens webhook signing secrets with the key-encryption key, bound to the profile id
/// (a sealed secret copied onto another profile does not open).
public enum NotificationSecret {
    static func additionalData(_ profileId: UUID) -> Data {
        Data("certbus notification profile \(profileId.uuidString.lowercased())".utf8)
    }

    /// Seals `secret` for the profile.
    public static func seal(_ secret: String, profileId: UUID, with box: SecretBox) throws -> Data {
        try box.seal(Data(secret.utf8), additionalData: additionalData(profileId))
    }

    /// Opens a sealed secret; throws `NotificationProfileError` when the key is wrong or the bytes were altered.
    public static func open(_ sealed: Data, profileId: UUID, with box: SecretBox) throws -> Data {
        do {
            return try box.open(sealed, additionalData: additionalData(profileId))
        } catch {
            throw NotificationProfileError(
                "the signing secret of notification profile \(profileId.uuidString.lowercased()) does not open with the configured key-encryption key (wrong CERTBUS_KEK_FILE, or altered data)")
        }
    }
}
