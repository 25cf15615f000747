import CertbusCore
import Testing

@Suite struct CertificateSelectorTests {
    @Test func namePatternsAreGlobsIgnoringCaseAndTheTrailingDot() throws {
        let wildcard = try CertificateNamePattern("*.Example.COM.")
        #expect(wildcard.text == "*.example.com")
        #expect(wildcard.matches("www.example.com"))
        #expect(wildcard.matches("A.B.EXAMPLE.com."))
        #expect(wildcard.matches("*.example.com"))
        #expect(!wildcard.matches("example.com"))
        #expect(!wildcard.matches("www.example.com.evil.net"))
        #expect(!wildcard.matches("wwwexample.com"))

        let exact = try CertificateNamePattern("www.example.com")
        #expect(exact.matches("WWW.example.com"))
        #expect(!exact.matches("*.example.com"))
        #expect(!exact.matches("www.example.co"))

        let inner = try CertificateNamePattern("api-*.example.com")
        #expect(inner.matches("api-1.example.com"))
        #expect(inner.matches("api-.example.com"))
        #expect(!inner.matches("web-1.example.com"))

        let anywhere = try CertificateNamePattern("*prod*")
        #expect(anywhere.matches("db.prod.example.com"))
        #expect(anywhere.matches("production"))
        #expect(!anywhere.matches("staging.example.com"))

        let address = try CertificateNamePattern("192.0.2.*")
        #expect(address.matches("192.0.2.10"))
        #expect(!address.matches("192.0.20.1"))
        #expect(try CertificateNamePattern("_acme.example.com").matches("_ACME.example.com"))
    }

    @Test(arguments: [
        ("", "it is empty"), ("   ", "it is empty"), ("*", "matches every name"), ("*.*", "matches every name"),
        ("www example.com", "\" \" is not allowed"), ("%.example.com", "\"%\" is not allowed"), ("ex'ample.com", "\"'\" is not allowed"),
    ])
    func badPatternsAreRefusedWithTheReason(_ pattern: String, _ reason: String) {
        #expect {
            try CertificateNamePattern(pattern)
        } throws: { error in
            "\(error)".contains(reason) && "\(error)".hasPrefix("invalid name pattern")
        }
    }

    @Test func selectorTextAddsTheSameCriteriaAsTheOptions() throws {
        var selector = CertificateSelector()
        #expect(selector.isEmpty)
        try selector.add(selectorText: "issued-by=acme-corp,san-matches=*.Example.com")
        try selector.add(selectorText: "profile=web endpoint=lb-1")
        try selector.set("sharing-key-of", " 1234 ")
        #expect(selector == CertificateSelector(sharingKeyOf: "1234", issuedBy: "acme-corp", sanPattern: try CertificateNamePattern("*.example.com"),
                                                profile: "web", endpoint: "lb-1"))
        #expect(selector.description == "sharing-key-of=1234 issued-by=acme-corp san-matches=*.example.com profile=web endpoint=lb-1")
        #expect(selector.criteria.map(\.key) == CertificateSelector.keys)
    }

    @Test(arguments: [
        ("issued-by", "\"issued-by\" is not key=value"),
        ("issuer=x", "unknown selector key \"issuer\""),
        ("profile=", "profile needs a value"),
        ("profile=a,profile=b", "profile is given twice"),
        ("san-matches=a%b", "is not allowed"), ("san-matches=a b", "\"b\" is not key=value"),
        (",", "--selector is empty"),
    ])
    func badSelectorTextIsRefused(_ text: String, _ message: String) {
        var selector = CertificateSelector()
        #expect {
            try selector.add(selectorText: text)
        } throws: { error in
            (error as? CertificateSelectorError)?.message.contains(message) == true
        }
    }
}
