import CertbusTesting
import Foundation
import Postgres
import Testing

/// Type decoding and parameter encoding against a real server (a fresh test database each).
@Suite struct ValueCodingTests {
    @Test func decodesEveryType() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        let row = try #require(
            try c.query(
                """
                SELECT 'héllo'::text AS t, 42::int AS i, 9000000000::bigint AS b, 7::smallint AS s, true AS yes, false AS no,
                       1.5::float8 AS d, '2026-11-21 21:50:01.123456+00'::timestamptz AS ts, '2026-11-21'::date AS day,
                       '6f1c3c3e-6b8e-4d44-9a6f-0f4f3b2a1c00'::uuid AS u, '\\x00ff10'::bytea AS raw,
                       '{"a": 1, "b": [true, null]}'::jsonb AS doc, ARRAY['x', 'y z', 'q"uote', NULL] AS arr,
                       ARRAY[1, 2, 3]::bigint[] AS nums, NULL::text AS missing, ARRAY[]::text[] AS empty
                """
            ).firstRow)
        #expect(try row.decode("t", as: String.self) == "héllo")
        #expect(try row.decode("i", as: Int.self) == 42)
        #expect(try row.decode("b", as: Int64.self) == 9_000_000_000)
        #expect(try row.decode("s", as: Int16.self) == 7)
        #expect(try row.decode("yes", as: Bool.self) == true)
        #expect(try row.decode("no", as: Bool.self) == false)
        #expect(try row.decode("d", as: Double.self) == 1.5)
        let ts = try row.decode("ts", as: Date.self)
        #expect(abs(ts.timeIntervalSince1970 - 1_795_297_801.123456) < 0.000_001)
        #expect(try row.decode("day", as: Date.self).timeIntervalSince1970 == 1_795_219_200)
        #expect(try row.decode("u", as: UUID.self) == UUID(uuidString: "6f1c3c3e-6b8e-4d44-9a6f-0f4f3b2a1c00"))
        #expect(try row.decode("raw", as: Data.self) == Data([0, 255, 16]))
        struct Doc: Decodable, Equatable {
            var a: Int
            var b: [Bool?]
        }
        #expect(try row.decodeJSON("doc", as: Doc.self) == Doc(a: 1, b: [true, nil]))
        #expect(try row.decode("arr", as: [String?].self) == ["x", "y z", "q\"uote", nil])
        #expect(try row.decode("nums", as: [Int64].self) == [1, 2, 3])
        #expect(try row.decode("missing", as: String?.self) == nil)
        #expect(try row.isNull("missing"))
        #expect(try row.decode("empty", as: [String].self) == [])
    }

    @Test func nullForNonOptionalNamesTheColumn() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        let row = try #require(try c.query("SELECT NULL::int AS how_many, 'abc'::text AS label").firstRow)
        let error = try #require(throws: PostgresError.self) { try row.decode("how_many", as: Int.self) }
        #expect(error.kind == .decoding)
        #expect(error.message.contains("how_many"))
        let mismatch = try #require(throws: PostgresError.self) { try row.decode("label", as: Int.self) }
        #expect(mismatch.message.contains("label"))
        let unknown = try #require(throws: PostgresError.self) { try row.decode("nope", as: Int.self) }
        #expect(unknown.message.contains("nope"))
    }

    @Test func parametersRoundTrip() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE t (s text, b bytea, d timestamptz, u uuid, j jsonb, a text[], n bigint, f boolean)")
        let hostile = "Robert'); DROP TABLE t; -- \\ \"quoted\" ünïcode"
        let bytes = Data((0...255).map { UInt8($0) })
        let date = Date(timeIntervalSince1970: 1_795_297_801.654321)
        let uuid = UUID()
        try c.execute(
            "INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [hostile, bytes, date, uuid, PostgresJSON(text: #"{"k": "v"}"#), ["a", "b,c", "d\"e", "f\\g"], Int64.max, true])
        let row = try #require(try c.query("SELECT * FROM t").firstRow)
        #expect(try row.decode("s", as: String.self) == hostile)
        #expect(try row.decode("b", as: Data.self) == bytes)
        #expect(abs(try row.decode("d", as: Date.self).timeIntervalSince(date)) < 0.000_002)
        #expect(try row.decode("u", as: UUID.self) == uuid)
        #expect(try row.decode("a", as: [String].self) == ["a", "b,c", "d\"e", "f\\g"])
        #expect(try row.decode("n", as: Int64.self) == Int64.max)
        #expect(try c.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) == 1)
        // NULL through an Optional parameter.
        try c.execute("INSERT INTO t (s) VALUES ($1)", [String?.none])
        #expect(try c.query("SELECT count(*) AS n FROM t WHERE s IS NULL")[0].decode("n", as: Int.self) == 1)
    }

    @Test func nulByteInTextIsRefused() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        let error = try #require(throws: PostgresError.self) { try c.query("SELECT $1::text", ["a\u{0}b"]) }
        #expect(error.sqlState == "22021")
        #expect(c.isOpen)
    }

    @Test func timestampTextFormat() {
        let date = Date(timeIntervalSince1970: 0.25)
        #expect(PostgresTimestamp.format(date) == "1970-01-01T00:00:00.250000Z")
        #expect(PostgresTimestamp.parse("2000-02-29 12:00:00+02")?.timeIntervalSince1970 == 951_818_400)
        #expect(PostgresTimestamp.parse("2000-02-29 12:00:00-05:30")?.timeIntervalSince1970 == 951_845_400)
        #expect(PostgresTimestamp.parse("1969-12-31 23:59:59.5+00")?.timeIntervalSince1970 == -0.5)
        #expect(PostgresTimestamp.parse("infinity") == .distantFuture)
        #expect(PostgresTimestamp.parse("not a date") == nil)
        let back = PostgresTimestamp.parse(PostgresTimestamp.format(Date(timeIntervalSince1970: -1_000_000.000_001)))
        #expect(abs((back?.timeIntervalSince1970 ?? 0) + 1_000_000.000_001) < 0.000_002)
    }

    @Test func redactsPasswords() {
        #expect(ConnectionConfiguration.redact("postgresql://bob:s3cret@db/x") == "postgresql://bob:***@db/x")
        #expect(ConnectionConfiguration.redact("host=db password=s3cret user=bob") == "host=db password=*** user=bob")
        #expect(ConnectionConfiguration.redact("postgresql://db/x?password=s3cret&sslmode=require") == "postgresql://db/x?password=***&sslmode=require")
    }
}
