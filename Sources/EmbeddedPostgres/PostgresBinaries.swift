import Foundation

/// Where the PostgreSQL server programs are.
struct PostgresBinaries: Sendable, Equatable {
    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    var directory: String
    /// Path of `initdb`.
    var initdb: String { directory + "/initdb" }
    /// Path of `pg_ctl`.
    var pgCtl: String { directory + "/pg_ctl" }

    /// True if `directory` holds both `initdb` and `pg_ctl`.
    static func isUsable(_ directory: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: directory + "/initdb")
            && FileManager.default.isExecutableFile(atPath: directory + "/pg_ctl")
    }

    /// Finds the server binaries: `explicit` if given; else `pg_config --bindir`
    /// if that directory has initdb and pg_ctl; else the newest
    /// `/usr/lib/postgresql/<version>/bin`; else `initdb` found on `PATH`.
    static func discover(explicit: String?) throws -> PostgresBinaries {
        if let explicit {
            guard isUsable(explicit) else {
                throw EmbeddedClusterError(
                    what: "the configured PostgreSQL bin directory \(explicit) has no initdb and pg_ctl")
            }
            return PostgresBinaries(directory: explicit)
        }
        var looked: [String] = []
        if let pgConfig = ProgramRunner.which("pg_config"),
            let result = try? ProgramRunner.run([pgConfig, "--bindir"]), result.succeeded
        {
            let directory = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if isUsable(directory) { return PostgresBinaries(directory: directory) }
            looked.append("\(directory) (from pg_config --bindir)")
        }
        let versioned = versionedDirectories(in: "/usr/lib/postgresql")
        for directory in versioned where isUsable(directory) { return PostgresBinaries(directory: directory) }
        looked.append("/usr/lib/postgresql/*/bin")
        if let initdb = ProgramRunner.which("initdb") {
            let resolved = URL(fileURLWithPath: initdb).resolvingSymlinksInPath().deletingLastPathComponent().path
            if isUsable(resolved) { return PostgresBinaries(directory: resolved) }
        }
        looked.append("PATH")
        throw EmbeddedClusterError(
            what: """
                PostgreSQL server binaries (initdb, pg_ctl) not found; looked in: \(looked.joined(separator: ", ")). \
                Install them with: apt-get install postgresql
                """)
    }

    /// `<root>/<version>/bin` for every numeric version directory, newest first.
    static func versionedDirectories(in root: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.compactMap { name -> (version: [Int], path: String)? in
            let parts = name.split(separator: ".").map { Int($0) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
            return (parts.map { $0! }, root + "/" + name + "/bin")
        }
        .sorted { $0.version.lexicographicallyPrecedes($1.version) }
        .reversed()
        .map(\.path)
    }
}
