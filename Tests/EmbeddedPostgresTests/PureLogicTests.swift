import Foundation
import Testing

@testable import EmbeddedPostgres

@Suite("Derived directory names")
struct DerivedDirectoryNameTests {
    /// The names are SHA-256 prefixes of the paths; they must never change, or a cluster relocated
    /// or given a short socket directory by an earlier certbus would no longer be found.
    @Test func areStableSHA256Prefixes() {
        #expect(ClusterLayout.relocatedDataDirectory(for: "/srv/certbus/.certbus/postgres")
            == "/var/tmp/certbus-c37b039d99543f3a/postgres")
        let long = "/var/tmp/" + String(repeating: "x", count: 100)
        #expect(ClusterLayout.socketDirectory(for: long, port: 5432) == "/tmp/certbus-82509cae5b81")
    }
}

@Suite("Cluster layout")
struct ClusterLayoutTests {
    @Test func absolutePathsAreNormalised() {
        #expect(ClusterLayout.absolutePath("/a//b/./c/../d/") == "/a/b/d")
        #expect(ClusterLayout.absolutePath("x/y") == FileManager.default.currentDirectoryPath + "/x/y")
    }

    @Test func shortPathsKeepTheSocketInTheDataDirectory() {
        let layout = ClusterLayout.resolve(requested: "/srv/certbus/postgres", port: 5432) { _ in false }
        #expect(layout.dataDirectory == "/srv/certbus/postgres")
        #expect(layout.socketDirectory == "/srv/certbus/postgres")
        #expect(!layout.isRelocated)
        #expect(layout.lockFile == "/srv/certbus/postgres.lock")
        #expect(layout.logFile == "/srv/certbus/postgres/log/server.log")
    }

    @Test func longPathsGetAShortSocketDirectoryThatFitsSunPath() {
        let long = "/tmp/" + String(repeating: "d", count: 90) + "/postgres"
        let layout = ClusterLayout.resolve(requested: long, port: 5432) { _ in false }
        #expect(layout.dataDirectory == long)
        #expect(layout.socketDirectory.hasPrefix("/tmp/certbus-"))
        #expect(layout.socketPath.utf8.count <= ClusterLayout.maximumSocketPathLength)
        // Stable: the same data directory always maps to the same socket directory.
        #expect(ClusterLayout.socketDirectory(for: long, port: 5432) == layout.socketDirectory)
        #expect(ClusterLayout.socketDirectory(for: long + "x", port: 5432) != layout.socketDirectory)
    }

    @Test func theSunPathLimitIsExact() {
        // "<dir>/.s.PGSQL.5432" is 14 bytes longer than <dir>.
        let fits = "/" + String(repeating: "a", count: 107 - 14 - 1)
        #expect((fits + "/.s.PGSQL.5432").utf8.count == 107)
        let tooLong = fits + "b"
        #expect(ClusterLayout.socketDirectory(for: fits, port: 5432) == fits)
        #expect(ClusterLayout.socketDirectory(for: tooLong, port: 5432) != tooLong)
    }

    @Test func relocationIsDecidedOnlyWithoutPointerOrCluster() {
        var asked: [String] = []
        let relocated = ClusterLayout.resolve(requested: "/root/tmp.x/pg", port: 5432, fileExists: { _ in false },
            readPointer: { _ in nil }) { asked.append($0); return true }
        #expect(asked == ["/root/tmp.x/pg"])
        #expect(relocated.isRelocated)
        #expect(relocated.dataDirectory.hasPrefix("/var/tmp/certbus-"))
        #expect(relocated.dataDirectory.hasSuffix("/postgres"))
        #expect(relocated.relocationRoot == (relocated.dataDirectory as NSString).deletingLastPathComponent)
        #expect(relocated.lockFile == "/root/tmp.x/pg.lock")

        // An initialised cluster at the requested path is used where it is.
        let existing = ClusterLayout.resolve(requested: "/root/tmp.x/pg", port: 5432,
            fileExists: { $0 == "/root/tmp.x/pg/PG_VERSION" }, readPointer: { _ in nil }) { _ in
            Issue.record("must not ask about relocation for an existing cluster")
            return true
        }
        #expect(!existing.isRelocated)

        // A pointer file wins.
        let pointed = ClusterLayout.resolve(requested: "/root/tmp.x/pg", port: 5432, fileExists: { _ in false },
            readPointer: { $0 == "/root/tmp.x/pg/" + ClusterLayout.pointerFileName ? "/var/tmp/elsewhere/postgres\n" : nil }
        ) { _ in
            Issue.record("must not ask about relocation when a pointer exists")
            return false
        }
        #expect(pointed.dataDirectory == "/var/tmp/elsewhere/postgres")
        #expect(pointed.pointerFile == "/root/tmp.x/pg/CERTBUS_RELOCATED_CLUSTER")
    }

    @Test func nearestExistingAncestor() {
        let existing: Set<String> = ["/", "/a", "/a/b"]
        #expect(ClusterLayout.nearestExistingAncestor(of: "/a/b/c/d", fileExists: existing.contains) == "/a/b")
        #expect(ClusterLayout.nearestExistingAncestor(of: "/a/b", fileExists: existing.contains) == "/a")
        #expect(ClusterLayout.nearestExistingAncestor(of: "/x/y", fileExists: existing.contains) == "/")
    }
}

@Suite("Server settings")
struct ServerSettingsTests {
    @Test func defaultsAreSocketOnlyAndOverridable() throws {
        let text = try ServerSettings.render(socketDirectory: "/s", port: 6000, overrides: ["fsync": "off", "max_connections": "50"])
        #expect(text.contains("listen_addresses = ''\n"))
        #expect(text.contains("unix_socket_directories = '/s'\n"))
        #expect(text.contains("unix_socket_permissions = '0700'\n"))
        #expect(text.contains("port = '6000'\n"))
        #expect(text.contains("fsync = 'off'\n"))
        #expect(text.contains("max_connections = '50'\n"))
        #expect(!text.contains("max_connections = '200'"))
        #expect(text.contains("shared_buffers = '128MB'\n"))
    }

    @Test func valuesAreQuoted() throws {
        #expect(ServerSettings.quoted("it's") == "'it''s'")
        #expect(ServerSettings.quoted("a\\b") == "'a\\\\b'")
        let text = try ServerSettings.render(socketDirectory: "/s", port: 1, overrides: ["application_name": "x' y"])
        #expect(text.contains("application_name = 'x'' y'\n"))
    }

    @Test func badNamesValuesAndManagedSettingsAreRefused() {
        #expect(throws: EmbeddedClusterError.self) {
            try ServerSettings.render(socketDirectory: "/s", port: 1, overrides: ["fsync = off\nport": "1"])
        }
        #expect(throws: EmbeddedClusterError.self) {
            try ServerSettings.render(socketDirectory: "/s", port: 1, overrides: ["work_mem": "1MB\nport = 1"])
        }
        #expect(throws: EmbeddedClusterError.self) {
            try ServerSettings.render(socketDirectory: "/s", port: 1, overrides: ["port": "5433"])
        }
        #expect(throws: EmbeddedClusterError.self) {
            try ServerSettings.render(socketDirectory: "/s", port: 1, overrides: ["": "x"])
        }
    }
}

@Suite("Connection strings")
struct ConnectionStringTests {
    @Test func urlPercentEncodesTheSocketDirectory() {
        let url = ConnectionStrings.url(socketDirectory: "/tmp/a b", port: 5432, user: "certbus", database: "postgres")
        #expect(url == "postgresql://certbus@/postgres?host=%2Ftmp%2Fa%20b&port=5432")
    }

    @Test func keywordFormQuotesOnlyWhenNeeded() {
        #expect(
            ConnectionStrings.keywordValue(socketDirectory: "/run/pg", port: 5432, user: "certbus", database: "db")
                == "host=/run/pg port=5432 user=certbus dbname=db")
        #expect(
            ConnectionStrings.keywordValue(socketDirectory: "/a b", port: 1, user: "o'k", database: "")
                == "host='/a b' port=1 user='o\\'k' dbname=''")
    }

    @Test func clusterUsesItsLayout() throws {
        var configuration = EmbeddedClusterConfiguration(dataDirectory: "/tmp/certbus-unit-never-created/pg")
        configuration.superuser = "alice"
        configuration.port = 6543
        let cluster = try EmbeddedCluster(configuration)
        #expect(cluster.port == 6543)
        #expect(cluster.url(database: "certbus").hasPrefix("postgresql://alice@/certbus?host="))
        #expect(cluster.url().hasSuffix("&port=6543"))
        #expect(cluster.connectionString().contains("user=alice"))
        #expect(cluster.connectionString().contains("dbname=postgres"))
        #expect(cluster.status() == .notInitialized)
    }

    @Test func invalidConfigurationsAreRefused() {
        var configuration = EmbeddedClusterConfiguration(dataDirectory: "/tmp/x")
        configuration.port = 0
        #expect(throws: EmbeddedClusterError.self) { try EmbeddedCluster(configuration) }
        #expect(throws: EmbeddedClusterError.self) { try EmbeddedCluster(EmbeddedClusterConfiguration(dataDirectory: "")) }
    }
}

@Suite("Binaries and processes")
struct BinariesTests {
    @Test func versionedDirectoriesAreNewestFirst() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        for name in ["9.6", "15", "16", "notaversion", "13"] {
            try FileManager.default.createDirectory(atPath: scratch.path + "/" + name, withIntermediateDirectories: false)
        }
        #expect(
            PostgresBinaries.versionedDirectories(in: scratch.path)
                == ["16", "15", "13", "9.6"].map { scratch.path + "/" + $0 + "/bin" })
    }

    @Test func anExplicitDirectoryWithoutInitdbIsRefused() throws {
        let error = try #require(throws: EmbeddedClusterError.self) {
            try PostgresBinaries.discover(explicit: "/nonexistent/bin")
        }
        #expect(error.description.contains("/nonexistent/bin"))
    }

    @Test(.enabled(if: serverBinariesAvailable)) func discoveryFindsInitdbAndPgCtl() throws {
        let binaries = try PostgresBinaries.discover(explicit: nil)
        #expect(FileManager.default.isExecutableFile(atPath: binaries.initdb))
        #expect(FileManager.default.isExecutableFile(atPath: binaries.pgCtl))
    }

    @Test func childEnvironmentDropsPostgresVariablesAndFixesTheLocale() {
        let environment = ProgramRunner.childEnvironment(["PGPORT": "1", "PGDATA": "/x", "PATH": "/bin", "LANG": "de_DE.UTF-8"])
        #expect(environment["PGPORT"] == nil)
        #expect(environment["PGDATA"] == nil)
        #expect(environment["PATH"] == "/bin")
        #expect(environment["LC_ALL"] == "C")
        #expect(environment["LANG"] == "C")
    }

    @Test func errorDescriptionsCarryCommandOutputAndLog() {
        let error = EmbeddedClusterError(
            what: "initdb failed", command: ["/usr/bin/initdb", "-D", "/a b"], output: "boom\n",
            logTail: "FATAL: x", dataDirectory: "/a b")
        #expect(error.description.contains("initdb failed"))
        #expect(error.description.contains("command: /usr/bin/initdb -D '/a b'"))
        #expect(error.description.contains("  boom"))
        #expect(error.description.contains("  FATAL: x"))
    }
}
