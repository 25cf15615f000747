import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus bench incident`, first part: the blast-radius questions over `certificates` synthetic
/// certificates (1,000,000 by default), each asked the way `certbus cert list` asks it (its first
/// page of 100, and its count) and the way a DBA asks it (the psql functions), timed on the server
/// with EXPLAIN (ANALYZE, TIMING OFF) and from the client (median of 5 after a warm-up).
///
/// The data: 2 roots; root A has 4 intermediates, one of which signed 2 sub-intermediates; root B
/// has 4 intermediates. Sub-intermediate `bench-sub-1` issued 1 % of the certificates, root A's
/// subtree about half. 100 profiles (1 % each), 1,000 DNS zones (0.1 % each, names
/// `host<n>.zone<z>.bench.example`, every 7th also `www.zone<z>...`), every 20,000th certificate
/// sharing one key, one SENSOR endpoint per 100 certificates. Rows are synthetic (no PEM): the
/// public key hash is given, which is what the key trigger keeps when the PEM cannot be parsed.
public struct BlastRadiusBenchmark: Sendable {
    /// Certificates to create.
    public var certificates: Int

    public init(certificates: Int = 1_000_000) {
        self.certificates = certificates
    }

    /// One question's timings.
    public struct Query: Sendable {
        /// What was asked, e.g. "cert list --issued-by bench-sub-1".
        public var question: String
        /// Certificates it matches.
        public var matches: Int
        /// Server execution time of the first page (LIMIT 100), ms (EXPLAIN ANALYZE).
        public var pageServerMs: Double
        /// Client wall time of the first page, ms (median).
        public var pageClientMs: Double
        /// Server execution time of the count, ms.
        public var countServerMs: Double
        /// Client wall time of the count, ms (median).
        public var countClientMs: Double
        /// The page's plan (EXPLAIN ANALYZE, BUFFERS).
        public var plan: String
    }

    /// The results.
    public struct Result: Sendable {
        public var certificates: Int
        public var loadSeconds: Double
        public var queries: [Query]
        public var loadAverage: Double?
    }

    /// Creates the data in a scratch database next to `connectionString`, asks every question, drops the database.
    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> Result {
        guard certificates >= 20_000 else { throw BenchmarkError("--certificates must be at least 20000 (one shared key per 20,000)") }
        let scratch = try ScratchDatabase(near: connectionString, purpose: "blast")
        defer { scratch.drop() }
        let c = try scratch.migratedConnection(progress: progress)
        defer { c.close() }
        let loadSeconds = try BenchClock.time { try load(on: c, progress: progress) }
        progress(String(format: "loaded %d certificates in %.0f s", certificates, loadSeconds))

        let sharedKeyHolder: UUID = try c.query(
            "SELECT id FROM certbus.certificates WHERE serial_number = $1", [String(20_000, radix: 16)])[0].decode("id")
        let endpointCertificate = "ep-\(certificates / 200)"
        let questions: [(String, CertificateSelector)] = [
            ("--sharing-key-of <id> (every 20,000th certificate has the key)", CertificateSelector(sharingKeyOf: sharedKeyHolder.uuidString)),
            ("--issued-by bench-sub-1 (a sub-intermediate, 1 %)", CertificateSelector(issuedBy: "bench-sub-1")),
            ("--issued-by bench-root-a (half of all, through 2 levels)", CertificateSelector(issuedBy: "bench-root-a")),
            ("--san-matches '*.zone17.bench.example' (0.1 %)", CertificateSelector(sanPattern: try CertificateNamePattern("*.zone17.bench.example"))),
            ("--san-matches 'www.zone17.*' (a prefix)", CertificateSelector(sanPattern: try CertificateNamePattern("www.zone17.*"))),
            ("--san-matches 'host4242.*' (one certificate)", CertificateSelector(sanPattern: try CertificateNamePattern("host4242.*"))),
            ("--profile bench-profile-7 (1 %)", CertificateSelector(profile: "bench-profile-7")),
            ("--endpoint \(endpointCertificate)", CertificateSelector(endpoint: endpointCertificate)),
            ("--issued-by bench-sub-1 --san-matches '*.zone1*'", CertificateSelector(issuedBy: "bench-sub-1", sanPattern: try CertificateNamePattern("*.zone1*"))),
        ]
        var queries: [Query] = []
        for (question, selector) in questions {
            progress("asking cert list \(question)")
            queries.append(try ask(question: "cert list " + question, selector: selector, on: c))
        }
        for (question, sql, parameter) in [
            ("psql certbus.certificates_sharing_key(id)", "SELECT id FROM certbus.certificates_sharing_key($1::uuid)", sharedKeyHolder.uuidString),
            ("psql certbus.certificates_issued_by('bench-sub-1')", "SELECT id FROM certbus.certificates_issued_by($1)", "bench-sub-1"),
            ("psql certbus.certificates_matching_name('*.zone17.bench.example')", "SELECT id FROM certbus.certificates_matching_name($1)", "*.zone17.bench.example"),
            ("psql certbus.certificates_on_endpoint('\(endpointCertificate)')", "SELECT id FROM certbus.certificates_on_endpoint($1)", endpointCertificate),
        ] {
            progress("asking \(question)")
            queries.append(try askSQL(question: question, sql: sql, parameter: parameter, on: c))
        }
        return Result(certificates: certificates, loadSeconds: loadSeconds, queries: queries, loadAverage: BenchClock.loadAverage())
    }

    /// The CA tree, profiles, certificates and endpoints. Secondary indexes of the certificates are
    /// dropped during the load and rebuilt from their own definitions after it.
    func load(on c: Connection, progress: (String) -> Void) throws {
        try c.execute(
            """
            INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('bench-root-a', 'BUILT_IN'), ('bench-root-b', 'BUILT_IN')
            """)
        try c.execute(
            """
            INSERT INTO certbus.certificate_authorities (name, kind, parent_id)
            SELECT 'bench-' || r.tag || '-int-' || n, 'BUILT_IN', r.id
              FROM (SELECT id, CASE name WHEN 'bench-root-a' THEN 'a' ELSE 'b' END AS tag FROM certbus.certificate_authorities) r,
                   generate_series(1, 4) n
            """)
        try c.execute(
            """
            INSERT INTO certbus.certificate_authorities (name, kind, parent_id)
            SELECT 'bench-sub-' || n, 'BUILT_IN', (SELECT id FROM certbus.certificate_authorities WHERE name = 'bench-a-int-1')
              FROM generate_series(1, 2) n
            """)
        try c.execute(
            """
            INSERT INTO certbus.ra_profiles (name, ca_id)
            SELECT 'bench-profile-' || n, (SELECT id FROM certbus.certificate_authorities WHERE name = 'bench-a-int-1')
              FROM generate_series(0, 99) n
            """)
        // Issuing CA by g % 100: 0 → bench-sub-1, 1 → bench-sub-2, 2..49 → root A's intermediates, 50..99 → root B's.
        try c.execute(
            """
            CREATE TEMPORARY TABLE bench_issuers AS
            SELECT slot, (SELECT id FROM certbus.certificate_authorities WHERE name = CASE
                      WHEN slot = 0 THEN 'bench-sub-1' WHEN slot = 1 THEN 'bench-sub-2'
                      WHEN slot < 50 THEN 'bench-a-int-' || (1 + slot % 4) ELSE 'bench-b-int-' || (1 + slot % 4) END) AS ca_id
              FROM generate_series(0, 99) slot
            """)
        let indexes: [String] = try c.query(
            """
            SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'certbus' AND t.relname = 'certificates' AND NOT i.indisunique AND NOT i.indisprimary
            """).map { try $0.decode("def") }
        let names: [String] = try c.query(
            """
            SELECT ci.relname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ci ON ci.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'certbus' AND t.relname = 'certificates' AND NOT i.indisunique AND NOT i.indisprimary
            """).map { try $0.decode("relname") }
        for name in names { try c.execute("DROP INDEX certbus.\(try c.quoteIdentifier(name))") }
        let chunk = 100_000
        for start in stride(from: 1, through: certificates, by: chunk) {
            let end = min(certificates, start + chunk - 1)
            progress("inserting certificates \(start)–\(end)")
            try c.execute(
                """
                INSERT INTO certbus.certificates
                       (ca_id, profile_id, serial_number, fingerprint_sha256, public_key_sha256, common_name, subject, issuer,
                        subject_alternative_names, key_algorithm, not_before, not_after, certificate_pem, created_at)
                SELECT b.ca_id, p.id, to_hex(g), md5(g::text) || md5((-g)::text),
                       CASE WHEN g % 20000 = 0 THEN repeat('ab', 32) ELSE md5('k' || g) || md5('k' || -g) END,
                       'host' || g || '.zone' || (g % 1000) || '.bench.example', 'CN=host' || g, 'CN=bench',
                       CASE WHEN g % 7 = 0
                            THEN ARRAY['host' || g || '.zone' || (g % 1000) || '.bench.example', 'www.zone' || (g % 1000) || '.bench.example']
                            ELSE ARRAY['host' || g || '.zone' || (g % 1000) || '.bench.example'] END,
                       'EC-P256', now() - interval '30 days', now() + ((g % 365) + 1) * interval '1 day', 'PEM',
                       now() - (($3::bigint - g) * interval '1 second')
                  FROM generate_series($1::bigint, $2::bigint) g
                  JOIN bench_issuers b ON b.slot = g % 100
                  JOIN certbus.ra_profiles p ON p.name = 'bench-profile-' || ((g / 100) % 100)
                """, [start, end, certificates])
        }
        progress("one SENSOR endpoint per 100 certificates")
        try c.execute(
            """
            INSERT INTO certbus.endpoints (name, kind, host, expected_certificate_id)
            SELECT 'ep-' || (g / 100), 'SENSOR', 'ep' || (g / 100) || '.bench.example', c.id
              FROM generate_series(100, $1::bigint, 100) g JOIN certbus.certificates c ON c.serial_number = to_hex(g)
            """, [certificates])
        for (index, definition) in indexes.enumerated() {
            progress("rebuilding index \(index + 1) of \(indexes.count)")
            try c.execute(definition)
        }
        progress("VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE certbus.certificates")
        try c.execute("VACUUM ANALYZE certbus.endpoints")
        try c.execute("VACUUM ANALYZE certbus.certificate_authorities")
    }

    /// Times `cert list` with `selector`: first page and count, server and client.
    func ask(question: String, selector: CertificateSelector, on c: Connection) throws -> Query {
        let selection = try CertificateSelection.resolve(selector, on: c)
        let filter = CertificateFilter(selection: selection, limit: 100)
        let page = try CertificateStore.listQuery(filter)
        let count = try CertificateStore.countQuery(filter)
        let matches = try CertificateStore.count(filter, on: c)
        let (pageServer, plan) = try explain(page.sql, page.parameters, on: c)
        let (countServer, _) = try explain(count.sql, count.parameters, on: c)
        let pageClient = try median { _ = try CertificateStore.list(filter, on: c) }
        let countClient = try median { _ = try CertificateStore.count(filter, on: c) }
        return Query(question: question, matches: matches, pageServerMs: pageServer, pageClientMs: pageClient,
                     countServerMs: countServer, countClientMs: countClient, plan: plan)
    }

    /// Times a psql function call returning every match (no page).
    func askSQL(question: String, sql: String, parameter: String, on c: Connection) throws -> Query {
        let matches = try c.query(sql, [parameter]).count
        let (server, plan) = try explain(sql, [parameter], on: c)
        let client = try median { _ = try c.query(sql, [parameter]) }
        return Query(question: question, matches: matches, pageServerMs: server, pageClientMs: client, countServerMs: server,
                     countClientMs: client, plan: plan)
    }

    /// Server planning plus execution time (ms) and plan of `sql`, from EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) after one
    /// warm-up run (TIMING OFF: no clock reading per row, which would inflate queries touching many rows).
    func explain(_ sql: String, _ parameters: [any PostgresEncodable], on c: Connection) throws -> (Double, String) {
        _ = try c.query(sql, parameters)
        let lines = try c.query("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql, parameters).map { try $0.decode("QUERY PLAN", as: String.self) }
        let execution = lines.last { $0.hasPrefix("Execution Time:") }
            .flatMap { Double($0.dropFirst("Execution Time:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") } ?? 0
        let planning = lines.last { $0.hasPrefix("Planning Time:") }
            .flatMap { Double($0.dropFirst("Planning Time:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") } ?? 0
        return (execution + planning, lines.joined(separator: "\n"))
    }

    /// Median wall milliseconds of 5 runs of `body`, after one warm-up.
    func median(_ body: () throws -> Void) throws -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<5 { times.append(try BenchClock.time(body) * 1000) }
        return times.sorted()[2]
    }
}
