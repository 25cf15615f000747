import CertbusServices
import Testing

/// Parsing discovery targets: explicit hosts, small CIDR ranges, and clear errors.
@Suite struct DiscoveryTargetsTests {
    @Test func hostsAndRangesExpandInOrderWithoutDuplicates() throws {
        let targets = try DiscoveryTargets.parse(list: "127.0.0.1:8443, www.example.test:443,192.0.2.4/30:443,127.0.0.1:8443")
        #expect(targets.map(\.description) == [
            "127.0.0.1:8443", "www.example.test:443", "192.0.2.4:443", "192.0.2.5:443", "192.0.2.6:443", "192.0.2.7:443",
        ])
        #expect(try DiscoveryTargets.parse(["10.0.0.0/24:443"]).count == 256)
        #expect(try DiscoveryTargets.parse(["10.0.0.9/32:443"]).map(\.host) == ["10.0.0.9"])
        #expect(try DiscoveryTargets.parse(["[2001:db8::/126]:443"]).map(\.description) == [
            "[2001:db8::]:443", "[2001:db8::1]:443", "[2001:db8::2]:443", "[2001:db8::3]:443",
        ])
        #expect(try DiscoveryTargets.parse(["[::1]:8443"]).map(\.host) == ["::1"])
    }

    @Test func badTargetsAreNamed() throws {
        let cases: [(String, String)] = [
            ("", "no targets given"),
            ("www.example.test", "expected host:port"),
            ("www.example.test:0", "port \"0\""),
            ("bad_host:443", "host \"bad_host\""),
            ("10.0.0.0/16:443", "range /16 has 65536 addresses; at most 256 (/24)"),
            ("[2001:db8::/64]:443", "too many addresses"),
            ("10.0.0.1/24:443", "not the first address of a /24 range"),
            ("10.0.0.0/33:443", "prefix /33"),
            ("www.example.test/28:443", "is not an IP address"),
            ("10.0.0.0/28", "port"),
            ("10.0.0.0/x:443", "expected address/prefix"),
        ]
        for (entry, text) in cases {
            let error = try #require(throws: DiscoveryTargetError.self, "\(entry)") { try DiscoveryTargets.parse(list: entry) }
            #expect(error.description.contains(text), "\(entry): \(error)")
        }
        let tooMany = (0..<5).map { "10.0.\($0).0/24:443" }
        let error = try #require(throws: DiscoveryTargetError.self) { try DiscoveryTargets.parse(tooMany) }
        #expect(error.reason.contains("more than 1024 targets"))
        #expect(error.entry == "10.0.4.0/24:443")
    }
}
