import Foundation
import Testing
@testable import PKI

@Suite struct IssuanceTests {
    @Test(arguments: [KeyAlgorithm.ecdsaP256, .ecdsaP384, .rsa(bits: 2048), .ed25519])
    func chainVerifiesWithOpenSSL(_ leafAlgorithm: KeyAlgorithm) throws {
        let pki = try TestHierarchy()
        let leaf = try pki.issueLeaf(algorithm: leafAlgorithm)
        let scratch = try ScratchDirectory()
        try pki.writeCAs(to: scratch)
        try scratch.write(leaf.certificate.pem, to: "leaf.pem")
        let result = try OpenSSLTool.run(
            ["verify", "-x509_strict", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "-purpose", "sslserver",
             "-verify_hostname", "www.example.test", "leaf.pem"], in: scratch.url)
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.output == "leaf.pem: OK\n")

        try leaf.certificate.verify(issuer: pki.intermediate.certificate)
        try pki.intermediate.certificate.verify(issuer: pki.root.certificate)
        try pki.root.certificate.verify(issuer: pki.root.certificate)
    }

    @Test func chainWithoutTheIntermediateFailsInOpenSSL() throws {
        let pki = try TestHierarchy()
        let leaf = try pki.issueLeaf()
        let scratch = try ScratchDirectory()
        try pki.writeCAs(to: scratch)
        try scratch.write(leaf.certificate.pem, to: "leaf.pem")
        let result = try OpenSSLTool.run(["verify", "-CAfile", "root.pem", "-purpose", "sslserver", "leaf.pem"], in: scratch.url)
        #expect(result.status != 0)
        #expect(result.combined.contains("unable to get local issuer certificate"))
    }

    @Test func clientCertificateVerifiesForSSLClientPurposeOnly() throws {
        let pki = try TestHierarchy()
        let key = try PrivateKey.generate(.ecdsaP256)
        let certificate = try pki.intermediate.issue(
            publicKey: key.publicKey, subject: DistinguishedName(commonName: "agent-17", organization: "certbus agents"),
            subjectAlternativeNames: [], profile: .tlsClient())
        #expect(certificate.extendedKeyUsage == [.clientAuth])
        #expect(certificate.subjectAlternativeNames.isEmpty)
        let scratch = try ScratchDirectory()
        try pki.writeCAs(to: scratch)
        try scratch.write(certificate.pem, to: "client.pem")
        let client = try OpenSSLTool.run(
            ["verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "-purpose", "sslclient", "client.pem"], in: scratch.url)
        #expect(client.status == 0, "\(client.combined)")
        let server = try OpenSSLTool.run(
            ["verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "-purpose", "sslserver", "client.pem"], in: scratch.url)
        #expect(server.status != 0)
    }

    @Test func leafFieldsFollowTheServerProfile() throws {
        let pki = try TestHierarchy()
        var profile = IssuanceProfile.tlsServerAndClient(validityDays: 30)
        profile.crlDistributionPointURL = "http://crl.example.test/issuing.crl"
        profile.ocspURL = "http://ocsp.example.test"
        profile.caIssuersURL = "http://ca.example.test/issuing.cer"
        let now = Date()
        let (_, leaf) = try pki.issueLeaf(profile: profile)

        #expect(leaf.version == 3)
        #expect(!leaf.isCA)
        #expect(leaf.subject == DistinguishedName(commonName: "www.example.test"))
        #expect(leaf.issuer == pki.intermediate.certificate.subject)
        #expect(leaf.subjectAlternativeNames == [.dnsName("www.example.test"), .ipAddress(IPAddress("127.0.0.1")!)])
        #expect(leaf.keyUsage == [.digitalSignature])
        #expect(leaf.extendedKeyUsage == [.serverAuth, .clientAuth])
        #expect(leaf.subjectKeyIdentifier?.count == 20)
        #expect(leaf.authorityKeyIdentifier == pki.intermediate.certificate.subjectKeyIdentifier)
        #expect(leaf.crlDistributionPoints == ["http://crl.example.test/issuing.crl"])
        #expect(leaf.ocspURLs == ["http://ocsp.example.test"])
        #expect(leaf.caIssuersURLs == ["http://ca.example.test/issuing.cer"])
        #expect(leaf.publicKeyAlgorithm == .ecdsaP256)
        #expect(leaf.signatureAlgorithm == "ecdsa-with-SHA256")
        #expect(abs(leaf.notBefore.timeIntervalSince(now)) < 2)
        #expect(leaf.notAfter.timeIntervalSince(leaf.notBefore) == 30 * 86400 - 1)
        let critical = Dictionary(uniqueKeysWithValues: leaf.extensions.map { ($0.name, $0.isCritical) })
        #expect(critical == [
            "basicConstraints": true, "keyUsage": true, "extendedKeyUsage": false, "subjectAltName": false,
            "subjectKeyIdentifier": false, "authorityKeyIdentifier": false, "crlDistributionPoints": false,
            "authorityInfoAccess": false, "certificatePolicies": false,
        ])

        let scratch = try ScratchDirectory()
        let path = try scratch.write(leaf.pem, to: "leaf.pem")
        let text = try OpenSSLTool.run(["x509", "-in", path, "-noout", "-text"]).output
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"))
        #expect(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"))
        #expect(text.contains("DNS:www.example.test, IP Address:127.0.0.1"))
        #expect(text.contains("Policy: 2.23.140.1.2.1"))
        #expect(text.contains("URI:http://crl.example.test/issuing.crl"))
        #expect(text.contains("OCSP - URI:http://ocsp.example.test"))
        #expect(text.contains("CA Issuers - URI:http://ca.example.test/issuing.cer"))
        #expect(text.contains("Version: 3 (0x2)"))
    }

    /// Issuing from a CSR copies the encoded key; issuing from a key object encodes it. Both
    /// must put the same SubjectPublicKeyInfo into the certificate.
    @Test(arguments: [KeyAlgorithm.ecdsaP256, .ecdsaP384, .rsa(bits: 2048), .ed25519])
    func csrAndKeyPathsEncodeTheSameKey(_ algorithm: KeyAlgorithm) throws {
        let pki = try TestHierarchy()
        let key = try PrivateKey.generate(algorithm)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: "k.example.test"), subjectAlternativeNames: [])
        let fromCSR = try pki.intermediate.issue(for: csr, profile: .tlsServer())
        let fromKey = try pki.intermediate.issue(
            publicKey: key.publicKey, subject: DistinguishedName(commonName: "k.example.test"),
            subjectAlternativeNames: [], profile: .tlsServer())
        for certificate in [fromCSR, fromKey] {
            let reparsed = try Certificate(der: certificate.der)
            #expect(try reparsed.publicKey.der == key.publicKey.der)
            #expect(reparsed.publicKeyAlgorithm == algorithm)
            #expect(certificate.publicKeyAlgorithm == algorithm)
            #expect(certificate.matches(key))
            #expect(reparsed.matches(key))
            #expect(reparsed.subjectKeyIdentifier == certificate.subjectKeyIdentifier)
            try reparsed.verify(issuer: pki.intermediate.certificate)
        }
        #expect(fromCSR.subjectKeyIdentifier == fromKey.subjectKeyIdentifier)
    }

    /// A CA certificate issued from a CSR can itself issue and sign CRLs.
    @Test func intermediateFromCSRWorksAsIssuer() throws {
        let pki = try TestHierarchy()
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: "CSR Sub CA"), subjectAlternativeNames: [])
        let subCA = try CertificateIssuer(
            certificate: pki.root.issue(for: csr, profile: .intermediateCA()), key: key)
        let (_, leaf) = try TestHierarchy.Leaf.issue(from: subCA)
        try leaf.verify(issuer: subCA.certificate)
        try subCA.certificate.verify(issuer: pki.root.certificate)
        let crl = try subCA.revocationList(entries: [], crlNumber: 1, nextUpdate: Date().addingTimeInterval(60))
        try crl.verify(issuer: subCA.certificate)
        let scratch = try ScratchDirectory()
        try scratch.write(pki.root.certificate.pem, to: "root.pem")
        try scratch.write(subCA.certificate.pem, to: "sub.pem")
        try scratch.write(leaf.pem, to: "leaf.pem")
        let result = try OpenSSLTool.run(
            ["verify", "-CAfile", "root.pem", "-untrusted", "sub.pem", "-purpose", "sslserver", "leaf.pem"], in: scratch.url)
        #expect(result.output == "leaf.pem: OK\n", "\(result.combined)")
    }

    /// keyEncipherment only serves TLS's RSA key transport (gone in TLS 1.3); the BR do not
    /// recommend it beside digitalSignature, so RSA leaves get digitalSignature alone.
    @Test func rsaLeafGetsDigitalSignatureOnly() throws {
        let pki = try TestHierarchy(rootAlgorithm: .rsa(bits: 2048), intermediateAlgorithm: .rsa(bits: 2048))
        let (_, leaf) = try pki.issueLeaf(algorithm: .rsa(bits: 2048))
        #expect(leaf.keyUsage == [.digitalSignature])
        #expect(leaf.signatureAlgorithm == "sha256WithRSAEncryption")
        let (_, edLeaf) = try pki.issueLeaf(algorithm: .ed25519)
        #expect(edLeaf.keyUsage == [.digitalSignature])
    }

    @Test func ed25519CertificateAuthority() throws {
        let pki = try TestHierarchy(rootAlgorithm: .ed25519, intermediateAlgorithm: .ed25519)
        let (_, leaf) = try pki.issueLeaf()
        #expect(leaf.signatureAlgorithm == "ED25519")
        try leaf.verify(issuer: pki.intermediate.certificate)
    }

    @Test func caCertificatesFollowTheCAProfiles() throws {
        let pki = try TestHierarchy()
        let root = pki.root.certificate
        #expect(root.isCA)
        #expect(root.pathLengthConstraint == nil)
        #expect(root.isSelfIssued)
        #expect(root.keyUsage == [.digitalSignature, .keyCertSign, .cRLSign])
        #expect(root.extendedKeyUsage.isEmpty)
        #expect(root.authorityKeyIdentifier == root.subjectKeyIdentifier)
        #expect(root.subjectAlternativeNames.isEmpty)
        #expect(root.signatureAlgorithm == "ecdsa-with-SHA384")
        #expect(root.extensions.first { $0.name == "basicConstraints" }?.isCritical == true)

        let intermediate = pki.intermediate.certificate
        #expect(intermediate.isCA)
        #expect(intermediate.pathLengthConstraint == 0)
        #expect(intermediate.extendedKeyUsage == [.serverAuth, .clientAuth])
        #expect(intermediate.authorityKeyIdentifier == root.subjectKeyIdentifier)
        // BR 7.1.2.10.5: a subordinate CA carries certificatePolicies; anyPolicy for one its root's owner runs.
        #expect(intermediate.extensions.first { $0.name == "certificatePolicies" }?.isCritical == false)

        let scratch = try ScratchDirectory()
        let path = try scratch.write(intermediate.pem, to: "int.pem")
        let text = try OpenSSLTool.run(["x509", "-in", path, "-noout", "-text"]).output
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"))
        #expect(text.contains("Certificate Sign, CRL Sign"))
        #expect(text.contains("Policy: X509v3 Any Policy"))
    }

    @Test func commonNameIsAddedToTheSANs() throws {
        let pki = try TestHierarchy()
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: "cn-only.example.test"), subjectAlternativeNames: [])
        let leaf = try pki.intermediate.issue(for: csr, profile: .tlsServer())
        #expect(leaf.subjectAlternativeNames == [.dnsName("cn-only.example.test")])

        let overridden = try pki.intermediate.issue(
            for: csr, profile: .tlsServer(), subject: DistinguishedName(), subjectAlternativeNames: [.dnsName("other.example.test")])
        #expect(overridden.subject.isEmpty)
        #expect(overridden.subjectAlternativeNames == [.dnsName("other.example.test")])
        // RFC 5280: with an empty subject the SAN extension is critical.
        #expect(overridden.extensions.first { $0.name == "subjectAltName" }?.isCritical == true)
    }

    @Test func serialsAreRandomPositiveAndDistinct() throws {
        let pki = try TestHierarchy()
        let key = try PrivateKey.generate(.ecdsaP256)
        let serials = try (0..<64).map { _ in
            try pki.intermediate.issue(
                publicKey: key.publicKey, subject: DistinguishedName(commonName: "s.example.test"),
                subjectAlternativeNames: [], profile: .tlsServer()).serialNumber!
        }
        #expect(Set(serials).count == 64)
        // 128 random bits: at least 64 bits of entropy, never more than 16 magnitude bytes.
        #expect(serials.allSatisfy { $0.bytes.count >= 8 && $0.bytes.count <= 16 })
    }

    @Test func concurrentIssuanceFromOneIssuer() async throws {
        let pki = try TestHierarchy()
        let issuer = pki.intermediate
        let key = try PrivateKey.generate(.ecdsaP256)
        let publicKey = key.publicKey
        let certificates = try await withThrowingTaskGroup(of: Certificate.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try issuer.issue(publicKey: publicKey, subject: DistinguishedName(commonName: "c\(index).example.test"),
                                     subjectAlternativeNames: [], profile: .tlsServer())
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(certificates.count == 40)
        for certificate in certificates {
            try certificate.verify(issuer: issuer.certificate)
        }
        #expect(Set(certificates.map(\.serialNumberHex)).count == 40)
    }

    @Test func fingerprintMatchesOpenSSL() throws {
        let pki = try TestHierarchy()
        let (_, leaf) = try pki.issueLeaf()
        let scratch = try ScratchDirectory()
        let path = try scratch.write(leaf.pem, to: "leaf.pem")
        let output = try OpenSSLTool.run(["x509", "-in", path, "-noout", "-fingerprint", "-sha256"]).output
        let expected = output.components(separatedBy: "=").last!.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(expected.replacingOccurrences(of: ":", with: "").lowercased() == leaf.sha256Fingerprint)
        let serial = try OpenSSLTool.run(["x509", "-in", path, "-noout", "-serial"]).output
        #expect(serial.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().hasSuffix(leaf.serialNumberHex))
    }
}
