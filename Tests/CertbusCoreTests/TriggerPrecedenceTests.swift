import CertbusCore
import Foundation
import Testing

/// Group beats profile beats platform, per event type; non-overridable types use the platform only.
@Suite struct TriggerPrecedenceTests {
    struct T: Equatable { var name: String; var scope: TriggerScope }
    let profile = UUID()
    let otherProfile = UUID()
    let group = UUID()

    func pick(_ triggers: [T], type: EventType = .certificateExpiring, profile: UUID?, group: UUID?) -> [String] {
        TriggerPrecedence.applicable(triggers, scope: \.scope, eventType: type, profileId: profile, groupId: group).map(\.name)
    }

    @Test func groupBeatsProfileBeatsPlatform() {
        let all = [T(name: "p1", scope: .platform), T(name: "p2", scope: .platform),
                   T(name: "prof", scope: .raProfile(profile)), T(name: "grp", scope: .group(group))]
        #expect(pick(all, profile: profile, group: group) == ["grp"])
        #expect(pick(all, profile: profile, group: nil) == ["prof"])
        #expect(pick(all, profile: otherProfile, group: nil) == ["p1", "p2"])
        #expect(pick(all, profile: nil, group: UUID()) == ["p1", "p2"])
        #expect(pick(all.filter { $0.name != "grp" }, profile: profile, group: group) == ["prof"])
    }

    @Test func nonOverridableTypesUsePlatformOnly() {
        let all = [T(name: "plat", scope: .platform), T(name: "grp", scope: .group(group))]
        #expect(pick(all, type: .discoveryFinished, profile: profile, group: group) == ["plat"])
        #expect(pick(all, type: .scheduledJobFinished, profile: profile, group: group) == ["plat"])
        #expect(pick(all, type: .certificateDiscovered, profile: profile, group: group) == ["plat"])
        #expect(pick(all, type: .certificateStatusChanged, profile: profile, group: group) == ["grp"])
    }

    @Test func nothingAppliesWhenNoScopeHasTriggers() {
        #expect(pick([], profile: profile, group: group) == [])
        #expect(pick([T(name: "x", scope: .raProfile(otherProfile))], profile: profile, group: nil) == [])
    }
}
