import CertbusCore
import Testing

@Suite struct DomainPatternTests {
    @Test func exactPatternMatchesOnlyThatName() throws {
        let pattern = try DomainPattern("Example.COM.")
        #expect(pattern.text == "example.com")
        #expect(pattern.matches("example.com"))
        #expect(pattern.matches("EXAMPLE.com."))
        #expect(!pattern.matches("www.example.com"))
        #expect(!pattern.matches("badexample.com"))
        #expect(!pattern.matches("*.example.com"))
    }

    @Test func wildcardPatternMatchesEverySubdomainButNotTheApex() throws {
        let pattern = try DomainPattern("*.example.com")
        #expect(pattern.matches("www.example.com"))
        #expect(pattern.matches("a.b.example.com"))
        #expect(pattern.matches("*.example.com"))
        #expect(pattern.matches("*.api.example.com"))
        #expect(!pattern.matches("example.com"))
        #expect(!pattern.matches("wwwexample.com"))
        #expect(!pattern.matches("example.com.evil.net"))
        #expect(!pattern.matches(".example.com"))
    }

    @Test func ipPatternsCompareAddressesNotText() throws {
        let v4 = try DomainPattern("192.0.2.10")
        #expect(v4.matches("192.0.2.10"))
        #expect(!v4.matches("192.0.2.11"))
        let v6 = try DomainPattern("2001:db8::1")
        #expect(v6.matches("2001:DB8:0:0:0:0:0:1"))
        #expect(!v6.matches("2001:db8::2"))
        let wildcard = try DomainPattern("*.example.com")
        #expect(!wildcard.matches("10.0.0.1"))
    }

    @Test(arguments: ["", "*", "*.", "a..b", "ex*ample.com", "www.*.example.com", "-bad.com", "bad-.com",
                      "under_score.com", "sp ace.com", String(repeating: "a", count: 64) + ".com"])
    func malformedPatternsAreRefusedWithAReason(_ text: String) {
        #expect(throws: DomainPatternError.self) { try DomainPattern(text) }
    }

    @Test func policyListsEveryNameOutsideThePatternsOnce() throws {
        let patterns = try DomainPolicy.parse(["example.com", "*.example.com", "*.test"])
        #expect(DomainPolicy.namesOutside(patterns, names: ["example.com", "www.example.com", "demo.test"]).isEmpty)
        #expect(DomainPolicy.namesOutside(patterns, names: ["www.example.org", "a.example.com", "WWW.example.org", "test"])
            == ["www.example.org", "test"])
        #expect(DomainPolicy.namesOutside([], names: ["anything.at.all"]).isEmpty)
    }

    @Test func errorNamesThePatternAndTheProblem() {
        do {
            _ = try DomainPattern("www.*.example.com")
            Issue.record("accepted a wildcard in the middle")
        } catch let error as DomainPatternError {
            #expect(error.description.contains("www.*.example.com"))
            #expect(error.description.contains("first label"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
