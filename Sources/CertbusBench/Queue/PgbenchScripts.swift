import Foundation

/// The pgbench scripts of the queue ceilings: `.sql` files kept beside this code in
/// `Sources/CertbusBench/Queue/pgbench/` (excluded from the target in Package.swift; they are
/// pgbench scripts, not migrations). A benchmark runs from a build of a checkout, so they are
/// found next to the source file this was compiled from, or in `$CERTBUS_PGBENCH_DIR`.
public struct PgbenchScripts: Sendable {
    /// The folder holding the scripts.
    public var directory: URL
    /// Claim one job and mark it done, one transaction per job.
    public var oneJob: URL { directory.appendingPathComponent("one_job.sql") }
    /// Claim `:batch` jobs in one transaction, mark them done in a second one.
    public var batch: URL { directory.appendingPathComponent("batch.sql") }

    /// The scripts' folder, or an error saying where it looked.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PgbenchScripts {
        var candidates: [URL] = []
        if let explicit = environment["CERTBUS_PGBENCH_DIR"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pgbench"))
        for candidate in candidates {
            let scripts = PgbenchScripts(directory: candidate)
            if [scripts.oneJob, scripts.batch].allSatisfy({ FileManager.default.isReadableFile(atPath: $0.path) }) {
                return scripts
            }
        }
        throw BenchmarkError("cannot find the pgbench scripts (one_job.sql, batch.sql); set CERTBUS_PGBENCH_DIR. Looked in: "
                             + candidates.map(\.path).joined(separator: ", "))
    }
}
