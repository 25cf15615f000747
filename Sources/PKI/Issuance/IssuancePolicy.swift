import Foundation

/// The checks run before anything is signed: BR subscriber rules, key strength, and the
/// issuing CA's own constraints.
enum IssuancePolicy {
    /// Validates the request and returns the SANs to encode (the common name added when needed).
    static func check(
        subject: DistinguishedName, subjectAlternativeNames: [SubjectAlternativeName], subjectKey: KeyAlgorithm,
        profile: IssuanceProfile, window: ValidityWindow, issuer: Certificate, operation: String
    ) throws -> [SubjectAlternativeName] {
        func violation(_ message: String) -> PKIError {
            PKIError(.policyViolation, operation: operation, message: message)
        }
        try checkKey(subjectKey, violation)
        try checkURLsAndPolicies(profile, operation)

        if let usage = profile.keyUsage {
            try checkKeyUsage(usage, subjectKey: subjectKey, profile: profile, violation)
        }

        var sans = subjectAlternativeNames
        switch profile.role {
        case .certificateAuthority(let pathLength):
            if let issuerLimit = issuer.pathLengthConstraint {
                guard issuerLimit > 0 else {
                    throw violation("\(issuer.subject) has pathLenConstraint 0 and may not issue CA certificates")
                }
                guard let pathLength, pathLength < issuerLimit else {
                    throw violation("the new CA's pathLenConstraint must be at most \(issuerLimit - 1) under \(issuer.subject)")
                }
            }
            if let pathLength, pathLength < 0 {
                throw violation("pathLenConstraint cannot be negative")
            }
            guard !subject.isEmpty else { throw violation("a CA certificate needs a subject name") }
            guard sans.isEmpty else { throw violation("certbus does not put subject alternative names in CA certificates") }

        case .endEntity:
            if profile.requiresSubjectAlternativeName, let commonName = subject.commonName {
                let fromCommonName = SubjectAlternativeName.dnsNameOrIPAddress(commonName)
                do {
                    try fromCommonName.validateForIssuance(operation: operation)
                } catch {
                    throw violation("the subject common name \"\(commonName)\" must be a DNS name or IP address, because it must also be a SAN")
                }
                if !sans.contains(fromCommonName) { sans.append(fromCommonName) }
            }
            if profile.requiresSubjectAlternativeName && sans.isEmpty {
                throw violation("a TLS server certificate needs at least one subject alternative name")
            }
            if subject.isEmpty && sans.isEmpty {
                throw violation("a certificate needs a subject name or a subject alternative name")
            }
            if profile.extendedKeyUsage.contains(.serverAuth) {
                let maximumDays = TLSValidityLimit.maximumDays(notBefore: window.notBefore)
                if profile.validity > TimeInterval(maximumDays) * 86400 {
                    throw violation("TLS server certificates issued now may be valid for at most \(maximumDays) days (CA/B Forum BR 6.3.2)")
                }
            }
        }
        if window.notAfter > issuer.notAfter {
            throw violation("the certificate would outlive its issuer (notAfter \(window.notAfter) is after the CA's \(issuer.notAfter))")
        }
        var seen = Set<SubjectAlternativeName>()
        for san in sans {
            try san.validateForIssuance(operation: operation)
            guard seen.insert(san).inserted else { throw violation("duplicate subject alternative name \(san)") }
        }
        return sans
    }

    /// The checks that apply to a self-signed root: key strength, URLs, policy OIDs, key usage.
    static func checkRoot(key: KeyAlgorithm, profile: IssuanceProfile, operation: String) throws {
        func violation(_ message: String) -> PKIError {
            PKIError(.policyViolation, operation: operation, message: message)
        }
        try checkKey(key, violation)
        try checkURLsAndPolicies(profile, operation)
        if let usage = profile.keyUsage {
            try checkKeyUsage(usage, subjectKey: key, profile: profile, violation)
        }
        if case .certificateAuthority(let pathLength?) = profile.role, pathLength < 0 {
            throw violation("pathLenConstraint cannot be negative")
        }
    }

    private static func checkKey(_ key: KeyAlgorithm, _ violation: (String) -> PKIError) throws {
        if case .rsa(let bits) = key, bits < KeyAlgorithm.minimumRSABits || bits % 8 != 0 {
            throw violation("RSA keys must have at least \(KeyAlgorithm.minimumRSABits) bits and a size divisible by 8 (this one has \(bits))")
        }
    }

    private static func checkKeyUsage(
        _ usage: KeyUsage, subjectKey: KeyAlgorithm, profile: IssuanceProfile, _ violation: (String) -> PKIError
    ) throws {
        if profile.isCertificateAuthority && !usage.contains(.keyCertSign) {
            throw violation("a CA certificate's keyUsage must include keyCertSign")
        }
        if !profile.isCertificateAuthority && !usage.isDisjoint(with: [.keyCertSign, .cRLSign]) {
            throw violation("a subscriber certificate's keyUsage must not include keyCertSign or cRLSign")
        }
        switch subjectKey {
        case .ecdsa, .ed25519:
            if !usage.isDisjoint(with: [.keyEncipherment, .dataEncipherment]) {
                throw violation("\(subjectKey) keys cannot be used for key or data encipherment")
            }
        case .rsa:
            break
        }
        if usage.isEmpty { throw violation("keyUsage cannot be empty") }
    }

    private static func checkURLsAndPolicies(_ profile: IssuanceProfile, _ operation: String) throws {
        for url in [profile.crlDistributionPointURL, profile.ocspURL, profile.caIssuersURL].compactMap({ $0 }) {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
                  ["http", "https", "ldap"].contains(scheme), parsed.host?.isEmpty == false,
                  url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f })
            else {
                throw PKIError(.invalidArgument, operation: operation, message: "\"\(url)\" is not an absolute http(s) URL")
            }
        }
        for oid in profile.certificatePolicies {
            let arcs = oid.split(separator: ".", omittingEmptySubsequences: false)
            guard arcs.count >= 2, arcs.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else {
                throw PKIError(.invalidArgument, operation: operation, message: "\"\(oid)\" is not a dotted-decimal policy OID")
            }
        }
    }
}
