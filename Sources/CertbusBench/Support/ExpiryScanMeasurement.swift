import CertbusServices
import Foundation
import Postgres

/// The expiry scan over many certificates, shared by `bench events` and `bench growth`: inserts
/// `certificates` rows (lifetimes of 90 and 398 days, expiries spread evenly over the next year,
/// so about 8 % fall inside the 30-day window), then times the scan's first run, its steady state
/// (best of 3) and the expiry alerts, and reads the plan of the scan's candidate query.
struct ExpiryScanMeasurement {
    var certificates: Int
    /// Name prefix of the CA and profiles it creates (distinct per database use).
    var prefix = "bench"

    struct Result {
        var certificates: Int
        var insertSeconds: Double
        var firstScanSeconds: Double
        var firstScan: ExpiryScanSummary
        var steadyScanSeconds: Double
        var candidates: Int
        var firstAlertSeconds: Double
        var steadyAlertSeconds: Double
        /// EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) of the candidate query.
        var plan: String
    }

    func run(on c: Connection, progress: (String) -> Void) throws -> Result {
        progress("inserting \(certificates) certificates (lifetimes of 90 and 398 days, expiries spread over the next year)")
        let insertSeconds = try BenchClock.time {
            let ca = try c.query("INSERT INTO certbus.certificate_authorities (name, kind) VALUES ($1 || '-ca', 'BUILT_IN') RETURNING id",
                                 [prefix])[0].decode("id", as: UUID.self)
            try c.execute("INSERT INTO certbus.ra_profiles (name, ca_id) VALUES ($2 || '-90', $1), ($2 || '-398', $1)", [ca, prefix])
            try c.execute(
                """
                INSERT INTO certbus.certificates (ca_id, profile_id, serial_number, fingerprint_sha256, common_name, subject, issuer,
                                                  key_algorithm, not_before, not_after, certificate_pem)
                SELECT $1, CASE WHEN g % 4 = 0 THEN p90.id ELSE p398.id END, $3 || to_hex(g), md5($3 || g::text) || md5((-g)::text),
                       'host' || g || '.bench.example', 'CN=host' || g || '.bench.example', 'CN=bench', 'EC-P256',
                       x.not_after - CASE WHEN g % 4 = 0 THEN interval '90 days' ELSE interval '398 days' END, x.not_after, 'PEM'
                  FROM generate_series(1, $2) g
                 CROSS JOIN (SELECT id FROM certbus.ra_profiles WHERE name = $3 || '-90') p90
                 CROSS JOIN (SELECT id FROM certbus.ra_profiles WHERE name = $3 || '-398') p398
                 CROSS JOIN LATERAL (SELECT now() - interval '2 days'
                                            + ((g::bigint * 7919) % 365000) * interval '1 day' / 1000 AS not_after) x
                """, [ca, certificates, prefix])
        }
        progress("VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE certbus.certificates")

        progress("expiry scan, first run")
        var first = ExpiryScanSummary()
        let firstSeconds = try BenchClock.time { first = try CertificateExpiryScan().run(on: c) }
        try c.execute("VACUUM ANALYZE certbus.certificates")
        try c.execute("VACUUM ANALYZE certbus.certificate_expiry_marks")
        progress("expiry scan, steady state")
        var steady: [Double] = []
        var candidates = 0
        for _ in 0..<3 {
            steady.append(try BenchClock.time { candidates = try CertificateExpiryScan().run(on: c).withoutReplacement })
        }
        progress("expiry alerts, first run and steady state")
        let firstAlerts = try BenchClock.time { _ = try ExpiryAlerts().run(on: c) }
        try c.execute("VACUUM ANALYZE certbus.alerts")
        var steadyAlerts: [Double] = []
        for _ in 0..<3 { steadyAlerts.append(try BenchClock.time { _ = try ExpiryAlerts().run(on: c) }) }
        let plan = try c.query(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM (\(CertificateExpiryScan.candidatesSQL)) candidates"
        ).map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
        return Result(certificates: certificates, insertSeconds: insertSeconds, firstScanSeconds: firstSeconds, firstScan: first,
                      steadyScanSeconds: steady.min() ?? 0, candidates: candidates, firstAlertSeconds: firstAlerts,
                      steadyAlertSeconds: steadyAlerts.min() ?? 0, plan: plan)
    }
}
