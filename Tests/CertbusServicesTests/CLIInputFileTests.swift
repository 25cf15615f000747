import CertbusTesting
import Foundation
import Postgres
import Testing

/// A mistyped CERTBUS_PREPARED_STATEMENTS gets a clear error and nothing is written (uses AlertCommandTests' runner; its
/// own TestDatabase, dropped at the end). Unusable `--csr` files are rows of BadInputTableTests.
extension AlertCommandTests {
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
