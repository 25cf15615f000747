import Postgres

/// Cluster-wide leadership of the audit sealer: a session advisory lock held on
/// the sealer's own connection. Leadership ends when that connection ends.
///
/// Stand-in until the queue area's `Leadership` is on main; the sealer's batches
/// are additionally serialised by a transaction lock, so two leaders can never
/// interleave batches.
struct AuditSealerLeadership {
    /// The session lock key ('certbus' + 'L' for the audit sealer leader).
    static let key: Int64 = 0x6365_7274_6275_734C

    /// Tries to take leadership on `connection`; true when this session holds it.
    static func tryAcquire(on connection: Connection) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock($1) AS ok", [key])[0].decode("ok", as: Bool.self)
    }

    /// Gives leadership up (the lock also goes away with the connection).
    static func release(on connection: Connection) {
        _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [key])
    }
}
