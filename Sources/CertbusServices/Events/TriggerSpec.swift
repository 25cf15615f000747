import CertbusCore
import Foundation
import Postgres

/// The command line's short forms for trigger scopes and actions, resolved against the database
/// (profile, group and notification profile names).
///
/// Scopes: `platform`, `profile:<name|id>`, `group:<name|id>`.
/// Actions: `notify:<notification profile name|id>`, `enqueue:<KIND>[:<priority>]`,
/// `alert:<EXPIRING_SOON|ERROR|WARN>[:<ERROR|WARN>]`, or a JSON action object.
public enum TriggerSpec {
    /// Resolves a scope; throws `TriggerError` for an unknown form, profile or group.
    public static func scope(_ text: String, on connection: Connection) throws -> TriggerScope {
        if text.lowercased() == "platform" { return .platform }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else {
            throw TriggerError("scope must be platform, profile:<name> or group:<name>, got '\(text)'")
        }
        switch parts[0].lowercased() {
        case "profile", "ra-profile", "ra_profile":
            return .raProfile(try lookup(parts[1], table: "ra_profiles", what: "RA profile", on: connection))
        case "group":
            return .group(try lookup(parts[1], table: "certificate_groups", what: "certificate group", on: connection))
        default:
            throw TriggerError("scope must be platform, profile:<name> or group:<name>, got '\(text)'")
        }
    }

    /// Resolves an action; `title` and `message` apply to alert actions.
    public static func action(_ text: String, title: String? = nil, message: String? = nil, on connection: Connection) throws -> TriggerAction {
        if text.hasPrefix("{") {
            do {
                return try TriggerAction.parseList(json: Data("[\(text)]".utf8))[0]
            } catch let error as TriggerActionError {
                throw TriggerError(error.description)
            }
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts[0].lowercased() {
        case "notify" where parts.count == 2 && !parts[1].isEmpty:
            let name = parts[1]
            let profile: NotificationProfile
            do {
                profile = try NotificationProfiles.find(on: connection, name)
            } catch let error as NotificationProfileError {
                throw TriggerError(error.message)
            }
            return .notify(profileId: profile.id)
        case "enqueue" where (2...3).contains(parts.count):
            var priority: Int?
            if parts.count == 3 {
                guard let value = Int(parts[2]) else { throw TriggerError("job priority must be a number, got '\(parts[2])'") }
                priority = value
            }
            let action = TriggerAction.enqueueJob(kind: JobKind(parts[1].uppercased()), priority: priority, payload: [:])
            if let problem = action.problem { throw TriggerError(problem) }
            return action
        case "alert" where (2...3).contains(parts.count):
            guard let type = AlertType(rawValue: parts[1].uppercased()) else {
                throw TriggerError("alert type must be EXPIRING_SOON, ERROR or WARN, got '\(parts[1])'")
            }
            let severity: AlertSeverity
            if parts.count == 3 {
                guard let given = AlertSeverity(rawValue: parts[2].uppercased()) else {
                    throw TriggerError("alert severity must be ERROR or WARN, got '\(parts[2])'")
                }
                severity = given
            } else {
                severity = type == .error ? .error : .warn
            }
            let action = TriggerAction.raiseAlert(type: type, severity: severity, title: title, message: message, per: nil)
            if let problem = action.problem { throw TriggerError(problem) }
            return action
        default:
            throw TriggerError(
                "action must be notify:<profile>, enqueue:<KIND>[:<priority>], alert:<TYPE>[:<SEVERITY>] or a JSON object, got '\(text)'")
        }
    }

    static func lookup(_ nameOrId: String, table: String, what: String, on connection: Connection) throws -> UUID {
        let rows = if let id = UUID(uuidString: nameOrId) {
            try connection.query("SELECT id FROM certbus.\(table) WHERE id = $1", [id])
        } else {
            try connection.query("SELECT id FROM certbus.\(table) WHERE name = $1", [nameOrId])
        }
        guard let row = rows.firstRow else { throw TriggerError("no \(what) '\(nameOrId)'") }
        return try row.decode("id", as: UUID.self)
    }
}
