import Postgres

extension Connection {
    /// Runs `body` in a transaction committed without waiting for its WAL to reach disk
    /// (`SET LOCAL synchronous_commit TO off`). For preparatory records of a job (its request
    /// row, the built-in CA's ledger entry) this is safe: WAL is written in order, so the job's
    /// own synchronous completion commit — or any synchronous commit that follows, such as an
    /// ACME order URL being recorded — makes them durable too; if the server loses them before
    /// that, the job was not completed and its retry writes them again (a built-in signature
    /// whose ledger entry was lost never left the process). Saves one disk flush per record.
    func withRelaxedCommit<T>(_ body: (Connection) throws -> T) throws -> T {
        if isInTransaction { return try body(self) }
        return try withTransaction { c in
            try c.execute("SET LOCAL synchronous_commit TO off")
            return try body(c)
        }
    }
}
