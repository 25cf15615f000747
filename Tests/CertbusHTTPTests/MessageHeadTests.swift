import Testing

@testable import CertbusHTTP

@Suite struct MessageHeadTests {
    @Test func parsesStatusLines() throws {
        #expect(try MessageHead.parseStatusLine("HTTP/1.1 200 OK") == .init(version: "HTTP/1.1", status: 200, reason: "OK"))
        #expect(try MessageHead.parseStatusLine("HTTP/1.0 404 Not Found").reason == "Not Found")
        #expect(try MessageHead.parseStatusLine("HTTP/1.1 204").reason == "")
        #expect(try MessageHead.parseStatusLine("HTTP/1.1 500 ").status == 500)
    }

    @Test(arguments: ["HTTP/2 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 abc OK", "garbage", "", "HTTP/1.1 099 X"])
    func rejectsBadStatusLines(_ line: String) {
        #expect(throws: MessageError.self) { try MessageHead.parseStatusLine(line) }
    }

    @Test func parsesRequestLines() throws {
        let line = try MessageHead.parseRequestLine("GET /.well-known/acme-challenge/tok?x=1 HTTP/1.1")
        #expect(line == .init(method: .get, target: "/.well-known/acme-challenge/tok?x=1", version: "HTTP/1.1"))
        #expect(try MessageHead.parseRequestLine("OPTIONS * HTTP/1.1").target == "*")
    }

    @Test(arguments: [
        "GET / HTTP/1.1 extra", "GET  / HTTP/1.1", "GET http://x/ HTTP/1.1", "GET * HTTP/1.1", "G(T / HTTP/1.1",
        "GET / HTTP/2.0", "GET /a\u{7F}b HTTP/1.1",
    ])
    func rejectsBadRequestLines(_ line: String) {
        #expect(throws: MessageError.self) { try MessageHead.parseRequestLine(line) }
    }

    @Test func parsesFieldsTrimmingOptionalWhitespace() throws {
        let headers = try MessageHead.parseFields(["Content-Type:  text/plain \t", "X-Empty:", "X-A:b:c"])
        #expect(headers["content-type"] == "text/plain")
        #expect(headers["x-empty"] == "")
        #expect(headers["X-A"] == "b:c")
    }

    @Test func rejectsSmugglingShapedFields() {
        #expect(throws: MessageError.malformed("invalid header name 'Content-Length '")) {
            try MessageHead.parseFields(["Content-Length : 5"])
        }
        #expect(throws: MessageError.malformed("obsolete line folding in header fields")) {
            try MessageHead.parseFields(["X-A: 1", " continued"])
        }
        #expect(throws: MessageError.malformed("header line without colon")) {
            try MessageHead.parseFields(["NoColonHere"])
        }
    }

    @Test func validatesFieldsForSending() {
        #expect(MessageHead.invalidFieldReason(["X-Ok": "a\tb"]) == nil)
        #expect(MessageHead.invalidFieldReason(["X-Bad": "a\r\nInjected: 1"]) != nil)
        #expect(MessageHead.invalidFieldReason(["Bad Name": "x"]) != nil)
        #expect(MessageHead.invalidFieldReason(["": "x"]) != nil)
    }
}
