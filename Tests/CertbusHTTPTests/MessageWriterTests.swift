import Foundation
import Testing

@testable import CertbusHTTP

@Suite struct MessageWriterTests {
    private let target = try! RequestTarget(url: URL(string: "http://127.0.0.1:8080/hook?x=1")!)

    private func requestHead(_ method: HTTPMethod, _ headers: HTTPHeaders, body: Int = 0) throws -> String {
        String(
            decoding: try MessageWriter.requestHead(
                method: method, target: target, headers: headers, bodyCount: body, userAgent: "certbus-test"),
            as: UTF8.self)
    }

    @Test func requestHeadHasHostFramingAndCallerHeaders() throws {
        let head = try requestHead(.post, ["Content-Type": "application/json", "Content-Length": "999", "Connection": "keep-alive"], body: 12)
        #expect(
            head
                == "POST /hook?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
                + "User-Agent: certbus-test\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")
    }

    @Test func getWithoutBodyHasNoContentLengthAndCallerHostWins() throws {
        let head = try requestHead(.get, ["host": "example.test", "User-Agent": "mine"])
        #expect(head == "GET /hook?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: mine\r\nConnection: close\r\n\r\n")
    }

    @Test func postWithEmptyBodySendsContentLengthZero() throws {
        #expect(try requestHead(.post, [:]).contains("\r\nContent-Length: 0\r\n"))
    }

    @Test func headerInjectionAndBadMethodsAreRejected() {
        #expect(throws: RequestError(.invalidRequest("invalid characters in the value of header X-A"))) {
            try requestHead(.get, ["X-A": "1\r\nX-Injected: 2"])
        }
        #expect(throws: RequestError(.invalidRequest("invalid method 'GET /'"))) {
            try requestHead(HTTPMethod(rawValue: "GET /"), [:])
        }
    }

    @Test func responseHeadSetsFramingAndDate() throws {
        let date = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        let response = HTTPResponse(status: 201, headers: ["X-A": "1", "Content-Length": "1"], body: Data("abc".utf8))
        let (head, sendBody) = try #require(MessageWriter.responseHead(response, method: .post, now: date))
        #expect(sendBody)
        #expect(
            String(decoding: head, as: UTF8.self)
                == "HTTP/1.1 201 Created\r\nX-A: 1\r\nContent-Length: 3\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                + "Connection: close\r\n\r\n")
    }

    @Test func bodylessResponses() throws {
        let noContent = try #require(MessageWriter.responseHead(HTTPResponse(status: 204), method: .get))
        #expect(!noContent.sendBody)
        #expect(!String(decoding: noContent.0, as: UTF8.self).contains("Content-Length"))
        let head = try #require(MessageWriter.responseHead(.text("body"), method: .head))
        #expect(!head.sendBody)
        #expect(String(decoding: head.0, as: UTF8.self).contains("Content-Length: 4\r\n"))
    }

    @Test func invalidHandlerResponsesAreRefused() {
        #expect(MessageWriter.responseHead(HTTPResponse(status: 200, headers: ["X": "a\nb"]), method: .get) == nil)
        #expect(MessageWriter.responseHead(HTTPResponse(status: 42), method: .get) == nil)
        #expect(MessageWriter.responseHead(HTTPResponse(status: 200, reason: "OK\r\nX: 1"), method: .get) == nil)
    }

    @Test func httpDateFormatting() {
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 1_709_251_199)) == "Thu, 29 Feb 2024 23:59:59 GMT")
    }
}
