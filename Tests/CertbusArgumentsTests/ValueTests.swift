import CertbusArguments
import Foundation
import Testing

@Suite("Durations")
struct TimeSpanTests {
    @Test(arguments: [
        ("30d", Int64(30 * 86_400)), ("12h", 43_200), ("15m", 900), ("90s", 90), ("2w", 1_209_600),
        ("1d12h", 129_600), ("1h30m", 5_400), ("0s", 0), ("30D", 2_592_000), ("1w2d3h4m5s", 788_645),
    ])
    func parses(_ text: String, _ seconds: Int64) throws {
        #expect(try TimeSpan.parse(argument: text).seconds == seconds)
    }

    @Test(arguments: ["", "30", "d", "1x", "-5m", "1.5h", "1m1h", "1h1h", "12 h", "h12", "99999999999999999999d"])
    func refuses(_ text: String) {
        #expect(throws: ArgumentValueError.self) { try TimeSpan.parse(argument: text) }
    }

    @Test func canonicalDescriptionRoundTrips() throws {
        #expect(TimeSpan(seconds: 90).description == "1m30s")
        #expect(TimeSpan.days(30).description == "30d")
        #expect(TimeSpan(seconds: 0).description == "0s")
        #expect(TimeSpan(seconds: 93_784).description == "1d2h3m4s")
        for seconds: Int64 in [0, 1, 59, 61, 3_600, 86_399, 1_209_600, 93_784] {
            let span = TimeSpan(seconds: seconds)
            #expect(try TimeSpan.parse(argument: span.description) == span)
        }
    }

    @Test func conversions() {
        #expect(TimeSpan.hours(2).timeInterval == 7_200)
        #expect(TimeSpan.minutes(1).duration == .seconds(60))
        #expect(TimeSpan(seconds: -5).seconds == 0)
        #expect(TimeSpan.hours(1) < TimeSpan.days(1))
    }
}

@Suite("ISO dates")
struct ISODateTests {
    @Test func datesAndDateTimes() throws {
        let midnight = try #require(ISODate.parse("2025-01-31"))
        #expect(midnight.timeIntervalSince1970 == 1_738_281_600)
        #expect(ISODate.parse("2025-01-31T12:00:00Z")?.timeIntervalSince1970 == 1_738_324_800)
        #expect(ISODate.parse("2025-01-31 12:00:00Z") == ISODate.parse("2025-01-31T12:00:00Z"))
        #expect(ISODate.parse("2025-01-31T14:00:00+02:00") == ISODate.parse("2025-01-31T12:00:00Z"))
        #expect(ISODate.parse("2025-01-31T07:30-0430") == ISODate.parse("2025-01-31T12:00:00Z"))
        #expect(ISODate.parse("2025-01-31T12:00:00.250Z")?.timeIntervalSince1970 == 1_738_324_800.25)
        #expect(ISODate.parse("2024-02-29") != nil)
        #expect(ISODate.format(midnight) == "2025-01-31T00:00:00Z")
    }

    @Test(arguments: [
        "", "2025", "2025-1-31", "2025-13-01", "2025-02-30", "2023-02-29", "2025-01-31T25:00:00Z", "2025-01-31T12:00:00",
        "2025-01-31T12:00:00Q", "2025-01-31T12:00:00.Z", "31/01/2025", "2025-01-31x", "2025-01-31T12:60Z",
    ])
    func refuses(_ text: String) {
        #expect(ISODate.parse(text) == nil)
        #expect(throws: ArgumentValueError.self) { try Date.parse(argument: text) }
    }
}

@Suite("Suggestions")
struct SuggestionTests {
    @Test func editDistance() {
        #expect(Suggestions.editDistance("limit", "limit") == 0)
        #expect(Suggestions.editDistance("limt", "limit") == 1)
        #expect(Suggestions.editDistance("jsno", "json") == 1)  // transposition
        #expect(Suggestions.editDistance("", "abc") == 3)
        #expect(Suggestions.editDistance("kitten", "sitting") == 3)
    }

    @Test func closest() {
        #expect(Suggestions.closest(to: "statsu", among: ["status", "limit"]) == "status")
        #expect(Suggestions.closest(to: "xyz", among: ["status", "limit"]) == nil)
        #expect(Suggestions.closest(to: "re", among: ["retry", "renew"]) == nil)  // ambiguous prefix
        #expect(Suggestions.closest(to: "ret", among: ["retry", "renew"]) == "retry")
        #expect(Suggestions.closest(to: "", among: ["a"]) == nil)
        // A unique prefix beats a closer edit: "stat" is short for "status", not a typo of "start".
        #expect(Suggestions.closest(to: "stat", among: ["start", "stop", "status"]) == "status")
    }
}

@Suite("Table formatting")
struct TableFormatterTests {
    @Test func alignsColumnsAndTrimsTrailingSpaces() {
        let table = TableFormatter([
            .init("ID", alignment: .right), .init("KIND"), .init("STATUS"),
        ])
        let text = table.render([["7", "ISSUE_CERT", "QUEUED"], ["1234", "RENEW_CERT", ""]])
        #expect(
            text == """
                  ID  KIND        STATUS
                   7  ISSUE_CERT  QUEUED
                1234  RENEW_CERT

                """)
    }

    @Test func truncatesLongCellsAndFlattensWhitespace() {
        let table = TableFormatter([.init("NAME", maxWidth: 6), .init("NOTE")])
        let text = table.render([["abcdefghij", "line one\nline\ttwo"], ["abc"]])
        #expect(
            text == """
                NAME    NOTE
                abcde…  line one line two
                abc

                """)
    }

    @Test func withoutHeaderAndEmpty() {
        var table = TableFormatter(headers: ["A", "B"])
        #expect(table.render([]) == "A  B\n")
        table.showsHeader = false
        #expect(table.render([["x", "y", "ignored"]]) == "x  y\n")
        #expect(table.render([]) == "")
    }

    @Test func countsCharactersNotBytes() {
        let text = TableFormatter(headers: ["N", "X"]).render([["é", "1"], ["ab", "2"]])
        #expect(text == "N   X\né   1\nab  2\n")
    }
}

@Suite("JSON output")
struct JSONOutputTests {
    struct Row: Encodable {
        var name: String
        var at: Date
        var url: String
    }

    @Test func prettySortedISODatesUnescapedSlashes() throws {
        let text = try JSONOutput.string(Row(name: "a", at: Date(timeIntervalSince1970: 1_738_324_800), url: "https://x/y"))
        #expect(
            text == """
                {
                  "at" : "2025-01-31T12:00:00Z",
                  "name" : "a",
                  "url" : "https://x/y"
                }

                """)
    }

    @Test func adHocValues() throws {
        let value: JSONValue = ["running": true, "pid": 42, "ratio": 0.5, "none": nil, "tags": ["a", "b"],
            "since": .date(Date(timeIntervalSince1970: 0))]
        let text = try JSONOutput.string(value)
        #expect(text.contains("\"pid\" : 42"))
        #expect(text.contains("\"none\" : null"))
        #expect(text.contains("\"since\" : \"1970-01-01T00:00:00Z\""))
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        guard case .object(let object) = decoded else {
            Issue.record("not an object")
            return
        }
        #expect(object["running"] == .bool(true))
        #expect(object["tags"] == .array(["a", "b"]))
        #expect(object["ratio"] == .double(0.5))
    }
}
