import Foundation

/// One action of an event trigger, stored as a JSON object in `event_triggers.actions` (an ordered array):
///
/// - `{"type": "NOTIFY", "profile_id": "<uuid>"}` — deliver the event through a notification profile.
/// - `{"type": "ENQUEUE_JOB", "kind": "RENEW_CERT", "priority": 50, "payload": {...}}` — enqueue a job; the
///   job payload is `{event_id, event_type, resource, resource_id, certificate_id?}` plus the static `payload` keys.
/// - `{"type": "RAISE_ALERT", "alert_type": "WARN", "severity": "WARN", "title": "...", "message": "...",
///   "per": "resource"}` — raise an alert; title and message may use `{{field}}` placeholders; `per` says
///   whether one open alert is kept per resource (default for certificates) or per event.
public enum TriggerAction: Sendable, Equatable, Codable, CustomStringConvertible {
    case notify(profileId: UUID)
    case enqueueJob(kind: JobKind, priority: Int?, payload: [String: PayloadValue])
    case raiseAlert(type: AlertType, severity: AlertSeverity, title: String?, message: String?, per: AlertGrouping?)

    /// How alerts raised by a trigger are deduplicated.
    public enum AlertGrouping: String, Sendable, Codable, CaseIterable {
        /// One open alert per trigger and resource (cause key `trigger:<id>:<action number>:<resource>:<resource id>`).
        case resource
        /// One alert per trigger and event (cause key `trigger:<id>:<action number>:event:<event id>`).
        case event
    }

    /// The action names accepted in `type`.
    public static let typeNames = ["NOTIFY", "ENQUEUE_JOB", "RAISE_ALERT"]

    enum CodingKeys: String, CodingKey {
        case type, profileId = "profile_id", kind, priority, payload, alertType = "alert_type", severity, title
        case message, per
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "NOTIFY":
            self = .notify(profileId: try c.decode(UUID.self, forKey: .profileId))
        case "ENQUEUE_JOB":
            let kind = JobKind(try c.decode(String.self, forKey: .kind))
            self = .enqueueJob(
                kind: kind, priority: try c.decodeIfPresent(Int.self, forKey: .priority),
                payload: try c.decodeIfPresent([String: PayloadValue].self, forKey: .payload) ?? [:])
        case "RAISE_ALERT":
            self = .raiseAlert(
                type: try c.decode(AlertType.self, forKey: .alertType),
                severity: try c.decode(AlertSeverity.self, forKey: .severity),
                title: try c.decodeIfPresent(String.self, forKey: .title),
                message: try c.decodeIfPresent(String.self, forKey: .message),
                per: try c.decodeIfPresent(AlertGrouping.self, forKey: .per))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c, debugDescription: "unknown action type '\(type)' (expected \(Self.typeNames.joined(separator: ", ")))")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .notify(let profileId):
            try c.encode("NOTIFY", forKey: .type)
            try c.encode(profileId.uuidString.lowercased(), forKey: .profileId)
        case .enqueueJob(let kind, let priority, let payload):
            try c.encode("ENQUEUE_JOB", forKey: .type)
            try c.encode(kind.rawValue, forKey: .kind)
            try c.encodeIfPresent(priority, forKey: .priority)
            if !payload.isEmpty { try c.encode(payload, forKey: .payload) }
        case .raiseAlert(let type, let severity, let title, let message, let per):
            try c.encode("RAISE_ALERT", forKey: .type)
            try c.encode(type, forKey: .alertType)
            try c.encode(severity, forKey: .severity)
            try c.encodeIfPresent(title, forKey: .title)
            try c.encodeIfPresent(message, forKey: .message)
            try c.encodeIfPresent(per, forKey: .per)
        }
    }

    /// Checks what JSON decoding cannot: a known job kind, a priority in 0...1000, an alert type whose severity
    /// is fixed, a title within 300 characters. Returns the problem, or nil when the action is valid.
    public var problem: String? {
        switch self {
        case .notify: return nil
        case .enqueueJob(let kind, let priority, _):
            if !JobKind.known.contains(kind) {
                return "unknown job kind '\(kind)' (known: \(JobKind.known.map(\.rawValue).joined(separator: ", ")))"
            }
            if let priority, !(0...1000).contains(priority) { return "job priority \(priority) is outside 0...1000" }
            return nil
        case .raiseAlert(let type, let severity, let title, _, _):
            if type != .expiringSoon, type.rawValue != severity.rawValue {
                return "\(type) alerts have severity \(type.rawValue), not \(severity)"
            }
            if let title, title.isEmpty || title.count > 300 { return "alert title must be 1 to 300 characters" }
            return nil
        }
    }

    /// Decodes and checks a trigger's action list: a non-empty JSON array of valid actions.
    /// Throws `TriggerActionError` naming the first bad action (1-based).
    public static func parseList(json: Data) throws -> [TriggerAction] {
        let actions: [TriggerAction]
        do {
            actions = try JSONDecoder().decode([TriggerAction].self, from: json)
        } catch let DecodingError.dataCorrupted(context) {
            throw TriggerActionError(message: context.debugDescription + Self.where_(context.codingPath))
        } catch let DecodingError.keyNotFound(key, context) {
            throw TriggerActionError(message: "missing '\(key.stringValue)'" + Self.where_(context.codingPath))
        } catch let DecodingError.typeMismatch(_, context) {
            if context.codingPath.isEmpty {
                throw TriggerActionError(message: "actions must be a JSON array of action objects")
            }
            throw TriggerActionError(message: "wrong type: \(context.debugDescription)" + Self.where_(context.codingPath))
        } catch let DecodingError.valueNotFound(_, context) {
            throw TriggerActionError(message: "missing value" + Self.where_(context.codingPath))
        } catch {
            throw TriggerActionError(message: "actions must be a JSON array of action objects: \(error)")
        }
        try validate(actions)
        return actions
    }

    /// Checks a decoded action list (non-empty, at most 20, each valid).
    public static func validate(_ actions: [TriggerAction]) throws {
        guard !actions.isEmpty else { throw TriggerActionError(message: "a trigger needs at least one action") }
        guard actions.count <= 20 else { throw TriggerActionError(message: "a trigger has at most 20 actions") }
        for (i, action) in actions.enumerated() {
            if let problem = action.problem { throw TriggerActionError(message: "action \(i + 1): \(problem)") }
        }
    }

    static func where_(_ path: [CodingKey]) -> String {
        guard let first = path.first, let index = first.intValue else { return "" }
        return " (action \(index + 1))"
    }

    public var description: String {
        switch self {
        case .notify(let id): return "NOTIFY profile \(id.uuidString.lowercased())"
        case .enqueueJob(let kind, let priority, _): return "ENQUEUE_JOB \(kind)" + (priority.map { " priority \($0)" } ?? "")
        case .raiseAlert(let type, let severity, let title, _, _):
            return "RAISE_ALERT \(type)/\(severity)" + (title.map { " \"\($0)\"" } ?? "")
        }
    }
}

/// An action list that cannot be used; says which action and why.
public struct TriggerActionError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { "invalid trigger actions: \(message)" }
}
