import CertbusDatabase
import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway database for one benchmark run: created on the same server as the
/// configured database (the login needs CREATEDB), migrated with the current `sql/`,
/// and dropped with `drop()`, so no benchmark ever writes into a real database.
public final class ScratchDatabase: @unchecked Sendable {
    /// The scratch database's name, `certbus_bench_<purpose>_<pid>_<random>`.
    public let name: String
    /// A connection string for the scratch database (the configured one with its database replaced).
    public let connectionString: String
    private let admin: Connection
    private let quotedName: String

    /// Creates the database next to `base`'s; `purpose` goes into its name.
    public init(near base: String, purpose: String) throws {
        admin = try Connection.connect(base, applicationName: "certbus-bench")
        name = "certbus_bench_\(purpose)_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        do {
            quotedName = try admin.quoteIdentifier(name)
            try admin.execute("CREATE DATABASE \(quotedName)")
        } catch {
            admin.close()
            throw error
        }
        connectionString = Self.connectionString(base, database: name)
    }

    /// Connects to the scratch database and applies every migration, announcing it through `progress`.
    public func migratedConnection(progress: (String) -> Void) throws -> Connection {
        let connection = try Connection.connect(connectionString, applicationName: "certbus-bench")
        do {
            progress("migrating scratch database \(name)")
            _ = try Migrator.located().migrate(connection)
            return connection
        } catch {
            connection.close()
            throw error
        }
    }

    /// Drops the database (disconnecting whoever is still connected) and closes the admin connection.
    /// The admin session is opened again first if the server was restarted since.
    public func drop() {
        if (try? admin.execute("DROP DATABASE IF EXISTS \(quotedName) WITH (FORCE)")) == nil, (try? admin.reconnect()) != nil {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(quotedName) WITH (FORCE)")
        }
        admin.close()
    }

    /// Closes the admin connection and leaves the database in place (a run kept for inspection).
    public func close() {
        admin.close()
    }

    /// `base` pointing at database `database`: the URL's path replaced, or a
    /// `dbname=` keyword appended to a keyword/value string (the last one wins).
    public static func connectionString(_ base: String, database: String) -> String {
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://") {
            let schemeEnd = base.range(of: "://")!.upperBound
            let rest = base[schemeEnd...]
            let pathStart = rest.firstIndex(of: "/")
            let queryStart = rest.firstIndex(of: "?")
            let authorityEnd = [pathStart, queryStart].compactMap { $0 }.min() ?? rest.endIndex
            let encoded = database.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["_", "-", "."])) ?? database
            let query = queryStart.map { String(rest[$0...]) } ?? ""
            return String(base[..<schemeEnd]) + rest[..<authorityEnd] + "/" + encoded + query
        }
        let escaped = database.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return base + " dbname='\(escaped)'"
    }
}
