import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Testing

@testable import CertbusServices

/// Where a built-in CA's certificates point (CRL distribution point, caIssuers), the `{ca}`
/// placeholder, and `ca publish` writing what those URLs serve. Each test uses a database of
/// its own (`CertFixture`).
@Suite struct CAPublicationTests {
    static let urls = CAConfiguration(crlURL: "http://pki.example.test/{ca}.crl", caIssuersURL: "http://pki.example.test/{ca}.crt")

    @Test func eachCAGetsItsOwnURLsAndTheIntermediatePointsAtTheRoot() throws {
        let fixture = try CertFixture()
        let cas = try BuiltInCAProvisioner.create(
            BuiltInCASpecification(name: "pub", organization: "Example Corp", country: "DE", configuration: Self.urls),
            keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        let (root, intermediate) = (cas[0], cas[1])
        let rootSettings = try root.configuration(as: CAConfiguration.self)
        let intermediateSettings = try intermediate.configuration(as: CAConfiguration.self)
        #expect(rootSettings.crlURL == "http://pki.example.test/pub-root.crl")
        #expect(rootSettings.caIssuersURL == "http://pki.example.test/pub-root.crt")
        #expect(intermediateSettings.crlURL == "http://pki.example.test/pub.crl")
        #expect(intermediateSettings.caIssuersURL == "http://pki.example.test/pub.crt")

        let rootCertificate = try Certificate(pem: try #require(root.certificatePEM))
        let intermediateCertificate = try Certificate(pem: try #require(intermediate.certificatePEM))
        #expect(rootCertificate.pathLengthConstraint == nil)
        #expect(rootCertificate.crlDistributionPoints.isEmpty)
        #expect(rootCertificate.subject.values(of: .country) == ["DE"])
        #expect(rootCertificate.subject.values(of: .organization) == ["Example Corp"])
        #expect(intermediateCertificate.pathLengthConstraint == 0)
        #expect(intermediateCertificate.crlDistributionPoints == ["http://pki.example.test/pub-root.crl"])
        #expect(intermediateCertificate.caIssuersURLs == ["http://pki.example.test/pub-root.crt"])
        #expect(intermediateCertificate.subject.values(of: .country) == ["DE"])

        // A leaf of the intermediate points at the intermediate's CRL and certificate.
        let connector = try BuiltInCertificateAuthority(authority: intermediate, keyEncryptionKey: fixture.kek)
        let (csr, _) = try CertFixture.csr(["www.example.test"])
        let leaf = try connector.issuer.issue(for: csr, profile: connector.issuanceProfile(.tlsServer, validityDays: 30))
        #expect(leaf.crlDistributionPoints == ["http://pki.example.test/pub.crl"])
        #expect(leaf.caIssuersURLs == ["http://pki.example.test/pub.crt"])
        #expect(leaf.ocspURLs.isEmpty)
    }

    @Test func urlsWithoutThePlaceholderAndBadCountriesAreRefusedBeforeAnythingIsCreated() throws {
        let fixture = try CertFixture()
        let before = try fixture.count("certificate_authorities")
        let shared = try #require(throws: CACreationError.self) {
            _ = try BuiltInCAProvisioner.create(
                BuiltInCASpecification(name: "shared", configuration: CAConfiguration(crlURL: "http://pki.example.test/ca.crl")),
                keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        }
        #expect(shared.message.contains("--crl-url http://pki.example.test/ca.crl would be the same for shared-root and shared"))
        #expect(shared.message.contains("put {ca} in the URL"))
        let issuers = try #require(throws: CACreationError.self) {
            _ = try BuiltInCAProvisioner.create(
                BuiltInCASpecification(name: "shared", configuration: CAConfiguration(caIssuersURL: "http://pki.example.test/ca.crt")),
                keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        }
        #expect(issuers.message.contains("--ca-issuers-url"))
        let country = try #require(throws: CACreationError.self) {
            _ = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: "c", country: "Germany"),
                                                keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        }
        #expect(country.message == "country must be a two-letter upper-case ISO 3166 code such as DE or US, not \"Germany\"")
        let scheme = try #require(throws: CACreationError.self) {
            _ = try BuiltInCAProvisioner.create(
                BuiltInCASpecification(name: "s", configuration: CAConfiguration(crlURL: "ftp://pki.example.test/{ca}.crl")),
                keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        }
        #expect(scheme.message == "\"ftp://pki.example.test/s-root.crl\" is not an http(s) URL")
        #expect(try fixture.count("certificate_authorities") == before)

        // A root alone may use a URL without the placeholder: there is only one CA.
        let solo = try BuiltInCAProvisioner.create(
            BuiltInCASpecification(name: "solo", withIntermediate: false, configuration: CAConfiguration(crlURL: "http://pki.example.test/solo.crl")),
            keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        #expect(try solo[0].configuration(as: CAConfiguration.self).crlURL == "http://pki.example.test/solo.crl")
    }

    @Test func publishWritesEachBuiltInCAsCertificateAndCRLAsDER() throws {
        let fixture = try CertFixture()
        let directory = fixture.scratch.path("www")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = try CAPublication.publish(into: directory, on: fixture.connection)
        #expect(Set(files.map { URL(fileURLWithPath: $0.path).lastPathComponent })
            == ["test-ca-root.crt", "test-ca-root.crl", "test-ca.crt", "test-ca.crl"])
        let intermediate = try Certificate(der: try Data(contentsOf: URL(fileURLWithPath: directory + "/test-ca.crt")))
        #expect(intermediate.pem == fixture.intermediate.certificatePEM)
        let crl = try CertificateRevocationList(der: try Data(contentsOf: URL(fileURLWithPath: directory + "/test-ca.crl")))
        try crl.verify(issuer: intermediate)
        #expect(crl.crlNumber == 1)
        // openssl reads the files as DER, as relying parties fetching the URLs do.
        let text = try OpenSSLCommand.run(["crl", "-inform", "DER", "-in", directory + "/test-ca.crl", "-noout", "-text"])
        #expect(text.contains("X509v3 CRL Number"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/test-ca.crl.tmp-\(getpid())"))

        let missing = try #require(throws: CACreationError.self) {
            _ = try CAPublication.publish(into: fixture.scratch.path("nowhere"), on: fixture.connection)
        }
        #expect(missing.message == "\(fixture.scratch.path("nowhere")) is not a directory")
    }
}
