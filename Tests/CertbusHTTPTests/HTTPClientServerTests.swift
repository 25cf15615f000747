import Dispatch
import CertbusTesting
import Foundation
import Testing

@testable import CertbusHTTP

@Suite struct HTTPClientServerTests {
    let client = HTTPClient(configuration: .init(connectTimeout: .seconds(5), requestTimeout: .seconds(20)))

    @Test func getRoundTripWithPathQueryAndHeaders() async throws {
        let seen = RequestBox()
        try await withServer(handler: { request in
            seen.set(request)
            return HTTPResponse(status: 200, headers: ["X-Reply": "yes", "Content-Type": "text/plain"], body: Data("hi".utf8))
        }) { server in
            let url = URL(string: "http://127.0.0.1:\(server.port)/.well-known/acme-challenge/tok?x=1")!
            let response = try await client.get(url, headers: ["X-Custom": "value"])
            #expect(response.status == 200)
            #expect(response.reason == "OK")
            #expect(response.headers["x-reply"] == "yes")
            #expect(response.headers["content-length"] == "2")
            #expect(response.headers["connection"] == "close")
            #expect(response.headers["date"] != nil)
            #expect(response.bodyText == "hi")
            let request = try #require(seen.get())
            #expect(request.method == .get)
            #expect(request.path == "/.well-known/acme-challenge/tok")
            #expect(request.query == "x=1")
            #expect(request.headers["x-custom"] == "value")
            #expect(request.headers["host"] == "127.0.0.1:\(server.port)")
            #expect(request.headers["user-agent"] == "certbus")
            #expect(request.remoteAddress.hasPrefix("127.0.0.1:"))
            #expect(request.body.isEmpty)
        }
    }

    @Test func postEchoesBodyAndStatusIsNotAnError() async throws {
        try await withServer(handler: { request in
            HTTPResponse(status: 422, headers: ["Content-Type": request.headers["content-type"] ?? "-"], body: request.body)
        }) { server in
            let body = Data(#"{"event":"certificate.issued"}"#.utf8)
            let response = try await client.post(
                server.baseURL.appendingPathComponent("hook"), body: body, headers: ["Content-Type": "application/json"])
            #expect(response.status == 422)
            #expect(!response.isSuccess)
            #expect(response.body == body)
            #expect(response.headers["content-type"] == "application/json")
        }
    }

    @Test func largeBodiesBothWays() async throws {
        let size = 3 << 20
        let payload = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) })
        try await withServer(.init(maxBodyBytes: 4 << 20), handler: { request in
            HTTPResponse(status: 200, body: request.body + request.body)
        }) { server in
            let response = try await client.post(server.baseURL, body: payload)
            #expect(response.body.count == 2 * size)
            #expect(response.body == payload + payload)
        }
    }

    @Test func syncAPIWorksFromAPlainThread() throws {
        let server = HTTPServer(handler: { _ in .text("sync") })
        try server.start()
        defer { server.stop() }
        let response = try client.sendBlocking(HTTPClientRequest(url: server.baseURL))
        #expect(response.bodyText == "sync")
        #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
    }

    @Test func headResponseHasLengthButNoBody() async throws {
        try await withServer(handler: { _ in .text("twelve bytes") }) { server in
            let response = try await client.send(HTTPClientRequest(method: .head, url: server.baseURL))
            #expect(response.status == 200)
            #expect(response.headers["content-length"] == "12")
            #expect(response.body.isEmpty)
        }
    }

    @Test func responseLargerThanTheClientLimitFails() async throws {
        let small = HTTPClient(configuration: .init(maxResponseBodyBytes: 1024))
        try await withServer(handler: { _ in HTTPResponse(status: 200, body: Data(count: 64 << 10)) }) { server in
            let kind = await httpErrorKind { try await small.get(server.baseURL) }
            #expect(kind == .responseTooLarge(limit: 1024))
        }
    }

    @Test func requestBodyOverTheServerLimitGets413WithoutCallingTheHandler() async throws {
        let called = RequestBox()
        try await withServer(.init(maxBodyBytes: 1024), handler: { request in
            called.set(request)
            return .text("should not happen")
        }) { server in
            let response = try await client.post(server.baseURL, body: Data(count: 64 << 10))
            #expect(response.status == 413)
            #expect(called.get() == nil)
        }
    }

    @Test func requestHeadOverTheServerLimitGets431() async throws {
        try await withServer(.init(maxHeadBytes: 2048), handler: { _ in .text("no") }) { server in
            let response = try await client.get(server.baseURL, headers: ["X-Big": String(repeating: "a", count: 4096)])
            #expect(response.status == 431)
        }
    }

    @Test func handlerErrorsBecome500AndDropConnectionClosesIt() async throws {
        struct Boom: Error {}
        try await withServer(handler: { request in
            switch request.path {
            case "/throw": throw Boom()
            case "/drop": throw HTTPServer.DropConnection()
            default: return HTTPResponse(status: 200, headers: ["X-Bad": "line\r\nbreak"])
            }
        }) { server in
            let thrown = try await client.get(server.baseURL.appendingPathComponent("throw"))
            #expect(thrown.status == 500)
            #expect(thrown.bodyText == "internal server error\n")
            let invalid = try await client.get(server.baseURL.appendingPathComponent("invalid-header"))
            #expect(invalid.status == 500)
            let kind = await httpErrorKind { try await client.get(server.baseURL.appendingPathComponent("drop")) }
            #expect(kind == .connectionClosed)
        }
    }

    @Test func slowServerHitsTheRequestTimeout() async throws {
        let release = DispatchSemaphore(value: 0)
        let impatient = HTTPClient(configuration: .init(requestTimeout: .milliseconds(300)))
        try await withServer(handler: { _ in
            _ = release.wait(timeout: .now() + 30)
            return .text("too late")
        }) { server in
            let kind = await httpErrorKind { try await impatient.get(server.baseURL) }
            release.signal()
            #expect(kind == .timeout(.receive))
        }
    }

    @Test func closedPortIsConnectionRefused() async throws {
        let port = try LoopbackPort.unused()
        let url = URL(string: "http://user:secret@127.0.0.1:\(port)/path?token=abc")!
        do {
            _ = try await client.get(url)
            Issue.record("expected connection refused")
        } catch {
            #expect(error.kind == .connectionRefused)
            #expect(error.url == "http://127.0.0.1:\(port)/path")
            #expect(error.description == "GET http://127.0.0.1:\(port)/path: connection refused")
            #expect(!error.description.contains("secret") && !error.description.contains("token"))
        }
    }

    @Test func invalidRequestsFailBeforeAnyIO() async {
        #expect(await httpErrorKind { try await client.get(URL(string: "ftp://127.0.0.1/")!) }
            == .invalidURL("unsupported scheme 'ftp' (expected http or https)"))
        #expect(await httpErrorKind { try await client.get(URL(string: "http://127.0.0.1:1/")!, headers: ["X": "a\nb"]) }
            == .invalidRequest("invalid characters in the value of header X"))
    }
}

/// A thread-safe slot for the last request a handler saw.
final class RequestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var request: HTTPRequest?
    func set(_ request: HTTPRequest) { lock.withLock { self.request = request } }
    func get() -> HTTPRequest? { lock.withLock { request } }
}
