import CertbusTesting
import Foundation
import Postgres
import Testing

/// The kinds of login the privilege tests connect as: one per certbus group role, and one in no
/// certbus group at all (it has only what PostgreSQL gives PUBLIC).
enum Login: String, CaseIterable, Sendable, CustomStringConvertible {
    case service, agent, reporter, auditor, nobody

    /// The group role a login of this kind is a member of (none for `nobody`).
    var group: String? {
        switch self {
        case .service: "certbus_service"
        case .agent: "certbus_agent"
        case .reporter: "certbus_reporter"
        case .auditor: "certbus_auditor"
        case .nobody: nil
        }
    }

    var description: String { group ?? "a login in no certbus group" }
}

/// What a statement run as a login did: ran (or failed for a reason other than privileges), or
/// was refused with SQLSTATE 42501 (insufficient_privilege).
enum Attempt: Equatable, CustomStringConvertible {
    case ran(sqlState: String?)
    case refused

    var description: String {
        switch self {
        case .ran(nil): "ran"
        case .ran(let state?): "passed the privilege check (then failed with \(state))"
        case .refused: "refused (42501)"
        }
    }

    var isRefused: Bool { self == .refused }
}

/// A fresh test database and one real LOGIN role of a `Login` kind connected to it over the test
/// cluster's socket. `deinit` drops the database, then the role (roles are cluster-wide: each
/// fixture's role has a unique name, so parallel and repeated runs never meet).
final class LoginFixture: @unchecked Sendable {
    let db: TestDatabase
    let login: Login
    let role: TestLoginRole
    /// The login's session (statements unprepared: the matrix runs hundreds of one-off statements).
    let session: Connection
    /// A superuser session on the same database, for setting things up and checking results.
    let admin: Connection

    init(_ login: Login, function: String = #function) throws {
        self.login = login
        role = try TestLoginRole(prefix: "\(login.rawValue)_login", memberOf: login.group.map { [$0] } ?? [])
        do {
            db = try TestDatabase.create(function: function)
            admin = try db.connect()
            session = try role.connect(db, preparesStatements: false)
        } catch {
            role.drop()
            throw error
        }
    }

    deinit {
        session.close()
        admin.close()
        db.drop()
        role.drop()
    }

    /// Runs `sql` as the login inside a transaction that is always rolled back, and says whether
    /// the privilege check let it through.
    func attempt(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Attempt {
        try Self.attempt(sql, parameters, on: session)
    }

    /// ``attempt(_:_:)`` on any connection.
    static func attempt(_ sql: String, _ parameters: [any PostgresEncodable] = [], on c: Connection) throws -> Attempt {
        try c.execute("BEGIN")
        defer { _ = try? c.execute("ROLLBACK") }
        do {
            try c.query(sql, parameters)
            return .ran(sqlState: nil)
        } catch let error as PostgresError where error.kind == .server {
            return error.sqlState == "42501" ? .refused : .ran(sqlState: error.sqlState)
        }
    }
}

/// Problems a check found, gathered where `#expect` cannot be used (on a thread of its own) and
/// reported together afterwards by ``expectNoProblems(_:sourceLocation:_:)``.
struct Problems {
    private(set) var list: [String] = []

    /// Records `message` unless `ok`.
    mutating func check(_ ok: Bool, _ message: @autoclosure () throws -> String) rethrows {
        if !ok { list.append(try message()) }
    }
}

/// Runs `check` — blocking database and process work — on a thread of its own, never on Swift's
/// cooperative pool (two threads here, which other tests' async work needs), and expects it to
/// find no problem.
func expectNoProblems(
    _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ check: @escaping @Sendable () throws -> [String]
) async throws {
    let problems = try await onWorkerThread(check)
    #expect(problems.isEmpty, "\(what):\n\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
}
