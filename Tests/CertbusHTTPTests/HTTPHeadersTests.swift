import Testing

@testable import CertbusHTTP

@Suite struct HTTPHeadersTests {
    @Test func lookupIgnoresCase() {
        let headers: HTTPHeaders = ["Content-Type": "text/plain", "X-Thing": "1"]
        #expect(headers["content-type"] == "text/plain")
        #expect(headers["CONTENT-TYPE"] == "text/plain")
        #expect(headers["x-thing"] == "1")
        #expect(headers["missing"] == nil)
    }

    @Test func setReplacesAllFieldsOfThatNameKeepingPosition() {
        var headers = HTTPHeaders([("A", "1"), ("b", "2"), ("B", "3"), ("C", "4")])
        headers.set("B", "new")
        #expect(headers.fields.map(\.name) == ["A", "b", "C"])
        #expect(headers["b"] == "new")
        #expect(headers.values(for: "B") == ["new"])
    }

    @Test func addKeepsDuplicatesAndRemoveDropsThemAll() {
        var headers = HTTPHeaders()
        headers.add("Set-Cookie", "a=1")
        headers.add("set-cookie", "b=2")
        #expect(headers.values(for: "SET-COOKIE") == ["a=1", "b=2"])
        headers["Set-Cookie"] = nil
        #expect(headers.count == 0)
        #expect(!headers.contains("set-cookie"))
    }
}
