import Foundation
import Testing

@testable import CertbusHTTP

@Suite struct RequestTargetTests {
    private func target(_ text: String) throws -> RequestTarget {
        try RequestTarget(url: URL(string: text)!)
    }

    private func failure(_ text: String) -> HTTPError.Kind? {
        do {
            _ = try target(text)
            return nil
        } catch let error as RequestError {
            return error.kind
        } catch {
            return nil
        }
    }

    @Test func defaultPortsAndRootPath() throws {
        let plain = try target("http://example.test")
        #expect(!plain.isTLS && plain.host == "example.test" && plain.port == 80)
        #expect(plain.requestTarget == "/" && plain.hostHeader == "example.test")
        let tls = try target("HTTPS://example.test/dir")
        #expect(tls.isTLS && tls.port == 443 && tls.requestTarget == "/dir" && tls.hostHeader == "example.test")
    }

    @Test func explicitPortQueryAndPercentEncodingAreKept() throws {
        let t = try target("https://ca.test:14000/acme/new%20order?a=1&b=%2F")
        #expect(t.port == 14000)
        #expect(t.requestTarget == "/acme/new%20order?a=1&b=%2F")
        #expect(t.hostHeader == "ca.test:14000")
        #expect(!t.hostIsIPAddress)
    }

    @Test func ipv6LiteralIsUnbracketedForConnectAndBracketedForHost() throws {
        let t = try target("http://[::1]:8080/x")
        #expect(t.host == "::1")
        #expect(t.hostHeader == "[::1]:8080")
        #expect(t.hostIsIPAddress)
        #expect(try target("https://127.0.0.1/").hostIsIPAddress)
    }

    @Test func rejectsNonHTTPURLs() {
        #expect(failure("ftp://example.test/") == .invalidURL("unsupported scheme 'ftp' (expected http or https)"))
        #expect(failure("/relative/path") == .invalidURL("missing scheme (expected http or https)"))
        #expect(failure("http:///nohost") == .invalidURL("missing host"))
        #expect(failure("http://example.test:0/") == .invalidURL("port 0 out of range"))
        #expect(failure("http://example.test:70000/") == .invalidURL("port 70000 out of range"))
    }

    @Test func redactionDropsCredentialsQueryAndFragment() {
        let url = URL(string: "https://user:s3cret@hooks.test:8443/path/x?token=abc#frag")!
        let redacted = RequestTarget.redacted(url)
        #expect(redacted == "https://hooks.test:8443/path/x")
        #expect(!redacted.contains("s3cret") && !redacted.contains("token"))
    }
}
