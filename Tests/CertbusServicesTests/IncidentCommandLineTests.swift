import CertbusTesting
import Foundation
import Testing

/// `certbus cert list` blast-radius options and `certbus incident` end to end, through the built
/// executable, against a fresh test database (CertCommandLineTests.Environment, dropped at the end).
@Suite(.serialized) struct IncidentCommandLineTests {
    typealias Environment = CertCommandLineTests.Environment

    func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    /// Two demo certificates (CA demo-ca below demo-ca-root, profile demo).
    func demo(_ env: Environment) throws {
        for _ in 0..<2 {
            let demo = try env.run(["demo"])
            #expect(demo.status == 0, "\(demo.error)")
        }
    }

    @Test func certListAnswersBlastRadiusQuestions() throws {
        let env = try Environment()
        try demo(env)
        let below = try env.run(["cert", "list", "--issued-by", "demo-ca-root", "--json"])
        #expect(below.status == 0, "\(below.error)")
        let listed = try #require(try json(below.output) as? [[String: Any]])
        #expect(listed.count == 2)
        let id = try #require(listed.first?["id"] as? String)
        #expect((listed.first?["public_key_sha256"] as? String)?.count == 64)
        #expect(try env.run(["cert", "list", "--san-matches", "*.DEMO.certbus.test", "--count"]).output == "2\n")
        #expect(try env.run(["cert", "list", "--sharing-key-of", id, "--count"]).output == "1\n")
        #expect(try env.run(["cert", "list", "--profile", "demo", "--san-matches", "nothing.*", "--count", "--json"]).output
                    .contains("\"count\" : 0"))
        let page = try env.run(["cert", "list", "--issued-by", "demo-ca", "--limit", "1"])
        #expect(page.output.contains("showing 1 of 2"), "\(page.output)")

        let badPattern = try env.run(["cert", "list", "--san-matches", "a b"])
        #expect(badPattern.status == 2)
        #expect(badPattern.error.contains("invalid name pattern \"a b\""))
        let unknownCA = try env.run(["cert", "list", "--issued-by", "nope"])
        #expect(unknownCA.status == 1)
        #expect(unknownCA.error.contains("unknown CA \"nope\""))
        let unknownEndpoint = try env.run(["cert", "list", "--endpoint", "nope"])
        #expect(unknownEndpoint.status == 1)
        #expect(unknownEndpoint.error.contains("unknown endpoint \"nope\""))
    }

    @Test func incidentRenewDryRunStatusAndListFromTheCommandLine() throws {
        let env = try Environment()
        try demo(env)
        // Bad input: a usage error (exit 2) or a failure (exit 1), with the reason; nothing is opened.
        let refusals: [([String], Int32, String)] = [
            (["incident", "renew", "--deadline", "48h"], 2, "say which certificates"),
            (["incident", "renew", "--issued-by", "demo-ca-root", "--deadline", "soon"], 2, "neither a span like 48h"),
            (["incident", "renew", "--issued-by", "demo-ca-root", "--deadline", "2001-01-01T00:00:00Z"], 2, "is not in the future"),
            (["incident", "renew", "--issued-by", "demo-ca-root", "--deadline", "48h", "--revoke-old"], 2, "--revoke-old needs --reason"),
            (["incident", "renew", "--issued-by", "demo-ca-root", "--deadline", "48h", "--revoke-old", "--reason", "cACompromise"], 2, "cACompromise"),
            (["incident", "renew", "--selector", "issuer=x", "--deadline", "48h"], 2, "unknown selector key \"issuer\""),
            (["incident", "renew", "--issued-by", "nope", "--deadline", "48h"], 1, "unknown CA \"nope\""),
            (["incident", "renew", "--san-matches", "*.nowhere.test", "--deadline", "48h"], 1, "no valid certificate matches"),
            (["incident", "status", "42"], 1, "no incident 42"),
        ]
        for (arguments, status, message) in refusals {
            let result = try env.run(arguments)
            #expect(result.status == status, "\(arguments): \(result.error)")
            #expect(result.error.contains(message), "\(arguments): \(result.error)")
        }
        #expect(try env.run(["incident", "list"]).output == "no incidents\n")

        let dry = try env.run(["incident", "renew", "--issued-by", "demo-ca-root", "--deadline", "48h", "--revoke-old", "--reason",
                               "keyCompromise", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.error)")
        let plan = try #require(try json(dry.output) as? [String: Any])
        #expect(plan["dry_run"] as? Bool == true)
        #expect((plan["certificates"] as? [[String: Any]])?.map { $0["plan"] as? String } == ["RENEW", "RENEW"])
        #expect((try json(try env.run(["incident", "list", "--json"]).output) as? [Any])?.isEmpty == true)
        let dryText = try env.run(["incident", "renew", "--issued-by", "demo-ca-root", "--deadline", "48h", "--dry-run"])
        #expect(dryText.output.contains("dry run: nothing was changed"))
        #expect(dryText.output.contains("would open an incident for issued-by=demo-ca-root: 2 certificates"))

        let opened = try env.run(["incident", "renew", "--selector", "issued-by=demo-ca-root", "--deadline", "48h", "--revoke-old",
                                  "--reason", "keyCompromise", "--json"])
        #expect(opened.status == 0, "\(opened.error)")
        let incident = try #require(try json(opened.output) as? [String: Any])
        #expect(incident["created"] as? Bool == true)
        let number = try #require(incident["id"] as? Int)
        #expect((incident["totals"] as? [String: Any])?["pending"] as? Int == 2)
        // The same selector given as options is the same incident.
        let again = try env.run(["incident", "renew", "--issued-by", "demo-ca-root", "--deadline", "48h", "--revoke-old", "--reason",
                                 "keyCompromise"])
        #expect(again.status == 0, "\(again.error)")
        #expect(again.output.contains("incident \(number) (ACTIVE) is up to date"), "\(again.output)")

        let status = try env.run(["incident", "status", String(number), "--json"])
        #expect(status.status == 0, "\(status.error)")
        let shown = try #require(try json(status.output) as? [String: Any])
        let certificates = try #require(shown["certificates"] as? [[String: Any]])
        #expect(certificates.map { $0["outcome"] as? String } == ["pending", "pending"])
        #expect(certificates.allSatisfy { ($0["renewal_job_id"] as? Int) != nil })
        let text = try env.run(["incident", "status", String(number), "--state", "pending"])
        #expect(text.output.contains("2 certificates: 0 done, 2 pending (renewing 2"), "\(text.output)")
        #expect(try env.run(["incident", "status", String(number), "--state", "finished"]).status == 2)
        let list = try env.run(["incident", "list"])
        #expect(list.output.contains("issued-by=demo-ca-root"))
        #expect(try env.run(["incident", "renew", "--help"]).output.contains("--revoke-old"))
    }
}
