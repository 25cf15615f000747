import CertbusTesting
import Foundation
import PKI
import Testing

/// The certificate commands end to end, through the built `certbus` executable. Refused requests
/// are rows of BadInputTableTests.
@Suite(.serialized) struct CertCommandLineTests {
    final class Environment {
        let db: TestDatabase
        let scratch: CertScratch
        let variables: [String: String]

        init(function: String = #function) throws {
            db = try TestDatabase.create(function: function)
            scratch = try CertScratch()
            let kek = try scratch.write(try SecretBox.Key.generate().base64, to: "kek")
            chmod(kek, 0o600)
            variables = [
                "CERTBUS_KEK_FILE": kek, "CERTBUS_HOME": scratch.path("home"),
                "CERTBUS_DATABASE_URL": db.connectionString, "CERTBUS_USER": "operator",
            ]
        }

        deinit { db.drop() }

        /// Runs `certbus arguments…` with this environment's variables added to ours.
        func run(_ arguments: [String], timeout: Double = 120) throws -> CommandResult {
            try CertbusCommand.run(arguments, environment: variables, timeout: timeout)
        }
    }

    @Test func demoIssuesACertificateThatOpenSSLVerifies() throws {
        let env = try Environment()
        let demo = try env.run(["demo"])
        #expect(demo.status == 0, "\(demo.error)")
        #expect(demo.output.contains("created CA demo-ca"))
        #expect(demo.output.contains("demo.certbus.test, www.demo.certbus.test"))
        let blocks = demo.output.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1
        #expect(blocks == 3)
        // The printed chain verifies against the demo root.
        let pem = String(demo.output[demo.output.range(of: "-----BEGIN CERTIFICATE-----")!.lowerBound...])
        let chain = try Certificate.parseChain(pem: pem)
        try env.scratch.write(chain[0].pem, to: "leaf.pem")
        try env.scratch.write(chain[1].pem, to: "intermediate.pem")
        try env.scratch.write(chain[2].pem, to: "root.pem")
        let verify = try CertOpenSSL.run(["verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "leaf.pem"], in: env.scratch)
        #expect(verify.status == 0, "\(verify.combined)")
        // A second run reuses the CA and profile.
        let again = try env.run(["demo"])
        #expect(again.status == 0, "\(again.error)")
        #expect(!again.output.contains("created CA"))
        let list = try env.run(["cert", "list", "--json"])
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]])
        #expect(listed.filter { $0["common_name"] as? String == "demo.certbus.test" }.count == 2)
    }

    @Test func approvalDenialEndsTheRequestWithApprovalDenied() throws {
        let env = try Environment()
        #expect(try env.run(["ca", "create", "corp", "--root-only"]).status == 0)
        #expect(try env.run(["profile", "create", "gated", "--ca", "corp", "--requires-approval"]).status == 0)
        let requested = try env.run(["cert", "request", "--profile", "gated", "--cn", "gate.corp.test", "--json"])
        #expect(requested.status == 0, "\(requested.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(requested.output.utf8)) as? [String: Any])
        #expect(object["status"] as? String == "PENDING_APPROVAL")
        let approval = try #require(object["approval_id"] as? String)
        let denied = try env.run(["approval", "deny", approval, "--reason", "not needed"])
        #expect(denied.status == 0, "\(denied.error)")
        #expect(denied.output.contains("Approval denied"))
        let again = try env.run(["approval", "approve", approval])
        #expect(again.status == 1)
        #expect(again.error.contains("already DENIED"))
    }
}
