import CertbusCore
import Foundation
import Testing

/// Trigger action lists: JSON form, validation, templates.
@Suite struct TriggerActionTests {
    @Test func parsesEveryActionTypeAndRoundTrips() throws {
        let profile = UUID()
        let json = """
            [{"type": "NOTIFY", "profile_id": "\(profile.uuidString)"},
             {"type": "ENQUEUE_JOB", "kind": "RENEW_CERT", "priority": 50, "payload": {"reason": "expiring"}},
             {"type": "RAISE_ALERT", "alert_type": "EXPIRING_SOON", "severity": "ERROR", "title": "{{common_name}} expires",
              "per": "event"}]
            """
        let actions = try TriggerAction.parseList(json: Data(json.utf8))
        #expect(actions == [
            .notify(profileId: profile),
            .enqueueJob(kind: .renewCertificate, priority: 50, payload: ["reason": .string("expiring")]),
            .raiseAlert(type: .expiringSoon, severity: .error, title: "{{common_name}} expires", message: nil, per: .event),
        ])
        let encoded = try JSONEncoder().encode(actions)
        #expect(try TriggerAction.parseList(json: encoded) == actions)
    }

    @Test(arguments: [
        ("[]", "at least one action"),
        ("{}", "JSON array"),
        ("[{\"type\": \"EXPLODE\"}]", "unknown action type 'EXPLODE'"),
        ("[{\"type\": \"NOTIFY\"}]", "missing 'profile_id'"),
        ("[{\"type\": \"NOTIFY\", \"profile_id\": \"nope\"}]", "action 1"),
        ("[{\"type\": \"RAISE_ALERT\", \"alert_type\": \"ERROR\", \"severity\": \"WARN\"}]", "severity ERROR"),
        ("[{\"type\": \"RAISE_ALERT\", \"alert_type\": \"PANIC\", \"severity\": \"WARN\"}]", "action 1"),
        ("[{\"type\": \"ENQUEUE_JOB\", \"kind\": \"BAKE_CAKE\"}]", "unknown job kind 'BAKE_CAKE'"),
        ("[{\"type\": \"ENQUEUE_JOB\", \"kind\": \"NOOP\"}, {\"type\": \"ENQUEUE_JOB\", \"kind\": \"NOOP\", \"priority\": 5000}]", "action 2"),
    ])
    func badListsAreRefusedWithTheReason(json: String, message: String) {
        do {
            _ = try TriggerAction.parseList(json: Data(json.utf8))
            Issue.record("accepted \(json)")
        } catch let error as TriggerActionError {
            #expect(error.message.contains(message), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func templatesFillFromThePayload() throws {
        let payload = try PayloadValue.parse(json: #"{"common_name": "shop", "days_left": 7, "p": {"n": "web"}}"#)
        #expect(TemplateText.render("{{common_name}} expires in {{ days_left }} days ({{p.n}})", payload: payload)
            == "shop expires in 7 days (web)")
        #expect(TemplateText.render("missing: [{{nope}}]", payload: payload) == "missing: []")
        #expect(TemplateText.render("no placeholders", payload: payload) == "no placeholders")
        #expect(TemplateText.render("open {{common_name", payload: payload) == "open {{common_name")
    }
}
