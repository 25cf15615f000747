import Foundation
import Testing

@testable import CertbusHTTP

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ConnectTimeoutTests {
    /// A loopback listener with a full accept queue drops further SYNs, so a connect to it
    /// hangs until the client's connect timeout.
    @Test func connectToASaturatedListenerTimesOut() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        #expect(listen(listener, 0) == 0)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        // Fill the accept queue (never accepted) until a connect no longer completes at once.
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        var saturated = false
        for _ in 0..<16 {
            let result = Result { () throws(TransportError) in
                try Socket.connect(host: "127.0.0.1", port: port, deadline: .after(.milliseconds(200)))
            }
            guard case .success(let fd) = result else {
                saturated = result.failureValue == .timedOut
                break
            }
            fillers.append(fd)
        }
        try #require(saturated, "could not saturate the accept queue")
        let client = HTTPClient(configuration: .init(connectTimeout: .milliseconds(200), requestTimeout: .seconds(20)))
        let kind = await httpErrorKind { try await client.get(URL(string: "http://127.0.0.1:\(port)/")!) }
        #expect(kind == .timeout(.connect))
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
