import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus notify-profiles create|list|show|disable|enable`: where NOTIFY trigger actions deliver
/// (logic in CertbusServices/Notifications).
enum NotifyProfilesCommands {
    static let command = Command(
        "notify-profiles", abstract: "Manage notification profiles (signed webhooks, PostgreSQL channels).",
        discussion: """
            WEBHOOK profiles POST each event as JSON, signed with HMAC-SHA256 when a secret is set \
            (X-Certbus-Signature: sha256=<hex of HMAC(secret, "<X-Certbus-Timestamp>." + body)>), retried with \
            backoff as DELIVER_NOTIFICATION jobs. PG_CHANNEL profiles send NOTIFY <channel> with a small JSON hint \
            for consumers inside the database. Secrets are sealed with the key-encryption key and never shown.
            """,
        subcommands: [create, list, show, disable, enable])

    static let name = Argument<String>("name", help: "Unique profile name (letters, digits, . _ -).")
    static let reference = Argument<String>("profile", help: "Profile name or id.")
    static let kind = Option<String>("kind", valueName: "kind", required: true, allowed: ["webhook", "pg-channel", "WEBHOOK", "PG_CHANNEL"], help: "webhook or pg-channel.")
    static let url = Option<String>("url", valueName: "url", help: "webhook: the http(s) URL to POST to.")
    static let channel = Option<String>("channel", valueName: "name", help: "pg-channel: the channel to NOTIFY (lower-case identifier).")
    static let secretFile = Option<String>("secret-file", valueName: "file", help: "webhook: read the signing secret from this file (at least 16 bytes).")
    static let secretEnv = Option<String>("secret-env", valueName: "variable", help: "webhook: read the signing secret from this environment variable.")
    static let timeout = Option<Double>("timeout", default: 10, help: "webhook: seconds allowed per delivery attempt (at most 120).")
    static let maxAttempts = Option<Int>("max-attempts", default: 8, help: "webhook: delivery attempts before giving up (1 to 25).")
    static let description = Option<String>("description", valueName: "text", help: "Free text.")

    static func jsonValue(_ p: NotificationProfile) -> JSONValue {
        .object([
            "id": .string(p.id.uuidString.lowercased()), "name": .string(p.name), "kind": .string(p.kind.rawValue),
            "url": p.url.map(JSONValue.string) ?? .null, "channel": p.channel.map(JSONValue.string) ?? .null,
            "signed": .bool(p.signed), "timeout_seconds": .double(p.timeoutSeconds), "max_attempts": .int(p.maxAttempts),
            "enabled": .bool(p.enabled), "description": .string(p.description), "created_by": .string(p.createdBy),
            "created_at": .date(p.createdAt),
        ])
    }

    static func target(_ p: NotificationProfile) -> String {
        p.url.map { NotificationProfiles.redacted($0) } ?? p.channel.map { "NOTIFY \($0)" } ?? ""
    }

    static let create = Command(
        "create", abstract: "Create a notification profile.",
        discussion: """
            Examples: certbus notify-profiles create ops-hook --kind webhook --url https://hooks.example.com/certbus \
            --secret-file /etc/certbus/hook-secret; certbus notify-profiles create db-feed --kind pg-channel --channel cert_events
            """,
        options: CommandContext.options + [kind, url, channel, secretFile, secretEnv, timeout, maxAttempts, description],
        arguments: [name]
    ) { invocation in
        let context = CommandContext(invocation)
        let kindWord = try invocation.value(kind).uppercased().replacingOccurrences(of: "-", with: "_")
        guard let profileKind = NotificationProfile.Kind(rawValue: kindWord) else { throw UsageError("--kind must be webhook or pg-channel") }
        if invocation.isGiven(secretFile), invocation.isGiven(secretEnv) { throw UsageError("give --secret-file or --secret-env, not both") }
        var secret: String?
        if let file = invocation[secretFile] {
            secret = try InputFile.text(file, what: "the secret file", limit: 64 * 1024).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let variable = invocation[secretEnv] {
            guard let value = invocation.environment[variable], !value.isEmpty else { throw UsageError("environment variable \(variable) is not set") }
            secret = value
        }
        let new = NewNotificationProfile(
            name: try invocation.value(name), kind: profileKind, url: invocation[url], channel: invocation[channel], secret: secret,
            timeoutSeconds: invocation[timeout] ?? 10, maxAttempts: invocation[maxAttempts] ?? 8,
            description: invocation[description] ?? "")
        if let problem = new.problem { throw NotificationProfileError(problem) }
        let kek = secret == nil ? nil
            : try KeyEncryptionKey.load(environment: invocation.environment, homeDirectory: try context.target().homeDirectory)
        let connection = try context.connect()
        defer { connection.close() }
        let profile = try NotificationProfiles.create(
            on: connection, new, keyEncryptionKey: kek, actor: EndpointArguments.operatorActor(invocation))
        try context.emit(
            text: "created notification profile \(profile.name) (\(profile.kind.rawValue) \(target(profile))\(profile.signed ? ", signed" : ""))",
            json: jsonValue(profile))
    }

    static let list = Command(
        "list", abstract: "List notification profiles.", options: CommandContext.options
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let profiles = try NotificationProfiles.list(on: connection)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(profiles.map(jsonValue))))
        } else if profiles.isEmpty {
            invocation.print("no notification profiles")
        } else {
            invocation.output.write(TableFormatter([
                .init("NAME"), .init("KIND"), .init("TARGET", maxWidth: 70), .init("SIGNED"), .init("ENABLED"),
            ]).render(profiles.map { [$0.name, $0.kind.rawValue, target($0), $0.signed ? "yes" : "no", $0.enabled ? "yes" : "no"] }))
        }
    }

    static let show = Command(
        "show", abstract: "Show a profile and its recent deliveries.", options: CommandContext.options, arguments: [reference]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let p = try NotificationProfiles.find(on: connection, try invocation.value(reference))
        let deliveries = try connection.query(
            """
            SELECT created_at, event_id, attempt, status, will_retry, http_status, error, duration_ms
              FROM certbus.notification_deliveries WHERE profile_id = $1 ORDER BY id DESC LIMIT 20
            """, [p.id])
        if context.json {
            var object = jsonValue(p)
            if case .object(var fields) = object {
                fields["recent_deliveries"] = .array(try deliveries.map { d in
                    .object([
                        "created_at": .date(try d.decode("created_at")), "event_id": (try d.decode("event_id", as: Int?.self)).map { .int($0) } ?? .null,
                        "attempt": .int(try d.decode("attempt")), "status": .string(try d.decode("status")),
                        "will_retry": .bool(try d.decode("will_retry")),
                        "http_status": (try d.decode("http_status", as: Int?.self)).map { .int($0) } ?? .null,
                        "error": (try d.decode("error", as: String?.self)).map(JSONValue.string) ?? .null,
                    ])
                })
                object = .object(fields)
            }
            invocation.output.write(try JSONOutput.string(object))
            return
        }
        var lines = [
            "Notification profile \(p.name) (\(p.id.uuidString.lowercased()))",
            "  kind:       \(p.kind.rawValue)",
            "  target:     \(target(p))",
            "  signed:     \(p.signed ? "yes (secret sealed with the key-encryption key)" : "no")",
            "  enabled:    \(p.enabled ? "yes" : "no")",
        ]
        if p.kind == .webhook { lines.append("  delivery:   \(p.timeoutSeconds)s timeout, up to \(p.maxAttempts) attempts") }
        lines += ["", "Recent deliveries"]
        if deliveries.isEmpty { lines.append("  none yet") }
        for d in deliveries {
            let status: String = try d.decode("status")
            var line = "  \(ISODate.format(try d.decode("created_at")))  event \((try d.decode("event_id", as: Int?.self)).map(String.init) ?? "-")  attempt \(try d.decode("attempt", as: Int.self))  \(status)"
            if let http = try d.decode("http_status", as: Int?.self) { line += "  HTTP \(http)" }
            if let error = try d.decode("error", as: String?.self) { line += "  \(error)" }
            if try d.decode("will_retry", as: Bool.self) { line += "  (will retry)" }
            lines.append(line)
        }
        invocation.print(lines.joined(separator: "\n"))
    }

    static func toggle(_ enabled: Bool) -> Command {
        Command(
            enabled ? "enable" : "disable",
            abstract: enabled ? "Enable a profile again." : "Disable a profile (NOTIFY actions using it are skipped).",
            options: CommandContext.options, arguments: [reference]
        ) { invocation in
            let context = CommandContext(invocation)
            let connection = try context.connect()
            defer { connection.close() }
            let p = try NotificationProfiles.setEnabled(
                on: connection, try invocation.value(reference), enabled: enabled, actor: EndpointArguments.operatorActor(invocation))
            try context.emit(text: "\(enabled ? "enabled" : "disabled") notification profile \(p.name)", json: jsonValue(p))
        }
    }

    static let disable = toggle(false)
    static let enable = toggle(true)
}
