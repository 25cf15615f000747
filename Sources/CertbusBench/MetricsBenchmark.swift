import CertbusMetrics
import CertbusServices
import Foundation
import Postgres

/// `certbus bench metrics`: the cost of one metrics scrape's database query
/// (`certbus.metrics_snapshot()`) over a large deployment, and what the certificate tallies
/// behind it cost writers — measured in a scratch database created next to the configured one
/// and dropped after.
public struct MetricsBenchmark: Sendable {
    /// Certificates (10 profiles; VALID, EXPIRING, EXPIRED, REVOKED; a third of the active ones renewed).
    public var certificates: Int
    /// Finished jobs kept as history (SUCCESS; 1 % FAILED).
    public var finishedJobs: Int
    /// QUEUED jobs in steady state, and in the backlog phase.
    public var queuedJobs: Int
    public var backlogJobs: Int
    /// Unsealed audit rows.
    public var auditRows: Int
    /// Timed scrapes per phase.
    public var scrapes: Int

    public init(
        certificates: Int = 1_000_000, finishedJobs: Int = 1_000_000, queuedJobs: Int = 1_000, backlogJobs: Int = 100_000,
        auditRows: Int = 10_000, scrapes: Int = 20
    ) {
        self.certificates = certificates
        self.finishedJobs = finishedJobs
        self.queuedJobs = queuedJobs
        self.backlogJobs = backlogJobs
        self.auditRows = auditRows
        self.scrapes = scrapes
    }

    /// Timings of repeated scrapes, in milliseconds.
    public struct Timings: Sendable, Encodable {
        public var minimum: Double
        public var median: Double
        public var maximum: Double

        init(_ samples: [Double]) {
            let sorted = samples.sorted()
            minimum = sorted.first ?? 0
            median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
            maximum = sorted.last ?? 0
        }
    }

    /// What was measured.
    public struct Result: Sendable, Encodable {
        public var certificates: Int
        public var finishedJobs: Int
        public var queuedJobs: Int
        public var backlogJobs: Int
        public var auditRows: Int
        /// Series in one scrape's database part.
        public var series: Int
        /// Rows of certbus.certificate_tallies the scrape sums.
        public var tallyRows: Int
        /// `DatabaseMetrics.read` (query and decoding), steady state.
        public var scrapeMilliseconds: Timings
        /// The same with `backlogJobs` more jobs QUEUED and due.
        public var backlogScrapeMilliseconds: Timings
        /// What the tallies replace: `SELECT status, count(*) FROM certbus.certificates GROUP BY status`.
        public var countByStatusMilliseconds: Double
        /// Inserting 50,000 certificates in one statement, with and without the tally triggers (median of 4, alternating).
        public var bulkInsertSecondsWithTallies: Double
        public var bulkInsertSecondsWithoutTallies: Double
        /// One certificate per insert transaction (mean of 500), with and without the tally triggers (median of 4, alternating).
        public var singleInsertMillisecondsWithTallies: Double
        public var singleInsertMillisecondsWithoutTallies: Double
        /// EXPLAIN (ANALYZE, BUFFERS) of the snapshot's query, steady state.
        public var plan: String
        public var loadAverage: Double?
    }

    /// Runs every phase; `progress` receives one line per phase.
    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> Result {
        guard certificates >= 100, finishedJobs >= 0, queuedJobs >= 0, backlogJobs >= 0, auditRows >= 0, scrapes > 0 else {
            throw BenchmarkError("certificates must be at least 100, the other sizes not negative, scrapes positive")
        }
        let scratch = try ScratchDatabase(near: connectionString, purpose: "metrics")
        defer { scratch.drop() }
        let c = try scratch.migratedConnection(progress: progress)
        defer { c.close() }

        progress("inserting \(certificates) certificates over 10 profiles")
        try fillCertificates(c)
        progress("inserting \(finishedJobs) finished and \(queuedJobs) queued jobs, \(auditRows) audit rows, alerts, agents")
        try fillJobs(c, finished: finishedJobs, queued: queuedJobs)
        try fillTheRest(c)
        progress("VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE")

        var result = Result(
            certificates: certificates, finishedJobs: finishedJobs, queuedJobs: queuedJobs, backlogJobs: backlogJobs,
            auditRows: auditRows, series: 0, tallyRows: 0, scrapeMilliseconds: Timings([]),
            backlogScrapeMilliseconds: Timings([]), countByStatusMilliseconds: 0, bulkInsertSecondsWithTallies: 0,
            bulkInsertSecondsWithoutTallies: 0, singleInsertMillisecondsWithTallies: 0,
            singleInsertMillisecondsWithoutTallies: 0, plan: "", loadAverage: nil)
        result.tallyRows = try c.query("SELECT count(*)::int AS n FROM certbus.certificate_tallies")[0].decode("n")
        progress("timing \(scrapes) scrapes")
        (result.scrapeMilliseconds, result.series) = try timeScrapes(c)
        result.plan = try explain(c)
        result.countByStatusMilliseconds = 1000 * (try BenchClock.time {
            _ = try c.query("SELECT status, count(*) FROM certbus.certificates GROUP BY status")
        })

        progress("queueing a backlog of \(backlogJobs) due jobs, timing \(scrapes) scrapes")
        try fillJobs(c, finished: 0, queued: backlogJobs)
        try c.execute("VACUUM ANALYZE certbus.jobs")
        (result.backlogScrapeMilliseconds, _) = try timeScrapes(c)

        progress("certificate inserts with and without the tally triggers")
        try measureInserts(c, into: &result)
        result.loadAverage = BenchClock.loadAverage()
        return result
    }

    private func timeScrapes(_ c: Connection) throws -> (Timings, Int) {
        _ = try DatabaseMetrics.read(on: c)  // warm: plan and cache
        var samples: [Double] = []
        var series = 0
        for _ in 0..<scrapes {
            samples.append(1000 * (try BenchClock.time {
                series = try DatabaseMetrics.read(on: c).families.reduce(0) { $0 + $1.samples.count }
            }))
        }
        return (Timings(samples), series)
    }

    /// The plan of the function's query as it runs inside the function (with the function's own
    /// settings), reported by auto_explain.
    private func explain(_ c: Connection) throws -> String {
        let notices = BenchLocked<[String]>([])
        try c.execute("LOAD 'auto_explain'")
        for setting in ["log_min_duration = 0", "log_nested_statements = on", "log_analyze = on", "log_buffers = on",
                        "log_timing = on", "log_level = notice"] {
            try c.execute("SET auto_explain.\(setting)")
        }
        c.onNotice = { notice in notices.update { $0.append(notice) } }
        defer {
            c.onNotice = nil
            _ = try? c.execute("SET auto_explain.log_min_duration = -1")
        }
        _ = try DatabaseMetrics.read(on: c)
        return notices.value.first { $0.contains("certificate_tallies") } ?? "(no plan reported)"
    }

    private func fillCertificates(_ c: Connection) throws {
        try c.execute("INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('bench-ca', 'BUILT_IN')")
        try c.execute(
            """
            INSERT INTO certbus.ra_profiles (name, ca_id)
            SELECT 'bench-' || i, ca.id FROM generate_series(1, 10) i, (SELECT id FROM certbus.certificate_authorities) ca
            """)
        // Expiries spread from 60 days ago to 90 days ahead (90-day certificates); 5 % revoked; a third
        // of the active ones renewed (renew_at cleared, as renewal leaves a predecessor).
        try c.execute(
            """
            INSERT INTO certbus.certificates (ca_id, profile_id, serial_number, fingerprint_sha256, common_name, subject, issuer,
                                              key_algorithm, not_before, not_after, certificate_pem, status, revoked_at, renew_at)
            SELECT ca.id, p.id, to_hex(g), md5(g::text) || md5((-g)::text), 'host' || g || '.bench.example',
                   'CN=host' || g || '.bench.example', 'CN=bench', 'EC-P256', x.not_after - interval '90 days', x.not_after,
                   repeat('x', 900), s.status, CASE WHEN s.status = 'REVOKED' THEN now() END,
                   CASE WHEN s.status IN ('VALID', 'EXPIRING') AND g % 3 <> 0 THEN x.not_after - interval '30 days' END
              FROM generate_series(1, $1) g
             CROSS JOIN (SELECT id FROM certbus.certificate_authorities) ca
             CROSS JOIN LATERAL (SELECT id FROM certbus.ra_profiles WHERE name = 'bench-' || (g % 10 + 1)) p
             CROSS JOIN LATERAL (SELECT now() - interval '60 days' + ((g::bigint * 7919) % 150000) * interval '1 day' / 1000
                                        AS not_after) x
             CROSS JOIN LATERAL (SELECT CASE WHEN g % 20 = 0 THEN 'REVOKED' WHEN x.not_after < now() THEN 'EXPIRED'
                                             WHEN x.not_after < now() + interval '30 days' THEN 'EXPIRING' ELSE 'VALID' END
                                        AS status) s
            """, [certificates])
    }

    private func fillJobs(_ c: Connection, finished: Int, queued: Int) throws {
        try c.withTransaction { tx in
            try tx.execute("SET LOCAL certbus.defer_job_notify = on")
            if finished > 0 {
                try tx.execute(
                    """
                    INSERT INTO certbus.jobs (kind, name, payload, status, max_attempts, attempt, run_at, created_at, started_at, completed_at, error)
                    SELECT CASE WHEN g % 2 = 0 THEN 'NOOP' ELSE 'ISSUE_CERT' END, 'bench',
                           CASE WHEN g % 2 = 0 THEN '{}' ELSE jsonb_build_object('request_id', gen_random_uuid()) END,
                           CASE WHEN g % 100 = 0 THEN 'FAILED' ELSE 'SUCCESS' END, 5, 1, now() - interval '2 hours',
                           now() - interval '2 hours', now() - interval '1 hour', now() - interval '59 minutes',
                           CASE WHEN g % 100 = 0 THEN 'bench failure' END
                      FROM generate_series(1, $1) g
                    """, [finished])
            }
            if queued > 0 {
                try tx.execute(
                    """
                    INSERT INTO certbus.jobs (kind, name, payload, run_at)
                    SELECT CASE WHEN g % 2 = 0 THEN 'NOOP' ELSE 'ISSUE_CERT' END, 'bench',
                           CASE WHEN g % 2 = 0 THEN '{}' ELSE jsonb_build_object('request_id', gen_random_uuid()) END,
                           now() - (g % 600) * interval '1 second'
                      FROM generate_series(1, $1) g
                    """, [queued])
            }
        }
    }

    private func fillTheRest(_ c: Connection) throws {
        try c.execute(
            """
            SELECT certbus.raise_alert(CASE WHEN g % 4 = 0 THEN 'ERROR' ELSE 'WARN' END, CASE WHEN g % 4 = 0 THEN 'ERROR' ELSE 'WARN' END,
                                       'bench ' || g, 'bench', 'JOB', g::text, 'bench:' || g)
              FROM generate_series(1, 1000) g
            """)
        try c.execute(
            """
            INSERT INTO certbus.agents (name, status, last_seen_at)
            SELECT 'bench-' || g, CASE WHEN g % 10 = 0 THEN 'OFFLINE' ELSE 'ONLINE' END, now() FROM generate_series(1, 200) g
            """)
        if auditRows > 0 {
            try c.execute(
                "SELECT count(certbus.write_audit('CONFIG_CHANGED', 'Config', 'bench-' || g, 'SYSTEM', 'bench', '{}')) FROM generate_series(1, $1) g",
                [auditRows])
        }
    }

    private func measureInserts(_ c: Connection, into result: inout Result) throws {
        func bulk(_ prefix: String) throws -> Double {
            try BenchClock.time {
                try c.execute(
                    """
                    INSERT INTO certbus.certificates (ca_id, serial_number, fingerprint_sha256, subject, issuer, key_algorithm,
                                                      not_before, not_after, certificate_pem)
                    SELECT ca.id, $1 || g, md5($1 || g) || md5($1 || g || '.'), 'CN=b', 'CN=b', 'EC-P256', now(),
                           now() + interval '90 days' + g * interval '1 second', 'PEM'
                      FROM generate_series(1, 50000) g, (SELECT id FROM certbus.certificate_authorities) ca
                    """, [prefix])
            }
        }
        func singles(_ prefix: String) throws -> Double {
            1000 * (try BenchClock.time {
                for g in 0..<500 {
                    try c.execute(
                        """
                        INSERT INTO certbus.certificates (ca_id, serial_number, fingerprint_sha256, subject, issuer, key_algorithm,
                                                          not_before, not_after, certificate_pem)
                        SELECT id, $1, md5($1) || md5($1 || '.'), 'CN=s', 'CN=s', 'EC-P256', now(), now() + interval '90 days', 'PEM'
                          FROM certbus.certificate_authorities
                        """, ["\(prefix)\(g)"])
                }
            }) / 500
        }
        let triggers = ["certificates_tally_insert", "certificates_tally_update", "certificates_tally_delete"]
        // Alternate, so that load from elsewhere on the machine hits both variants alike.
        var with: [Double] = [], without: [Double] = [], singleWith: [Double] = [], singleWithout: [Double] = []
        for round in 0..<4 {
            with.append(try bulk("bw\(round)-"))
            singleWith.append(try singles("sw\(round)-"))
            for t in triggers { try c.execute("ALTER TABLE certbus.certificates DISABLE TRIGGER \(t)") }
            without.append(try bulk("bo\(round)-"))
            singleWithout.append(try singles("so\(round)-"))
            for t in triggers { try c.execute("ALTER TABLE certbus.certificates ENABLE TRIGGER \(t)") }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        result.bulkInsertSecondsWithTallies = median(with)
        result.bulkInsertSecondsWithoutTallies = median(without)
        result.singleInsertMillisecondsWithTallies = median(singleWith)
        result.singleInsertMillisecondsWithoutTallies = median(singleWithout)
    }
}
