import Foundation
import Testing

@testable import EmbeddedPostgres

/// Tests against real PostgreSQL server binaries, each in its own scratch directory.
@Suite("Embedded cluster lifecycle", .enabled(if: serverBinariesAvailable))
struct ClusterLifecycleTests {
    @Test func initStartConnectStopRestart() throws {
        try withScratchCluster { cluster, _ in
            #expect(cluster.status() == .notInitialized)
            #expect(try cluster.start() == true)
            guard case .running(let pid) = cluster.status() else {
                Issue.record("expected running, got \(cluster.status())")
                return
            }
            #expect(pid > 0)
            #expect(try isReady(cluster))
            #expect(try psql(cluster.connectionString(), "select current_user") == "certbus")
            #expect(try psql(cluster.url(), "show listen_addresses") == "")
            #expect(try psql(cluster.url(), "show fsync") == "off")
            #expect(try psql(cluster.url(), "show server_encoding") == "UTF8")
            _ = try psql(cluster.url(), "create table kept (n int); insert into kept values (42)")

            // Starting a running cluster is a no-op that says so.
            #expect(try cluster.start() == false)
            #expect(cluster.status() == .running(pid: pid))

            try cluster.stop()
            #expect(cluster.status() == .stopped)
            #expect(try !isReady(cluster))
            try cluster.stop()  // no-op when stopped
            #expect(cluster.status() == .stopped)

            // Restart on the existing data directory keeps the data.
            #expect(try cluster.start() == true)
            #expect(try psql(cluster.url(), "select n from kept") == "42")
        }
    }

    @Test func anotherInstanceSeesTheSameCluster() throws {
        try withScratchCluster { cluster, scratch in
            try cluster.start()
            let twin = try EmbeddedCluster(testConfiguration(scratch.path + "/postgres"))
            #expect(twin.status() == cluster.status())
            #expect(twin.url() == cluster.url())
            #expect(try twin.start() == false)
            try twin.stop()
            #expect(cluster.status() == .stopped)
        }
    }

    @Test func stalePidFileAfterKillDashNineDoesNotBlockStart() throws {
        try withScratchCluster { cluster, _ in
            try cluster.start()
            guard case .running(let pid) = cluster.status() else {
                Issue.record("not running")
                return
            }
            #expect(kill(pid, SIGKILL) == 0)
            // Wait (bounded) for the killed postmaster to be gone; not a timing assertion.
            for _ in 0..<200 where cluster.status() != .stopped { usleep(50_000) }
            #expect(cluster.status() == .stopped)
            #expect(FileManager.default.fileExists(atPath: cluster.dataDirectory + "/postmaster.pid"))
            #expect(try cluster.start() == true)
            #expect(try psql(cluster.url(), "select 1") == "1")
        }
    }

    @Test func concurrentStartsFromTwoThreadsStartOnce() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let configuration = testConfiguration(scratch.path + "/postgres")
        let cluster = try EmbeddedCluster(configuration)
        defer { try? cluster.destroy() }
        let results = LockedResults()
        let group = DispatchGroup()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                do {
                    let instance = try EmbeddedCluster(configuration)
                    results.append(.success(try instance.start()))
                } catch {
                    results.append(.failure(error))
                }
            }
        }
        group.wait()
        let outcomes = results.values
        let startedCounts = outcomes.map { outcome -> String in
            switch outcome {
            case .success(let started): return started ? "started" : "already running"
            case .failure(let error): return "error: \(error)"
            }
        }
        #expect(startedCounts.sorted() == ["already running", "started"])
        #expect(try psql(cluster.url(), "select 1") == "1")
    }

    @Test func longDataDirectoryGetsAShortSocketDirectory() throws {
        let deep = String(repeating: "long-directory-name-", count: 5) + "/postgres"
        try withScratchCluster(subdirectory: deep) { cluster, _ in
            #expect(cluster.socketDirectory.hasPrefix("/tmp/certbus-"))
            #expect(cluster.socketDirectory != cluster.dataDirectory)
            try cluster.start()
            #expect(FileManager.default.fileExists(atPath: cluster.socketDirectory + "/.s.PGSQL.5432"))
            #expect(try psql(cluster.url(), "select 2") == "2")
            try cluster.destroy()
            #expect(!FileManager.default.fileExists(atPath: cluster.socketDirectory))
            #expect(!FileManager.default.fileExists(atPath: cluster.dataDirectory))
        }
    }

    @Test func aBadSettingFailsWithTheServerLogAndLeavesItStopped() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var configuration = testConfiguration(scratch.path + "/postgres")
        configuration.settings["shared_buffers"] = "lots"
        let cluster = try EmbeddedCluster(configuration)
        defer { try? cluster.destroy() }
        let error = try #require(throws: EmbeddedClusterError.self) { try cluster.start(timeout: 20) }
        #expect(error.what.contains("did not start"))
        #expect(error.logTail.contains("shared_buffers"), "log tail: \(error.logTail)")
        #expect(error.command?.contains("start") == true)
        #expect(cluster.status() == .stopped)
    }

    @Test func aManagedSettingIsRefusedBeforeAnythingStarts() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var configuration = testConfiguration(scratch.path + "/postgres")
        configuration.settings["port"] = "1234"
        let cluster = try EmbeddedCluster(configuration)
        defer { try? cluster.destroy() }
        let error = try #require(throws: EmbeddedClusterError.self) { try cluster.start() }
        #expect(error.what.contains("port"))
        if case .running = cluster.status() { Issue.record("must not be running") }
    }

    @Test func aMissingBinDirectoryIsNamedInTheError() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var configuration = testConfiguration(scratch.path + "/postgres")
        configuration.binDirectory = scratch.path + "/no-bin"
        let cluster = try EmbeddedCluster(configuration)
        let error = try #require(throws: EmbeddedClusterError.self) { try cluster.start() }
        #expect(error.description.contains("no-bin"))
        #expect(cluster.status() == .notInitialized)
    }

    @Test(.enabled(if: geteuid() == 0, "relocation only happens when running as root"))
    func rootOnlyDirectoriesRelocateTheClusterAndLeaveAPointer() throws {
        let scratch = try ScratchDirectory(prefix: "certbus-ep-private", mode: 0o700)
        defer { scratch.remove() }
        let requested = scratch.path + "/project/.certbus/postgres"
        let cluster = try EmbeddedCluster(testConfiguration(requested))
        defer { try? cluster.destroy() }
        #expect(cluster.isRelocated)
        #expect(cluster.dataDirectory == ClusterLayout.relocatedDataDirectory(for: requested))
        try cluster.start()
        #expect(try psql(cluster.url(), "select 3") == "3")
        let pointer = try String(contentsOfFile: requested + "/" + ClusterLayout.pointerFileName, encoding: .utf8)
        #expect(pointer.trimmingCharacters(in: .whitespacesAndNewlines) == cluster.dataDirectory)
        // The caller's private directory was not opened up.
        var info = stat()
        #expect(stat(scratch.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)

        // A new instance for the same requested path finds the cluster through the pointer.
        let again = try EmbeddedCluster(testConfiguration(requested))
        #expect(again.dataDirectory == cluster.dataDirectory)
        #expect(again.status() == cluster.status())
        try again.stop()
        #expect(cluster.status() == .stopped)

        try cluster.destroy()
        #expect(!FileManager.default.fileExists(atPath: cluster.layout.relocationRoot!))
        #expect(!FileManager.default.fileExists(atPath: requested))
    }

    @Test(.enabled(if: geteuid() == 0, "the service account is only used when running as root"))
    func asRootTheServerRunsAsTheServiceAccount() throws {
        try withScratchCluster { cluster, _ in
            let user = try #require(cluster.serviceUser)
            try cluster.start()
            var info = stat()
            #expect(stat(cluster.dataDirectory + "/PG_VERSION", &info) == 0)
            #expect(info.st_uid == ServiceAccount.lookup(user)?.uid)
            #expect(try psql(cluster.url(), "select 1") == "1")
        }
    }
}

/// A thread-safe list of outcomes.
final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<Bool, any Error>] = []
    func append(_ value: Result<Bool, any Error>) { lock.withLock { storage.append(value) } }
    var values: [Result<Bool, any Error>] { lock.withLock { storage } }
}
