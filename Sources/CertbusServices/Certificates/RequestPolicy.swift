import CertbusCore
import Foundation
import PKI

/// A request that passed the profile's checks: what will be sent to the CA.
public struct CheckedRequest: Sendable {
    /// The CSR, when the requester supplied one (or certbus made it from a generated key).
    public var csr: CertificateSigningRequest?
    /// The subject common name to issue with.
    public var commonName: String?
    /// The subject alternative names, in request order, as text ("www.example.com", "192.0.2.1").
    public var names: [String]
    /// The same names as SAN values.
    public var subjectAlternativeNames: [SubjectAlternativeName]
    /// The key type certbus generates, for requests without a CSR.
    public var generatedKeyType: GeneratedKeyType?

    /// The subject to issue with: only the common name (DV-style), or empty.
    public var subject: DistinguishedName { DistinguishedName(commonName: commonName) }
}

/// The RA checks of a request against its profile: CSR parse and signature (proof of
/// possession), key type and strength, names and the profile's domain patterns.
public enum RequestPolicy {
    /// The longest common name a certificate may carry (RFC 5280 ub-common-name).
    public static let maximumCommonNameLength = 64

    /// Parses a PEM CSR, refusing garbage with a clear message.
    public static func parseCSR(_ pem: String) throws -> CertificateSigningRequest {
        do {
            return try CertificateSigningRequest(pem: pem)
        } catch let error as PKIError {
            throw RequestRefusal(.malformedCSR, "the CSR cannot be read: \(error.message)\(error.openSSLReason.map { " (OpenSSL: \($0))" } ?? "")")
        }
    }

    /// Checks a CSR against `profile` and returns what to issue.
    public static func check(csr: CertificateSigningRequest, profile: RAProfile) throws -> CheckedRequest {
        guard csr.isSignatureValid else {
            throw RequestRefusal(.badSignature, "the CSR's signature does not verify under its own public key (no proof of possession of the private key)")
        }
        try checkKey(csr.publicKeyAlgorithm, profile: profile)
        var requested: [String] = []
        for san in csr.subjectAlternativeNames {
            switch san {
            case .dnsName(let name): requested.append(name)
            case .ipAddress(let address): requested.append(address.description)
            default:
                throw RequestRefusal(.invalidName, "the CSR asks for \(san), but certbus issues only DNS names and IP addresses")
            }
        }
        var checked = try checkNames(commonName: csr.commonName, names: requested, profile: profile)
        checked.csr = csr
        return checked
    }

    /// Checks a request for a server-generated key (names and key type) against `profile`.
    public static func check(commonName: String?, names: [String], keyType: String?, profile: RAProfile) throws -> CheckedRequest {
        let typeName = (keyType ?? profile.defaultKeyAlgorithm).uppercased()
        guard let type = GeneratedKeyType(rawValue: typeName) else {
            throw RequestRefusal(.invalidRequest, "unknown key type \(typeName) (use \(GeneratedKeyType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        try checkKey(type.algorithm, profile: profile)
        var checked = try checkNames(commonName: commonName, names: names, profile: profile)
        checked.generatedKeyType = type
        return checked
    }

    /// Refuses key types the profile does not list and RSA keys below its minimum (never below 2048).
    public static func checkKey(_ algorithm: KeyAlgorithm, profile: RAProfile) throws {
        if case .rsa(let bits) = algorithm {
            let minimum = max(profile.minimumRSABits, KeyAlgorithm.minimumRSABits)
            if bits < minimum {
                throw RequestRefusal(.weakKey, "the RSA key has \(bits) bits; profile \(profile.name) requires at least \(minimum)")
            }
        }
        guard profile.allowedKeyAlgorithms.contains(algorithm.profileName) else {
            throw RequestRefusal(.keyTypeNotAllowed, "\(algorithm) keys are not allowed by profile \(profile.name) (allowed: \(profile.allowedKeyAlgorithms.joined(separator: ", ")))")
        }
    }

    /// Normalises and checks the names: the common name joins the SANs (TLS server profiles
    /// require it to be one), each name must be a valid DNS name or IP address, and every name
    /// must match one of the profile's domain patterns.
    public static func checkNames(commonName: String?, names: [String], profile: RAProfile) throws -> CheckedRequest {
        let cn = commonName?.trimmingCharacters(in: .whitespaces).lowercased()
        var ordered: [String] = []
        for name in names.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !ordered.contains(name) {
            ordered.append(name)
        }
        if profile.certificateType.isTLSServer, let cn, !cn.isEmpty, !ordered.contains(cn) {
            ordered.insert(cn, at: 0)
        }
        guard !ordered.isEmpty || (!profile.certificateType.isTLSServer && cn?.isEmpty == false) else {
            throw RequestRefusal(.invalidName, "the request names nothing: give a common name or at least one subject alternative name")
        }
        var sans: [SubjectAlternativeName] = []
        for name in ordered {
            let san = SubjectAlternativeName.dnsNameOrIPAddress(name)
            do {
                try san.validateForIssuance(operation: "check request")
            } catch let error as PKIError {
                throw RequestRefusal(.invalidName, error.message)
            }
            sans.append(san)
        }
        let patterns: [DomainPattern]
        do {
            patterns = try DomainPolicy.parse(profile.allowedDomains)
        } catch {
            throw RequestRefusal(.unknownProfile, "profile \(profile.name) has an invalid domain pattern: \(error)")
        }
        let outside = DomainPolicy.namesOutside(patterns, names: ordered)
        guard outside.isEmpty else {
            throw RequestRefusal(
                .nameNotAllowed,
                "\(outside.joined(separator: ", ")) \(outside.count == 1 ? "is" : "are") outside the domains of profile \(profile.name) (allowed: \(profile.allowedDomains.joined(separator: ", ")))")
        }
        let subjectName: String?
        if let cn, !cn.isEmpty {
            guard cn.count <= maximumCommonNameLength else {
                throw RequestRefusal(
                    .invalidName,
                    "the common name \(cn) is \(cn.count) characters; a certificate's common name holds at most \(maximumCommonNameLength) (RFC 5280 ub-common-name): give a shorter one, longer names fit as subject alternative names")
            }
            subjectName = cn
        } else {
            // The first name that fits becomes the common name; every name stays a SAN.
            guard let first = ordered.first(where: { $0.count <= maximumCommonNameLength }) else {
                throw RequestRefusal(
                    .invalidName,
                    "every name is longer than \(maximumCommonNameLength) characters; one must fit in the certificate's common name (RFC 5280 ub-common-name)")
            }
            subjectName = first
        }
        return CheckedRequest(csr: nil, commonName: subjectName, names: ordered, subjectAlternativeNames: sans, generatedKeyType: nil)
    }
}
