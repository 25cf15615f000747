import CertbusCore
import Foundation
import Postgres

/// A notification profile as stored in `certbus.notification_profiles` (never with its secret).
public struct NotificationProfile: Sendable, Equatable, Encodable {
    /// How a profile delivers.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// HTTP POST of a signed JSON body, retried through DELIVER_NOTIFICATION jobs.
        case webhook = "WEBHOOK"
        /// `NOTIFY <channel>` with a small JSON payload, sent in the dispatcher's transaction.
        case pgChannel = "PG_CHANNEL"
    }

    public var id: UUID
    public var name: String
    public var kind: Kind
    /// WEBHOOK: the URL.
    public var url: String?
    /// PG_CHANNEL: the channel.
    public var channel: String?
    /// True when deliveries are signed (a sealed secret is stored).
    public var signed: Bool
    public var timeoutSeconds: Double
    public var maxAttempts: Int
    public var enabled: Bool
    public var description: String
    public var createdBy: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name, kind, url, channel, signed, timeoutSeconds = "timeout_seconds", maxAttempts = "max_attempts"
        case enabled, description, createdBy = "created_by", createdAt = "created_at"
    }

    /// The columns `init(row:)` reads.
    static let columns = """
        id, name, kind, url, channel, sealed_secret IS NOT NULL AS signed, timeout_seconds, max_attempts, enabled,
        description, created_by, created_at
        """

    init(row: Row) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        let kindText: String = try row.decode("kind")
        guard let kind = Kind(rawValue: kindText) else {
            throw NotificationProfileError("notification profile \(id) has unknown kind \(kindText)")
        }
        self.kind = kind
        url = try row.decode("url")
        channel = try row.decode("channel")
        signed = try row.decode("signed")
        timeoutSeconds = try row.decode("timeout_seconds")
        maxAttempts = try row.decode("max_attempts")
        enabled = try row.decode("enabled")
        description = try row.decode("description")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
    }
}

/// What an operator asks for when creating a notification profile.
public struct NewNotificationProfile: Sendable {
    public var name: String
    public var kind: NotificationProfile.Kind
    public var url: String?
    public var channel: String?
    /// WEBHOOK: the HMAC signing secret (sealed under the key-encryption key before it is stored).
    public var secret: String?
    public var timeoutSeconds: Double
    public var maxAttempts: Int
    public var description: String

    public init(name: String, kind: NotificationProfile.Kind, url: String? = nil, channel: String? = nil,
                secret: String? = nil, timeoutSeconds: Double = 10, maxAttempts: Int = 8, description: String = "") {
        self.name = name
        self.kind = kind
        self.url = url
        self.channel = channel
        self.secret = secret
        self.timeoutSeconds = timeoutSeconds
        self.maxAttempts = maxAttempts
        self.description = description
    }

    /// Checks everything that needs no database; returns the first problem, or nil.
    public var problem: String? {
        if name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", options: .regularExpression) == nil {
            return "profile name '\(name)' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        }
        if !(timeoutSeconds > 0 && timeoutSeconds <= 120) { return "timeout must be more than 0 and at most 120 seconds" }
        if !(1...25).contains(maxAttempts) { return "max attempts must be 1 to 25" }
        switch kind {
        case .webhook:
            guard let url else { return "a WEBHOOK profile needs --url" }
            if let problem = WebhookURL.problem(url) { return problem }
            if channel != nil { return "a WEBHOOK profile takes no channel" }
            if let secret, secret.utf8.count < 16 { return "the signing secret must be at least 16 bytes" }
        case .pgChannel:
            guard let channel else { return "a PG_CHANNEL profile needs --channel" }
            if let problem = ChannelName.problem(channel) { return problem }
            if url != nil { return "a PG_CHANNEL profile takes no URL" }
            if secret != nil { return "a PG_CHANNEL profile takes no secret" }
        }
        return nil
    }
}

/// Webhook URL rules: absolute http(s) with a host, no user info, at most 2000 characters.
public enum WebhookURL {
    /// The problem with a webhook URL, or nil when it is acceptable.
    public static func problem(_ text: String) -> String? {
        guard text.count <= 2000, !text.contains(where: \.isWhitespace),
              let components = URLComponents(string: text),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty
        else { return "webhook URL must be an absolute http:// or https:// URL with a host" }
        if components.user != nil || components.password != nil {
            return "webhook URL must not carry a user name or password (use the signing secret)"
        }
        return nil
    }
}

/// PostgreSQL channel names for PG_CHANNEL profiles.
public enum ChannelName {
    /// The problem with a channel name, or nil: lower-case identifier of at most 63 characters, not `certbus_*`.
    public static func problem(_ name: String) -> String? {
        if name.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) == nil {
            return "channel '\(name)' must be a lower-case identifier: letters, digits and '_', not starting with a digit, at most 63 characters"
        }
        if name.hasPrefix("certbus_") { return "channel names starting with certbus_ are reserved for certbus itself" }
        return nil
    }
}

/// A notification profile operation refused; nothing changed.
public struct NotificationProfileError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
