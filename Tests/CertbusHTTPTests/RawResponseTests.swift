import Foundation
import Testing

@testable import CertbusHTTP

/// The client against hand-written responses from a raw socket.
@Suite struct RawResponseTests {
    let client = HTTPClient(configuration: .init(requestTimeout: .seconds(20)))

    @Test func chunkedResponseIsDecoded() async throws {
        let server = try RawResponder(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                + "7\r\ncertbus\r\n1;ext=x\r\n \r\nb\r\nhttp client\r\n0\r\nX-Trailer: ignored\r\n\r\n")
        let response = try await client.get(server.url)
        #expect(response.status == 200)
        #expect(response.bodyText == "certbus http client")
        #expect(server.request.hasPrefix("GET /raw HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n"))
        #expect(server.request.contains("\r\nConnection: close\r\n"))
    }

    @Test func closeDelimitedHTTP10Response() async throws {
        let server = try RawResponder("HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<pre>until close</pre>")
        let response = try await client.get(server.url)
        #expect(response.reason == "ok")
        #expect(response.bodyText == "<pre>until close</pre>")
    }

    @Test func interimResponsesAreSkipped() async throws {
        let server = try RawResponder(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                + "HTTP/1.1 201 Created\r\nContent-Length: 4\r\nLocation: /order/1\r\n\r\ndone")
        let response = try await client.post(server.url, body: Data("x".utf8))
        #expect(response.status == 201)
        #expect(response.headers["location"] == "/order/1")
        #expect(response.bodyText == "done")
    }

    @Test func truncatedBodyIsConnectionClosed() async throws {
        let server = try RawResponder("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
        #expect(await httpErrorKind { try await client.get(server.url) } == .connectionClosed)
    }

    @Test func emptyReplyIsConnectionClosed() async throws {
        let server = try RawResponder("")
        #expect(await httpErrorKind { try await client.get(server.url) } == .connectionClosed)
    }

    @Test(arguments: [
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnothex\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    ])
    func malformedResponsesAreBadResponse(_ wire: String) async throws {
        let server = try RawResponder(wire)
        let kind = await httpErrorKind { try await client.get(server.url) }
        guard case .badResponse = kind else {
            Issue.record("expected badResponse, got \(String(describing: kind))")
            return
        }
    }

    @Test func oversizedResponseHeadIsRejected() async throws {
        let limited = HTTPClient(configuration: .init(maxResponseHeadBytes: 1024))
        let server = try RawResponder("HTTP/1.1 200 OK\r\nX-Big: \(String(repeating: "b", count: 4000))\r\n\r\n")
        #expect(await httpErrorKind { try await limited.get(server.url) } == .responseTooLarge(limit: 1024))
    }
}
