import Foundation

/// Where an event trigger is defined: the platform (everything), one RA profile, or one certificate group.
public enum TriggerScope: Sendable, Hashable, CustomStringConvertible {
    case platform
    case raProfile(UUID)
    case group(UUID)

    /// `PLATFORM`, `RA_PROFILE` or `GROUP`, as stored in `event_triggers.scope`.
    public var kind: String {
        switch self {
        case .platform: return "PLATFORM"
        case .raProfile: return "RA_PROFILE"
        case .group: return "GROUP"
        }
    }

    public var description: String {
        switch self {
        case .platform: return "PLATFORM"
        case .raProfile(let id): return "RA_PROFILE \(id.uuidString.lowercased())"
        case .group(let id): return "GROUP \(id.uuidString.lowercased())"
        }
    }
}

/// Which triggers run for an event: the seed's override rule.
///
/// For one event type, the most specific scope that has at least one enabled trigger wins and replaces the
/// others: the event's certificate group, else its RA profile, else the platform. Conditions do not take part
/// in choosing the scope (a group trigger whose condition does not match still hides the platform triggers),
/// so an override is decided by configuration alone and is easy to predict. Event types the seed does not let
/// profiles or groups override (discovery, approval, scheduled-job events) use platform triggers only.
public enum TriggerPrecedence {
    /// The triggers that apply, in the order given (callers pass them sorted by position, then name).
    /// `triggers` should already be limited to enabled triggers of the event's type.
    public static func applicable<Trigger>(
        _ triggers: [Trigger], scope: (Trigger) -> TriggerScope, eventType: EventType, profileId: UUID?, groupId: UUID?
    ) -> [Trigger] {
        if eventType.isOverridable {
            if let groupId {
                let group = triggers.filter { scope($0) == .group(groupId) }
                if !group.isEmpty { return group }
            }
            if let profileId {
                let profile = triggers.filter { scope($0) == .raProfile(profileId) }
                if !profile.isEmpty { return profile }
            }
        }
        return triggers.filter { scope($0) == .platform }
    }
}
