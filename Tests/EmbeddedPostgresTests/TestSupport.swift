import Foundation
import Testing

@testable import EmbeddedPostgres

/// A fresh directory under /tmp (mode 0755, so a service account can traverse it), deleted by `remove()`.
struct ScratchDirectory {
    let path: String

    init(prefix: String = "certbus-ep-test", mode: mode_t = 0o755) throws {
        let path = "/tmp/\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        guard mkdir(path, mode) == 0 else { throw EmbeddedClusterError(what: "mkdir \(path) failed") }
        chmod(path, mode)
        self.path = path
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Settings that keep test clusters small and fast.
let testSettings = ["fsync": "off", "shared_buffers": "16MB", "max_connections": "20"]

/// A configuration for a test cluster at `dataDirectory`.
func testConfiguration(_ dataDirectory: String) -> EmbeddedClusterConfiguration {
    var configuration = EmbeddedClusterConfiguration(dataDirectory: dataDirectory)
    configuration.settings = testSettings
    return configuration
}

/// Runs `body` with a cluster in a scratch directory, then destroys both.
func withScratchCluster<T>(
    subdirectory: String = "postgres", _ body: (EmbeddedCluster, ScratchDirectory) throws -> T
) throws -> T {
    let scratch = try ScratchDirectory()
    defer { scratch.remove() }
    let cluster = try EmbeddedCluster(testConfiguration(scratch.path + "/" + subdirectory))
    defer { try? cluster.destroy() }
    return try body(cluster, scratch)
}

/// Runs `psql -Atc sql` against `connection` and returns its trimmed output; throws if psql fails.
func psql(_ connection: String, _ sql: String) throws -> String {
    guard let psql = ProgramRunner.which("psql", extraDirectories: ["/usr/bin"]) else {
        throw EmbeddedClusterError(what: "psql not found")
    }
    let result = try ProgramRunner.run([psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", connection, "-c", sql])
    guard result.succeeded else { throw EmbeddedClusterError(what: "psql failed", output: result.output) }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// True if the server answers `pg_isready` on the cluster's socket.
func isReady(_ cluster: EmbeddedCluster) throws -> Bool {
    guard let tool = ProgramRunner.which("pg_isready", extraDirectories: ["/usr/bin"]) else {
        throw EmbeddedClusterError(what: "pg_isready not found")
    }
    let result = try ProgramRunner.run([tool, "-h", cluster.socketDirectory, "-p", String(cluster.port)])
    return result.succeeded
}

/// True if PostgreSQL server binaries can be found on this machine.
let serverBinariesAvailable: Bool = (try? PostgresBinaries.discover(explicit: nil)) != nil
