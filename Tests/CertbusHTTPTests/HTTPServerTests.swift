import Dispatch
import Foundation
import Testing

@testable import CertbusHTTP

#if canImport(Glibc)
import Glibc
#endif

/// The server against raw requests, and its lifecycle.
@Suite struct HTTPServerTests {
    private func exchange(_ server: HTTPServer, _ request: String) throws -> String {
        try rawExchange(port: server.port, Data(request.utf8))
    }

    @Test func portZeroBindsAnEphemeralPort() throws {
        let server = HTTPServer(handler: { _ in .text("x") })
        #expect(server.port == 0)
        try server.start()
        defer { server.stop() }
        #expect(server.port > 0)
        #expect(server.baseURL.absoluteString == "http://127.0.0.1:\(server.port)")
    }

    @Test func answersRawRequestsWithConnectionClose() throws {
        let server = HTTPServer(handler: { request in .text("\(request.method) \(request.target)") })
        try server.start()
        defer { server.stop() }
        let reply = try exchange(server, "GET /health?verbose HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(reply.contains("\r\nConnection: close\r\n"))
        #expect(reply.hasSuffix("\r\n\r\nGET /health?verbose"))
    }

    @Test func acceptsChunkedRequestBodiesAndExpectContinue() throws {
        let server = HTTPServer(handler: { request in HTTPResponse(status: 200, body: request.body) })
        try server.start()
        defer { server.stop() }
        let chunked = try exchange(
            server, "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        #expect(chunked.hasSuffix("\r\n\r\nabcde"))
        let continued = try exchange(
            server, "POST /hook HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")
        #expect(continued.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"))
        #expect(continued.hasSuffix("\r\n\r\nok"))
    }

    @Test(arguments: [
        ("BROKEN\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\n\r\n", "400"),  // no Host
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", "400"),
    ])
    func badRequestsGetClientErrorsAndNeverReachTheHandler(request: String, status: String) throws {
        let called = RequestBox()
        let server = HTTPServer(handler: { request in
            called.set(request)
            return .text("handled")
        })
        try server.start()
        defer { server.stop() }
        let reply = try exchange(server, request)
        #expect(reply.hasPrefix("HTTP/1.1 \(status) "))
        #expect(called.get() == nil)
    }

    @Test func slowClientGets408() throws {
        let server = HTTPServer(configuration: .init(readTimeout: .milliseconds(200)), handler: { _ in .text("x") })
        try server.start()
        defer { server.stop() }
        let reply = try exchange(server, "GET / HTTP/1.1\r\nHost: x\r\n")  // head never completes
        #expect(reply.hasPrefix("HTTP/1.1 408 "))
    }

    @Test func startTwiceAndBindingATakenPortFail() throws {
        let server = HTTPServer(handler: { _ in .text("x") })
        try server.start()
        defer { server.stop() }
        #expect(throws: HTTPServerError(address: "127.0.0.1:0", reason: "server already started or stopped")) {
            try server.start()
        }
        let clash = HTTPServer(configuration: .init(port: server.port), handler: { _ in .text("x") })
        do {
            try clash.start()
            Issue.record("second bind to port \(server.port) succeeded")
        } catch {
            #expect(error.address == "127.0.0.1:\(server.port)")
            #expect(error.reason.hasPrefix("bind: "))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func stopClosesTheListenerWakesIdleConnectionsAndIsIdempotent() throws {
        let server = HTTPServer(configuration: .init(readTimeout: .seconds(600)), handler: { _ in .text("x") })
        try server.start()
        let port = server.port
        // An idle connection that never completes its request must not keep stop() waiting
        // for the ten-minute read timeout.
        let idle = try Socket.connect(host: "127.0.0.1", port: port, deadline: .after(.seconds(5)))
        defer { Socket.closeDescriptor(idle) }
        _ = "GET / HTTP/1.1\r\n".withCString { send(idle, $0, 16, 0) }
        while server.openConnectionCount == 0 { Thread.sleep(forTimeInterval: 0.01) }
        server.stop()
        server.stop()
        #expect(throws: TransportError.refused) {
            _ = try Socket.connect(host: "127.0.0.1", port: port, deadline: .after(.seconds(5)))
        }
        #expect(throws: HTTPServerError.self) { try server.start() }
    }

    @Test func handlersAndAsyncClientRequestsRunConcurrently() async throws {
        // Requests that each wait for all others: they succeed only if every client request
        // and every handler runs at the same time (more of them than this machine has cores).
        let parties = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
        let barrier = Barrier(parties: parties)
        let client = HTTPClient(configuration: .init(requestTimeout: .seconds(20)))
        try await withServer(handler: { _ in
            barrier.arriveAndWait(timeout: 10) ? .text("together") : .text("alone", status: 500)
        }) { server in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<parties { group.addTask { try await client.get(server.baseURL).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: parties))
        }
    }
}

/// Waits until `parties` threads have arrived (or a timeout passes).
final class Barrier: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private let parties: Int

    init(parties: Int) { self.parties = parties }

    /// True when all parties arrived within `timeout` seconds.
    func arriveAndWait(timeout: TimeInterval) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let limit = Date(timeIntervalSinceNow: timeout)
        while arrived < parties {
            if !condition.wait(until: limit) { return arrived >= parties }
        }
        return true
    }
}
