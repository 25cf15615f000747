import Foundation
@testable import PKI

/// A root CA, an intermediate under it, and helpers to issue leaves — built with our own code.
struct TestHierarchy {
    let rootKey: PrivateKey
    let root: CertificateIssuer
    let intermediateKey: PrivateKey
    let intermediate: CertificateIssuer

    init(rootAlgorithm: KeyAlgorithm = .ecdsaP384, intermediateAlgorithm: KeyAlgorithm = .ecdsaP256,
         intermediateProfile: IssuanceProfile = .intermediateCA()) throws {
        rootKey = try PrivateKey.generate(rootAlgorithm)
        root = try CertificateIssuer.selfSignedRoot(
            key: rootKey, subject: DistinguishedName(commonName: "certbus Test Root", organization: "certbus tests", country: "DE"))
        intermediateKey = try PrivateKey.generate(intermediateAlgorithm)
        let intermediateCertificate = try root.issue(
            publicKey: intermediateKey.publicKey,
            subject: DistinguishedName(commonName: "certbus Test Issuing CA", organization: "certbus tests", country: "DE"),
            subjectAlternativeNames: [], profile: intermediateProfile)
        intermediate = try CertificateIssuer(certificate: intermediateCertificate, key: intermediateKey)
    }

    /// A leaf for `dnsName` (and 127.0.0.1) with a fresh key, issued from a CSR by the intermediate.
    func issueLeaf(dnsName: String = "www.example.test", algorithm: KeyAlgorithm = .ecdsaP256,
                   profile: IssuanceProfile = .tlsServer()) throws -> (key: PrivateKey, certificate: Certificate) {
        try Leaf.issue(from: intermediate, dnsName: dnsName, algorithm: algorithm, profile: profile)
    }

    enum Leaf {
        /// A leaf for `dnsName` (and 127.0.0.1) with a fresh key, issued from a CSR by `issuer`.
        static func issue(from issuer: CertificateIssuer, dnsName: String = "www.example.test", algorithm: KeyAlgorithm = .ecdsaP256,
                          profile: IssuanceProfile = .tlsServer()) throws -> (key: PrivateKey, certificate: Certificate) {
            let key = try PrivateKey.generate(algorithm)
            let csr = try CertificateSigningRequest.create(
                key: key, subject: DistinguishedName(commonName: dnsName),
                subjectAlternativeNames: [.dnsName(dnsName), .ipAddress(IPAddress("127.0.0.1")!)])
            return (key, try issuer.issue(for: csr, profile: profile))
        }
    }

    /// Writes root.pem, intermediate.pem into `scratch`.
    func writeCAs(to scratch: ScratchDirectory) throws {
        try scratch.write(root.certificate.pem, to: "root.pem")
        try scratch.write(intermediate.certificate.pem, to: "intermediate.pem")
    }
}
