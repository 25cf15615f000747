import CertbusMetrics
import Testing

@Suite("--metrics-listen values")
struct ListenAddressTests {
    @Test func acceptsPortsAndHostsWithLoopbackAsTheDefault() throws {
        #expect(try MetricsListenAddress.parse("9464") == MetricsListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try MetricsListenAddress.parse(":9464") == MetricsListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try MetricsListenAddress.parse("0.0.0.0:80") == MetricsListenAddress(host: "0.0.0.0", port: 80))
        #expect(try MetricsListenAddress.parse("localhost:9464") == MetricsListenAddress(host: "localhost", port: 9464))
        #expect(try MetricsListenAddress.parse("[::1]:9464") == MetricsListenAddress(host: "::1", port: 9464))
        #expect(try MetricsListenAddress.parse("[::1]:9464").description == "[::1]:9464")
        #expect(try MetricsListenAddress.parse("9464").isLoopback)
        #expect(try !MetricsListenAddress.parse("0.0.0.0:9464").isLoopback)
    }

    @Test func refusesMalformedValuesNamingTheProblem() {
        let cases: [(String, String)] = [
            ("", "empty"), (" ", "empty"), ("abc", "'abc' is not a port number"), ("host:", "the port is missing"),
            ("0", "out of range"), ("65536", "out of range"), (":-1", "not a port number"), ("::1:9464", "needs brackets"),
            ("[::1]", "a port must follow"), ("[::1:9464", "unclosed"), ("[]:1", "not an IPv6 address"),
            ("1.2.3.4:12a", "'12a' is not a port number"), ("a b:1", "not a host name"),
        ]
        for (value, expected) in cases {
            #expect(throws: MetricsListenAddress.ParseError.self, "\(value)") { try MetricsListenAddress.parse(value) }
            do {
                _ = try MetricsListenAddress.parse(value)
            } catch {
                #expect(error.description.contains(expected), "\(value): \(error.description)")
                #expect(error.description.hasPrefix("--metrics-listen '\(value)'"))
            }
        }
    }
}
