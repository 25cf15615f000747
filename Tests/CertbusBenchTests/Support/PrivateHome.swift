import CertbusTesting
import EmbeddedPostgres
import Foundation
import Postgres

/// A private certbus home for end-to-end tests that restart PostgreSQL: a temporary folder used
/// as `CERTBUS_HOME`, with its own embedded cluster (started by `certbus db start`, so it stays up
/// between commands), KEK and audit key. Commands run with no configured database URL, KEK or
/// audit key file, so everything stays inside the folder. `close()` stops the cluster and deletes it all.
final class PrivateHome: @unchecked Sendable {
    /// The folder.
    let path: String
    /// What every command of this home gets in its environment.
    let environment: [String: String]
    /// The embedded cluster in `<path>/postgres`.
    let cluster: EmbeddedCluster

    /// Creates the folder and starts its cluster.
    init(_ purpose: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-\(TestCluster.uniqueName(prefix: purpose))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        environment = [
            "CERTBUS_HOME": path, "CERTBUS_DATABASE_URL": "", "CERTBUS_KEK_FILE": "", "CERTBUS_AUDIT_KEY_FILE": "",
            "CERTBUS_USER": "e2e-tester",
        ]
        cluster = try EmbeddedCluster(EmbeddedClusterConfiguration(dataDirectory: path + "/postgres"))
        let started = try run(["db", "start"], timeout: 180)
        guard started.status == 0 else {
            close()
            throw PrivateHomeError(description: "certbus db start failed: \(started.combined)")
        }
    }

    /// Runs `certbus arguments…` in this home to the end.
    func run(_ arguments: [String], environment extra: [String: String] = [:], timeout: Double = 300) throws -> CommandResult {
        try CertbusCommand.run(arguments, environment: environment.merging(extra) { $1 }, timeout: timeout)
    }

    /// Starts `certbus arguments…` in this home (a service), returning at once.
    func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> CertbusCommand {
        try CertbusCommand(arguments, environment: environment.merging(extra) { $1 })
    }

    /// A connection to `database` of the home's cluster.
    func connect(database: String = "certbus") throws -> Connection {
        try Connection.connect(cluster.connectionString(database: database), applicationName: "certbus-test")
    }

    /// `name` inside the folder.
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Stops and deletes the cluster (wherever it was relocated), then the folder.
    func close() {
        try? cluster.destroy(timeout: 60)
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct PrivateHomeError: Error, CustomStringConvertible {
    var description: String
}
