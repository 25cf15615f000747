import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Postgres
@testable import CertbusServices

/// How a bad input of `BadInputTableTests` is made. Files land in the world's scratch folder and
/// are named `{file}` on the command line; state a case needs (a revoked certificate, an expired
/// approval) is made through the services before the command runs, and named `{certificate}` or
/// `{approval}`.
enum BadInput: Sendable {
    /// Nothing beyond the world.
    case nothing
    /// `{file}` holds this text.
    case text(String)
    /// `{file}` holds `count` copies of `byte`.
    case bytes(UInt8, count: Int)
    /// `{file}` is a CSR made by `openssl req -new -nodes` with these arguments (key, subject,
    /// extensions); `prepare` commands run first in the same folder (DSA parameters).
    case opensslCSR([String], prepare: [[String]] = [])
    /// `{file}` is what `openssl` writes to `out.pem` with these arguments (a certificate, a key).
    case openssl([String])
    /// `{file}` is a good EC CSR for `names` (certbus's own code), changed by `damage`.
    case csr([String], damage: CSRDamage)
    /// `{certificate}` is a certificate issued for r.example.test, revoked when `revoked`.
    case certificate(revoked: Bool)
    /// `{approval}` is a pending approval of profile gated, expired or denied.
    case approval(ApprovalState)
    /// The world's CA is disabled.
    case disabledCA

    /// What is done to a good CSR.
    enum CSRDamage: Sendable {
        /// Cut after 200 characters: no END line.
        case truncated
        /// A byte of the signature flipped (the PEM and DER stay well-formed).
        case brokenSignature
        /// The same CSR twice in one file.
        case twice
        /// Bytes appended to the DER inside the PEM block.
        case trailingDERBytes
        /// A character of the base64 replaced by one outside the alphabet.
        case badBase64
    }

    /// What became of the approval.
    enum ApprovalState: Sendable { case expired, denied }
}

/// A fresh database with a built-in CA (root and intermediate, `test-ca`) and three profiles —
/// `web` (*.example.test, example.test, 127.0.0.1; every key type), `narrow` (example.test and
/// www.example.test only; EC-P256 and RSA keys) and `gated` (*.example.test, approval required) —
/// and the `certbus` command line pointed at it. Dropped on deinit (through `CertFixture`).
final class BadInputWorld: @unchecked Sendable {
    let fixture: CertFixture
    var db: TestDatabase { fixture.db }
    var c: Connection { fixture.connection }
    var scratch: CertScratch { fixture.scratch }

    init(function: String = #function) throws {
        fixture = try CertFixture(function: function)
        for (name, domains, keys, approval) in [
            ("narrow", ["example.test", "www.example.test"], ["EC-P256", "RSA"], false),
            ("gated", ["*.example.test"], ["EC-P256", "EC-P384", "RSA", "ED25519"], true),
        ] {
            var draft = RAProfileDraft(name: name, ca: "test-ca")
            draft.allowedDomains = domains
            draft.allowedKeyAlgorithms = keys
            draft.requiresApproval = approval
            _ = try RAProfileStore.create(draft, actor: fixture.actor, on: c)
        }
    }

    /// Makes `input`; returns the placeholders it defines.
    func make(_ input: BadInput) throws -> [String: String] {
        let file = scratch.path("input")
        switch input {
        case .nothing:
            return [:]
        case .text(let text):
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        case .bytes(let byte, let count):
            try Data(repeating: byte, count: count).write(to: URL(fileURLWithPath: file))
        case .opensslCSR(let arguments, let prepare):
            for command in prepare { _ = try OpenSSLCommand.run(command, in: scratch.url) }
            _ = try OpenSSLCommand.run(["req", "-new", "-nodes", "-keyout", "input.key", "-out", "input"] + arguments, in: scratch.url)
        case .openssl(let arguments):
            _ = try OpenSSLCommand.run(arguments + ["-out", "input"], in: scratch.url)
        case .csr(let names, let damage):
            try Data(try damaged(try CertFixture.csr(names).0, damage).utf8).write(to: URL(fileURLWithPath: file))
        case .certificate(let revoked):
            let issued = try fixture.process(fixture.issue, payload: IssueCertificatePayload(profile: "web", commonName: "r.example.test"))
            guard let id = try issued.1.get().issuedCertificateId else { throw BadInputWorldError("the certificate was not issued") }
            if revoked {
                _ = try fixture.process(fixture.revoke, payload: RevokeCertificatePayload(certificateId: id, reason: "keyCompromise")).1.get()
            }
            return ["{certificate}": id.uuidString.lowercased()]
        case .approval(let state):
            var draft = CertificateRequestDraft(profile: "gated")
            draft.commonName = "gated.example.test"
            let submitted = try CertificateRequests.submit(draft, actor: fixture.actor, registry: fixture.registry, on: c)
            guard let id = submitted.approvalId else { throw BadInputWorldError("profile gated opened no approval") }
            switch state {
            case .expired:
                try c.execute(
                    "UPDATE certbus.approvals SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE id = $1", [id])
            case .denied:
                _ = try Approvals.deny(id: id, actor: fixture.actor, reason: "not needed", on: c)
            }
            return ["{approval}": id.uuidString.lowercased()]
        case .disabledCA:
            try c.execute("UPDATE certbus.certificate_authorities SET status = 'DISABLED'")
            return [:]
        }
        return ["{file}": file]
    }

    private func damaged(_ csr: CertificateSigningRequest, _ damage: BadInput.CSRDamage) throws -> String {
        switch damage {
        case .truncated:
            return String(csr.pem.prefix(200))
        case .brokenSignature:
            var der = csr.der
            der[der.count - 3] ^= 0x55
            return try CertificateSigningRequest(der: der).pem
        case .twice:
            return csr.pem + csr.pem
        case .trailingDERBytes:
            return PEM.encode(csr.der + Data("XYZ".utf8), label: "CERTIFICATE REQUEST")
        case .badBase64:
            var lines = csr.pem.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines[1] = "!" + lines[1].dropFirst()
            return lines.joined(separator: "\n")
        }
    }

    /// Runs `certbus arguments…` (placeholders replaced) against the world's database.
    func certbus(_ arguments: [String], _ placeholders: [String: String]) throws -> CommandResult {
        let resolved = arguments.map { argument in
            placeholders.reduce(argument) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
        }
        return try CertbusCommand.run(resolved, database: db, environment: ["CERTBUS_HOME": scratch.path("home")], timeout: 120)
    }

    /// A digest of every row of every table of schema certbus, by table: equal digests before and
    /// after a command mean it changed nothing.
    func contents() throws -> [String: String] {
        let tables = try c.query(
            """
            SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1
            """
        ).map { try $0.decode("name", as: String.self) }
        var digests: [String: String] = [:]
        for table in tables {
            let quoted = try c.quoteIdentifier(table)
            digests[table] = try c.query(
                "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS d FROM certbus.\(quoted) t"
            )[0].decode("d")
        }
        return digests
    }

    /// Audit rows of actions that claim a success.
    func successAuditRows() throws -> Int {
        try c.query(
            """
            SELECT count(*)::int AS n FROM certbus.audit_log
             WHERE action IN ('ISSUANCE_COMPLETED', 'RENEWAL_COMPLETED', 'REVOCATION_COMPLETED', 'APPROVAL_GRANTED',
                              'DEPLOYMENT_COMPLETED', 'PROFILE_CREATED', 'CA_CREATED')
            """)[0].decode("n")
    }
}

/// A world that could not be set up.
struct BadInputWorldError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
