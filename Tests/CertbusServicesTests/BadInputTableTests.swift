import CertbusTesting
import Foundation
import PKI
import Testing

/// Bad input, one row per refused class, read top to bottom. Each row runs the real `certbus`
/// command line against a fresh database (`BadInputWorld`: a built-in CA and the profiles `web`,
/// `narrow` and `gated`) and checks that
/// - the command exits 1 (refused) or 2 (usage error), as the row says;
/// - standard error names the problem (the row's fragment) and carries no raw control character;
/// - nothing changed: every row of every certbus table is as it was (so no certificate, request,
///   job or audit row — in particular none claiming a success).
///
/// A few inputs cannot be refused before a job exists: an operator may enqueue ISSUE_CERT by hand
/// (`jobs enqueue`) with any well-formed payload. Those rows say `.job`: the enqueue succeeds, the
/// job then FAILS with the message, records ISSUANCE_FAILED, and issues nothing.
///
/// Serialized: each row makes a database with a CA and starts processes, and seventy of them at
/// once would starve the rest of the suite on a small machine.
@Suite(.serialized) struct BadInputTableTests {
    /// Where a bad input is refused.
    enum Refusal: Sendable { case command, job }

    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        let input: BadInput
        let command: [String]
        let status: Int32
        let says: String
        var refusal: Refusal = .command
        var testDescription: String { name }
    }

    static let csrRequest = ["cert", "request", "--profile", "web", "--csr", "{file}"]
    static func request(_ extra: [String], profile: String = "web") -> [String] { ["cert", "request", "--profile", profile] + extra }
    static let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]

    // swift-format-ignore
    static let rows: [Row] = [
        // CSR files: not a CSR at all
        Row(name: "truncated PEM", input: .csr(["t.example.test"], damage: .truncated), command: csrRequest, status: 1, says: "the CSR cannot be read: the CERTIFICATE REQUEST block has no END line"),
        Row(name: "invalid base64 in the PEM block", input: .csr(["t.example.test"], damage: .badBase64), command: csrRequest, status: 1, says: "is not valid base64"),
        Row(name: "bytes after the DER inside the block", input: .csr(["t.example.test"], damage: .trailingDERBytes), command: csrRequest, status: 1, says: "trailing data after the DER"),
        Row(name: "two CSRs in one file", input: .csr(["t.example.test"], damage: .twice), command: csrRequest, status: 1, says: "expected one PEM certificate signing request, found 2"),
        Row(name: "wrong PEM type: a certificate", input: .openssl(["req", "-x509", "-new", "-nodes", "-keyout", "k.pem", "-subj", "/CN=c.example.test"] + ec), command: csrRequest, status: 1, says: "no PEM certificate signing request found"),
        Row(name: "wrong PEM type: a private key", input: .openssl(["genpkey", "-algorithm", "ED25519"]), command: csrRequest, status: 1, says: "no PEM certificate signing request found"),
        Row(name: "binary garbage", input: .bytes(0xFF, count: 4096), command: csrRequest, status: 1, says: "no PEM certificate signing request found"),
        Row(name: "empty file", input: .text(""), command: csrRequest, status: 1, says: "no PEM certificate signing request found"),
        Row(name: "10 MB CSR file", input: .bytes(0x41, count: 10 << 20), command: csrRequest, status: 1, says: "is larger than 1024 KiB"),
        Row(name: "missing CSR file", input: .nothing, command: ["cert", "request", "--profile", "web", "--csr", "/nonexistent/x.csr"], status: 1, says: "No such file or directory"),
        Row(name: "a directory as CSR file", input: .nothing, command: ["cert", "request", "--profile", "web", "--csr", "/tmp"], status: 1, says: "it is a directory"),
        // CSRs that are CSRs, but refused
        Row(name: "CSR with a broken signature", input: .csr(["s.example.test"], damage: .brokenSignature), command: csrRequest, status: 1, says: "signature does not verify"),
        Row(name: "RSA-1024 key", input: .opensslCSR(["-newkey", "rsa:1024", "-subj", "/CN=w.example.test"]), command: csrRequest, status: 1, says: "the RSA key has 1024 bits; profile web requires at least 2048"),
        Row(name: "DSA key", input: .opensslCSR(["-newkey", "dsa:dsa.param", "-subj", "/CN=d.example.test"], prepare: [["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024", "-out", "dsa.param"]]), command: csrRequest, status: 1, says: "unsupported key type DSA"),
        Row(name: "Ed25519 key on a profile without Ed25519", input: .opensslCSR(["-newkey", "ed25519", "-subj", "/CN=example.test"]), command: ["cert", "request", "--profile", "narrow", "--csr", "{file}"], status: 1, says: "Ed25519 keys are not allowed by profile narrow (allowed: EC-P256, RSA)"),
        Row(name: "SAN outside the profile", input: .opensslCSR(ec + ["-subj", "/CN=in.example.test", "-addext", "subjectAltName=DNS:in.example.test,DNS:evil.example.org"]), command: csrRequest, status: 1, says: "evil.example.org is outside the domains of profile web"),
        Row(name: "CN outside the profile", input: .opensslCSR(ec + ["-subj", "/CN=evil.example.org", "-addext", "subjectAltName=DNS:in.example.test"]), command: csrRequest, status: 1, says: "evil.example.org is outside the domains of profile web"),
        Row(name: "IP SAN the profile does not list", input: .opensslCSR(ec + ["-subj", "/CN=ip.example.test", "-addext", "subjectAltName=IP:192.0.2.7"]), command: csrRequest, status: 1, says: "192.0.2.7 is outside the domains of profile web"),
        Row(name: "e-mail SAN in a TLS request", input: .opensslCSR(ec + ["-subj", "/CN=m.example.test", "-addext", "subjectAltName=email:a@example.test"]), command: csrRequest, status: 1, says: "certbus issues only DNS names and IP addresses"),
        Row(name: "NUL byte in a SAN", input: .opensslCSR(ec + ["-subj", "/CN=n.example.test", "-addext", "subjectAltName=DER:3012821061006E2E6578616D706C652E74657374"]), command: csrRequest, status: 1, says: #"DNS name "a\u{0}n.example.test" contains "\u{0}""#),
        Row(name: "CSR whose only name is too long for a CN", input: .opensslCSR(ec + ["-subj", "/O=Example", "-addext", "subjectAltName=DNS:\(String(repeating: "abcdefghij.", count: 6))example.test"]), command: csrRequest, status: 1, says: "every name is longer than 64 characters"),
        // Names on the command line (certbus generates the key)
        Row(name: "name outside the profile", input: .nothing, command: request(["--cn", "www.example.org"]), status: 1, says: "www.example.org is outside the domains of profile web"),
        Row(name: "IP address the profile does not list", input: .nothing, command: request(["--cn", "a.example.test", "--san", "192.0.2.1"]), status: 1, says: "192.0.2.1 is outside the domains of profile web"),
        Row(name: "underscore in a name", input: .nothing, command: request(["--cn", "a_b.example.test"]), status: 1, says: #"DNS name "a_b.example.test" contains "_""#),
        Row(name: "label longer than 63 characters", input: .nothing, command: request(["--cn", String(repeating: "a", count: 64) + ".example.test"]), status: 1, says: "has a label longer than 63 characters"),
        Row(name: "name longer than 253 characters", input: .nothing, command: request(["--cn", String(repeating: "abcdefghi.", count: 25) + "example.test"]), status: 1, says: "is longer than 253 characters"),
        Row(name: "CN longer than 64 characters", input: .nothing, command: request(["--cn", String(repeating: "abcdefghij.", count: 6) + "example.test"]), status: 1, says: "is 78 characters; a certificate's common name holds at most 64"),
        Row(name: "SQL-looking CN", input: .nothing, command: request(["--cn", "x'; DROP TABLE certbus.jobs; --"]), status: 1, says: #"contains "'", which is not allowed in a host name"#),
        Row(name: "escape character in a name", input: .nothing, command: request(["--cn", "a\u{1B}[31m.example.test"]), status: 1, says: #"contains "\u{1B}""#),
        Row(name: "empty name", input: .nothing, command: request(["--cn", " "]), status: 1, says: "the request names nothing"),
        // Wildcards
        Row(name: "wildcard not the left-most label", input: .nothing, command: request(["--cn", "www.*.example.test"]), status: 1, says: "has a wildcard that is not the whole left-most label"),
        Row(name: "partial wildcard label", input: .nothing, command: request(["--cn", "w*.example.test"]), status: 1, says: #"contains "*""#),
        Row(name: "wildcard under a top-level domain", input: .nothing, command: request(["--cn", "*.test"]), status: 1, says: "has a wildcard directly under a top-level domain"),
        Row(name: "wildcard on a profile of exact names", input: .nothing, command: request(["--cn", "*.example.test"], profile: "narrow"), status: 1, says: "*.example.test is outside the domains of profile narrow"),
        // Profiles, key types, CAs
        Row(name: "unknown profile", input: .nothing, command: request(["--cn", "a.example.test"], profile: "nope"), status: 1, says: #"unknown RA profile "nope""#),
        Row(name: "unknown key type (DSA)", input: .nothing, command: request(["--cn", "a.example.test", "--key-type", "DSA"]), status: 1, says: "unknown key type DSA"),
        Row(name: "Ed25519 where the profile does not allow it", input: .nothing, command: request(["--cn", "example.test", "--key-type", "ED25519"], profile: "narrow"), status: 1, says: "Ed25519 keys are not allowed by profile narrow"),
        Row(name: "unknown certificate group", input: .nothing, command: request(["--cn", "a.example.test", "--group", "nope"]), status: 1, says: #"unknown certificate group "nope""#),
        Row(name: "CSR and names together", input: .text("x"), command: request(["--csr", "{file}", "--cn", "a.example.test"]), status: 2, says: "give either --csr or --cn/--san"),
        Row(name: "neither CSR nor names", input: .nothing, command: request([]), status: 2, says: "give --csr FILE, or --cn NAME"),
        Row(name: "unknown CA for a new profile", input: .nothing, command: ["profile", "create", "x", "--ca", "nope"], status: 1, says: #"unknown CA "nope""#),
        Row(name: "unknown CA to show", input: .nothing, command: ["ca", "show", "nope"], status: 1, says: #"unknown CA "nope""#),
        Row(name: "request on a disabled CA", input: .disabledCA, command: request(["--cn", "a.example.test"]), status: 1, says: "CA test-ca is disabled"),
        // Approvals
        Row(name: "expired approval", input: .approval(.expired), command: ["approval", "approve", "{approval}"], status: 1, says: "expired at"),
        Row(name: "approval already denied", input: .approval(.denied), command: ["approval", "approve", "{approval}"], status: 1, says: "is already DENIED"),
        Row(name: "unknown approval", input: .nothing, command: ["approval", "approve", "6f1c0000-0000-4000-8000-000000000000"], status: 1, says: "unknown approval"),
        Row(name: "approval id that is not a UUID", input: .nothing, command: ["approval", "approve", "nope"], status: 2, says: "'nope' is not an approval id"),
        // Certificates
        Row(name: "unknown certificate id", input: .nothing, command: ["cert", "revoke", "6f1c0000-0000-4000-8000-000000000000"], status: 1, says: "unknown certificate 6f1c0000-0000-4000-8000-000000000000"),
        Row(name: "certificate id that is not a UUID", input: .nothing, command: ["cert", "show", "not-a-uuid"], status: 1, says: "unknown certificate not-a-uuid (give its id or SHA-256 fingerprint)"),
        Row(name: "unknown revocation reason", input: .certificate(revoked: false), command: ["cert", "revoke", "{certificate}", "--reason", "nonsense"], status: 2, says: #"unknown revocation reason "nonsense""#),
        Row(name: "reason not allowed for TLS server certificates", input: .certificate(revoked: false), command: ["cert", "revoke", "{certificate}", "--reason", "cACompromise"], status: 2, says: "cACompromise is not an allowed revocation reason for a TLS server certificate"),
        Row(name: "revoking an already revoked certificate", input: .certificate(revoked: true), command: ["cert", "revoke", "{certificate}", "--reason", "keyCompromise"], status: 1, says: "is already revoked (keyCompromise"),
        Row(name: "renewing a revoked certificate", input: .certificate(revoked: true), command: ["cert", "renew", "{certificate}"], status: 1, says: "is revoked; request a new certificate instead"),
        // Jobs
        Row(name: "unknown job kind", input: .nothing, command: ["jobs", "enqueue", "NOPE"], status: 1, says: "unknown job kind 'NOPE'"),
        Row(name: "malformed job kind", input: .nothing, command: ["jobs", "enqueue", "no pe"], status: 2, says: "'no pe' is not a job kind"),
        Row(name: "payload that is not JSON", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--payload", "{bad"], status: 1, says: "is not valid JSON"),
        Row(name: "payload that is not an object", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--payload", "[1]"], status: 1, says: "must be a JSON object"),
        Row(name: "NUL in a JSON payload", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--payload", #"{"a": "x\u0000y"}"#], status: 1, says: #"\u0000 cannot be converted to text"#),
        Row(name: "deeply nested JSON payload", input: .text(#"{"a": "# + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}"), command: ["jobs", "enqueue", "NOOP", "--payload-file", "{file}"], status: 1, says: "Too many nested arrays or dictionaries"),
        Row(name: "payload over the kind's limit", input: .text(#"{"a": ""# + String(repeating: "x", count: 100_000) + #""}"#), command: ["jobs", "enqueue", "NOOP", "--payload-file", "{file}"], status: 1, says: "the limit is 65536 bytes"),
        Row(name: "10 MB payload", input: .bytes(0x20, count: 10 << 20), command: ["jobs", "enqueue", "NOOP", "--payload-file", "{file}"], status: 1, says: "is larger than 1024 KiB"),
        Row(name: "payload both inline and from a file", input: .text("{}"), command: ["jobs", "enqueue", "NOOP", "--payload", "{}", "--payload-file", "{file}"], status: 2, says: "give either --payload or --payload-file"),
        Row(name: "ISSUE_CERT payload without request or profile", input: .nothing, command: ["jobs", "enqueue", "ISSUE_CERT", "--payload", #"{"csr": "x"}"#], status: 1, says: "the ISSUE_CERT payload is refused"),
        Row(name: "negative priority", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--priority", "-1"], status: 1, says: "priority must be between 0 and 1000"),
        Row(name: "--run-at garbage", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--run-at", "next tuesday"], status: 2, says: "--run-at wants a delay from now"),
        Row(name: "--run-at in the past", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--run-at", "2001-01-01T00:00:00Z"], status: 2, says: "is in the past"),
        Row(name: "zero attempts", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--max-attempts", "0"], status: 1, says: "max attempts must be between 1 and 10000"),
        Row(name: "malformed queue name", input: .nothing, command: ["jobs", "enqueue", "NOOP", "--queue", "Bad Queue"], status: 1, says: "a queue name is 1 to 63 lowercase letters"),
        Row(name: "unknown job id", input: .nothing, command: ["jobs", "cancel", "999999"], status: 1, says: "no job with id 999999"),
        // Refused by the job: ISSUE_CERT enqueued by hand with a well-formed payload
        Row(name: "hand-made ISSUE_CERT for a name outside the profile", input: .nothing, command: ["jobs", "enqueue", "ISSUE_CERT", "--payload", #"{"profile": "web", "common_name": "www.example.org"}"#], status: 0, says: "www.example.org is outside the domains of profile web", refusal: .job),
        Row(name: "hand-made ISSUE_CERT for an unknown profile", input: .nothing, command: ["jobs", "enqueue", "ISSUE_CERT", "--payload", #"{"profile": "nope", "common_name": "a.example.test"}"#], status: 0, says: #"unknown RA profile "nope""#, refusal: .job),
        Row(name: "hand-made ISSUE_CERT with a CSR that is not one", input: .nothing, command: ["jobs", "enqueue", "ISSUE_CERT", "--payload", #"{"profile": "web", "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}"#], status: 0, says: "the CSR cannot be read", refusal: .job),
    ]

    /// What running a row did, gathered off Swift's cooperative pool (`observe`) and checked on it.
    struct Observation: Sendable {
        var result: CommandResult
        /// Tables whose rows differ after the command.
        var changedTables: [String] = []
        var certificatesBefore = 0, certificatesAfter = 0
        var successesBefore = 0, successesAfter = 0
        /// `.job` rows: the job's failure message (nil: it succeeded), status, error, ISSUANCE_FAILED rows.
        var jobFailure: String?
        var jobStatus: String?
        var jobError: String?
        var issuanceFailedRows = 0
    }

    /// Makes the world and the input, runs the command (and, for `.job` rows, the job) and
    /// records what changed. Blocking: runs on a thread of its own.
    static func observe(_ row: Row) throws -> Observation {
        let world = try BadInputWorld()
        let placeholders = try world.make(row.input)
        let before = try world.contents()
        let successesBefore = try world.successAuditRows()
        let certificatesBefore = try world.fixture.count("certificates")
        var seen = Observation(result: try world.certbus(row.command, placeholders))
        seen.successesBefore = successesBefore
        seen.certificatesBefore = certificatesBefore
        switch row.refusal {
        case .command:
            let after = try world.contents()
            seen.changedTables = after.keys.filter { after[$0] != before[$0] }.sorted()
        case .job:
            let job = try world.fixture.claim(.issueCertificate)
            if case .failure(let failure) = try world.fixture.finish(world.fixture.issue, job) { seen.jobFailure = failure.message }
            let state = try world.fixture.jobState(job.job.id)
            (seen.jobStatus, seen.jobError) = (state.status, state.error)
            seen.issuanceFailedRows = try world.fixture.count("audit_log", where: "action = 'ISSUANCE_FAILED'")
        }
        seen.certificatesAfter = try world.fixture.count("certificates")
        seen.successesAfter = try world.successAuditRows()
        return seen
    }

    @Test(arguments: rows)
    func isRefused(_ row: Row) async throws {
        let seen = try await onWorkerThread { try Self.observe(row) }
        let result = seen.result
        #expect(result.status == row.status, "\(result.combined)")
        let visible = result.error.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control || $0 == "\n" || $0 == "\t" }
        #expect(visible, "standard error carries a raw control character: \(result.error.debugDescription)")
        switch row.refusal {
        case .command:
            #expect([1, 2].contains(row.status))
            #expect(result.error.contains(row.says), "\(result.error)")
            #expect(seen.changedTables.isEmpty, "the refused command changed \(seen.changedTables)")
        case .job:
            let failure = try #require(seen.jobFailure, "the job succeeded")
            #expect(failure.contains(row.says), "\(failure)")
            #expect(seen.jobStatus == "FAILED")
            #expect(seen.jobError?.contains(row.says) == true, "\(String(describing: seen.jobError))")
            #expect(seen.issuanceFailedRows == 1)
        }
        #expect(seen.certificatesAfter == seen.certificatesBefore)
        #expect(seen.successesAfter == seen.successesBefore)
    }

    /// Accepted on purpose, pinned so that a change is a decision: text around the PEM block
    /// (RFC 7468 lets parsers skip it; `openssl req -text` writes it), and a CSR whose CN is not
    /// among its SANs (the CN joins the SANs, as the CA/Browser Forum requires of issued certificates).
    @Test func acceptedOnPurpose() async throws {
        let (statuses, requests) = try await onWorkerThread { () throws -> ([String], Int) in
            let world = try BadInputWorld()
            let csr = try CertFixture.csr(["cn.example.test"]).0
            let key = try PrivateKey.generate(.ecdsaP256)
            let cnOutsideSANs = try CertificateSigningRequest.create(
                key: key, subject: DistinguishedName(commonName: "cn.example.test"), subjectAlternativeNames: [.dnsName("san.example.test")])
            var statuses: [String] = []
            for (file, text) in [("around.csr", "Certificate Request:\n  made by hand\n" + csr.pem + "trailing notes\n"),
                                 ("cn.csr", cnOutsideSANs.pem)] {
                let path = try world.scratch.write(text, to: file)
                let result = try world.certbus(["cert", "request", "--profile", "web", "--csr", path, "--json"], [:])
                statuses.append("\(file): \(result.status) \(result.error)")
            }
            return (statuses, try world.fixture.count(
                "certificate_requests", where: "subject_alternative_names = ARRAY['cn.example.test', 'san.example.test']"))
        }
        #expect(statuses == ["around.csr: 0 ", "cn.csr: 0 "])
        #expect(requests == 1)
    }
}
