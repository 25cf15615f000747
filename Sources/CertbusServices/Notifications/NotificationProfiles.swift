import CertbusCore
import Foundation
import PKI
import Postgres

/// Creates, lists and disables notification profiles. Operator changes write a
/// NOTIFICATION_PROFILE_CHANGED audit row in the same transaction. Secrets are sealed under the
/// key-encryption key and never returned.
public enum NotificationProfiles {
    /// Creates a profile. A WEBHOOK secret needs `keyEncryptionKey`. Throws
    /// `NotificationProfileError` for bad input or a name already taken; nothing is written then.
    public static func create(
        on connection: Connection, _ new: NewNotificationProfile, keyEncryptionKey: KeyEncryptionKey?, actor: Actor
    ) throws -> NotificationProfile {
        if let problem = new.problem { throw NotificationProfileError(problem) }
        if new.secret != nil, keyEncryptionKey == nil {
            throw NotificationProfileError(
                "storing a webhook signing secret needs the key-encryption key: set CERTBUS_KEK_FILE")
        }
        do {
            return try connection.withTransaction { tx in
                let id = UUID()
                let sealed = try new.secret.map { try NotificationSecret.seal($0, profileId: id, with: keyEncryptionKey!) }
                let row = try tx.query(
                    """
                    INSERT INTO certbus.notification_profiles
                      (id, name, kind, url, channel, sealed_secret, timeout_seconds, max_attempts, description, created_by)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                    RETURNING \(NotificationProfile.columns)
                    """,
                    [id, new.name, new.kind.rawValue, new.url, new.channel, sealed, new.timeoutSeconds, new.maxAttempts,
                     new.description, actor.id])[0]
                let profile = try NotificationProfile(row: row)
                var details: [String: Any] = [
                    "operation": "create", "name": profile.name, "kind": profile.kind.rawValue, "signed": profile.signed,
                ]
                if let url = profile.url { details["url"] = redacted(url) }
                if let channel = profile.channel { details["channel"] = channel }
                try AuditTrail.record(
                    on: tx, action: .notificationProfileChanged, entityType: .notificationProfile,
                    entityId: id.uuidString.lowercased(), actor: actor, details: details)
                return profile
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            throw NotificationProfileError("a notification profile named '\(new.name)' already exists")
        }
    }

    /// All profiles by name.
    public static func list(on connection: Connection) throws -> [NotificationProfile] {
        try connection.query("SELECT \(NotificationProfile.columns) FROM certbus.notification_profiles ORDER BY name")
            .map(NotificationProfile.init(row:))
    }

    /// The profile with this id or name; throws `NotificationProfileError` when there is none.
    public static func find(on connection: Connection, _ idOrName: String) throws -> NotificationProfile {
        let rows: QueryResult
        if let id = UUID(uuidString: idOrName) {
            rows = try connection.query(
                "SELECT \(NotificationProfile.columns) FROM certbus.notification_profiles WHERE id = $1", [id])
        } else {
            rows = try connection.query(
                "SELECT \(NotificationProfile.columns) FROM certbus.notification_profiles WHERE name = $1", [idOrName])
        }
        guard let row = rows.firstRow else { throw NotificationProfileError("no notification profile '\(idOrName)'") }
        return try NotificationProfile(row: row)
    }

    /// Disables (or re-enables) a profile; returns it. Disabled profiles deliver nothing.
    @discardableResult
    public static func setEnabled(
        on connection: Connection, _ idOrName: String, enabled: Bool, actor: Actor
    ) throws -> NotificationProfile {
        try connection.withTransaction { tx in
            let profile = try find(on: tx, idOrName)
            let row = try tx.query(
                "UPDATE certbus.notification_profiles SET enabled = $2 WHERE id = $1 RETURNING \(NotificationProfile.columns)",
                [profile.id, enabled])[0]
            try AuditTrail.record(
                on: tx, action: .notificationProfileChanged, entityType: .notificationProfile,
                entityId: profile.id.uuidString.lowercased(), actor: actor,
                details: ["operation": enabled ? "enable" : "disable", "name": profile.name])
            return try NotificationProfile(row: row)
        }
    }

    /// The opened signing secret of a profile, or nil when it has none.
    public static func signingSecret(on connection: Connection, profileId: UUID, keyEncryptionKey: KeyEncryptionKey?) throws -> Data? {
        guard let row = try connection.query(
            "SELECT sealed_secret FROM certbus.notification_profiles WHERE id = $1", [profileId]).firstRow,
              let sealed = try row.decode("sealed_secret", as: Data?.self)
        else { return nil }
        guard let keyEncryptionKey else {
            throw NotificationProfileError(
                "notification profile \(profileId.uuidString.lowercased()) signs its deliveries, but no key-encryption key is configured (CERTBUS_KEK_FILE)")
        }
        return try NotificationSecret.open(sealed, profileId: profileId, with: keyEncryptionKey)
    }

    /// A URL without user info and query string, for logs and audit rows.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(invalid URL)" }
        components.user = nil
        components.password = nil
        components.query = nil
        return components.string ?? "(invalid URL)"
    }
}
