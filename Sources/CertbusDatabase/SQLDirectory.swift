import Foundation

/// Finds the folder of numbered migration files (`sql/`).
///
/// Looked for, in order: `$CERTBUS_SQL_DIR`; `<executable>/../share/certbus/sql`
/// (installed layout, the Docker image); the nearest `sql/` above the
/// executable that sits beside a `Package.swift` (a build tree); and the
/// source checkout this module was compiled from.
public enum SQLDirectory {
    /// The migrations folder, or an error listing where it looked.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        var candidates: [URL] = []
        if let explicit = environment["CERTBUS_SQL_DIR"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var dir = executable.deletingLastPathComponent()
        candidates.append(dir.deletingLastPathComponent().appendingPathComponent("share/certbus/sql"))
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                candidates.append(dir.appendingPathComponent("sql"))
                break
            }
            dir = dir.deletingLastPathComponent()
        }
        // Sources/CertbusDatabase/SQLDirectory.swift -> <checkout>/sql
        let source = URL(fileURLWithPath: #filePath)
        candidates.append(
            source.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("sql"))
        for candidate in candidates where isMigrationFolder(candidate) {
            return candidate.standardizedFileURL
        }
        throw MigrationError(
            message: "cannot find the sql/ migrations folder; set CERTBUS_SQL_DIR. Looked in: "
                + candidates.map(\.path).joined(separator: ", "))
    }

    static func isMigrationFolder(_ url: URL) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return false }
        return names.contains { $0.hasPrefix("001_") && $0.hasSuffix(".sql") }
    }
}
