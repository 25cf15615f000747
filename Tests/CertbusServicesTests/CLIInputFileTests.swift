import CertbusTesting
import Foundation
import Postgres
import Testing

/// Inputs the CLI cannot use (unreadable `--csr` files, a mistyped CERTBUS_PREPARED_STATEMENTS): each gets a clear error and
/// nothing is written (uses AlertCommandTests' runner; its own TestDatabase, dropped at the end).
extension AlertCommandTests {
    @Test func unusableCSRFilesAreRefusedWithTheirReason() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent(TestCluster.uniqueName(prefix: "home"))
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let env = ["CERTBUS_HOME": home.path]
        #expect(try certbus(["ca", "create", "input-ca"], db, environment: env).status == 0)
        #expect(try certbus(["profile", "create", "web", "--ca", "input-ca", "--domain", "example.com"], db, environment: env).status == 0)

        let big = home.appendingPathComponent("big.csr")
        try Data(repeating: 0x41, count: 1_100_000).write(to: big)
        let garbage = home.appendingPathComponent("garbage.csr")
        try "-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----\n".write(to: garbage, atomically: true, encoding: .utf8)
        let cases: [(file: String, says: String)] = [
            (home.appendingPathComponent("missing.csr").path, "No such file or directory"),
            (home.path, "it is a directory"),
            (big.path, "is larger than 1024 KiB"),
            (garbage.path, "the CSR cannot be read"),
        ]
        let c = try db.connect()
        for (file, says) in cases {
            let refused = try certbus(["cert", "request", "--profile", "web", "--csr", file], db, environment: env)
            #expect(refused.status == 1, "\(file): \(refused.output)")
            #expect(refused.error.contains(says), "\(file): \(refused.error)")
        }
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.certificate_requests")[0].decode("n", as: Int.self) == 0)
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.jobs WHERE kind = 'ISSUE_CERT'")[0].decode("n", as: Int.self) == 0)
    }

    @Test func aMistypedPreparedStatementsSwitchIsRefused() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let refused = try certbus(["jobs", "enqueue", "NOOP", "--payload", "{}"], db, environment: ["CERTBUS_PREPARED_STATEMENTS": "of"])
        #expect(refused.status == 1)
        #expect(refused.error.contains("CERTBUS_PREPARED_STATEMENTS must be on or off (it is \"of\")"), "\(refused.error)")
        let c = try db.connect()
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.jobs")[0].decode("n", as: Int.self) == 0)
        let accepted = try certbus(["jobs", "enqueue", "NOOP", "--payload", "{}"], db, environment: ["CERTBUS_PREPARED_STATEMENTS": "off"])
        #expect(accepted.status == 0, "\(accepted.error)")
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.jobs")[0].decode("n", as: Int.self) == 1)
    }
}
