import CertbusCore
import Foundation
import PKI

/// What a deployment must look like: the certificate that should be served, the name clients
/// use, and the certificates of the CA that issued it (when known).
public struct DeploymentExpectation: Sendable {
    /// The expected leaf; nil when the endpoint has none recorded.
    public var certificate: Certificate?
    /// The name the served certificate must cover: the SNI name, or the IP address.
    public var name: String
    /// The issuing CA's certificate and the certificates above it (any order). Empty: unknown CA,
    /// the chain is not checked.
    public var caCertificates: [Certificate]

    public init(certificate: Certificate?, name: String, caCertificates: [Certificate] = []) {
        self.certificate = certificate
        self.name = name
        self.caCertificates = caCertificates
    }
}

/// One thing wrong with a deployment.
public enum DeploymentProblem: Sendable, Equatable, CustomStringConvertible {
    /// The endpoint has no expected certificate to compare with.
    case noExpectedCertificate
    /// The served leaf is another certificate.
    case fingerprintMismatch(expected: String, served: String)
    /// The served leaf has expired.
    case expired(notAfter: Date)
    /// The served leaf is not valid yet.
    case notYetValid(notBefore: Date)
    /// The served leaf's names do not cover the name clients use.
    case nameNotCovered(name: String, names: [String])
    /// No path from the served leaf through the served chain to the issuing CA.
    case chainDoesNotVerify(String)
    /// The server sent something that is not a certificate.
    case unreadableCertificate(String)

    /// One sentence for operators.
    public var description: String {
        switch self {
        case .noExpectedCertificate:
            return "the endpoint has no expected certificate to compare with"
        case .fingerprintMismatch(let expected, let served):
            return "the server presents certificate \(served.prefix(16))… instead of the expected \(expected.prefix(16))…"
        case .expired(let notAfter):
            return "the served certificate expired at \(ISO8601DateFormatter().string(from: notAfter))"
        case .notYetValid(let notBefore):
            return "the served certificate is not valid before \(ISO8601DateFormatter().string(from: notBefore))"
        case .nameNotCovered(let name, let names):
            let list = names.isEmpty ? "no subject alternative names" : names.joined(separator: ", ")
            return "the served certificate does not cover \(name) (it names \(list))"
        case .chainDoesNotVerify(let why):
            return "the served chain does not verify to the issuing CA: \(why)"
        case .unreadableCertificate(let why):
            return "the server sent a certificate that cannot be read: \(why)"
        }
    }

    /// A short machine-readable code, e.g. FINGERPRINT_MISMATCH.
    public var code: String {
        switch self {
        case .noExpectedCertificate: "NO_EXPECTED_CERTIFICATE"
        case .fingerprintMismatch: "FINGERPRINT_MISMATCH"
        case .expired: "EXPIRED"
        case .notYetValid: "NOT_YET_VALID"
        case .nameNotCovered: "NAME_NOT_COVERED"
        case .chainDoesNotVerify: "CHAIN_DOES_NOT_VERIFY"
        case .unreadableCertificate: "UNREADABLE_CERTIFICATE"
        }
    }
}

/// The result of comparing a served chain with the expectation.
public struct DeploymentVerdict: Sendable, Equatable {
    /// SHA-256 fingerprint of the served leaf.
    public var servedFingerprint: String
    /// Everything wrong, in the order checked; empty when the deployment is good.
    public var problems: [DeploymentProblem]
    /// Whether the chain was checked (false when the issuing CA is unknown).
    public var chainChecked: Bool

    /// True when nothing is wrong.
    public var passed: Bool { problems.isEmpty }
}

/// Compares what a server presents with what it should present. Pure: no I/O.
public enum DeploymentCheck {
    /// Checks the served chain (leaf first, DER) against `expectation` at `now`: same certificate
    /// (SHA-256 of the DER), valid now, names cover `expectation.name`, and — when the CA is known —
    /// a signature path from the leaf through the served certificates to the CA's root.
    public static func evaluate(servedChain: [Data], expectation: DeploymentExpectation, now: Date = Date()) -> DeploymentVerdict {
        guard let leafDER = servedChain.first else {
            return DeploymentVerdict(servedFingerprint: "", problems: [.unreadableCertificate("no certificate")], chainChecked: false)
        }
        let fingerprint = Hex.encode(SHA256.hash(leafDER))
        let leaf: Certificate
        do {
            leaf = try Certificate(der: leafDER)
        } catch {
            return DeploymentVerdict(servedFingerprint: fingerprint, problems: [.unreadableCertificate("\(error)")], chainChecked: false)
        }
        var problems: [DeploymentProblem] = []
        if let expected = expectation.certificate {
            if expected.sha256Fingerprint != fingerprint {
                problems.append(.fingerprintMismatch(expected: expected.sha256Fingerprint, served: fingerprint))
            }
        } else {
            problems.append(.noExpectedCertificate)
        }
        if now > leaf.notAfter { problems.append(.expired(notAfter: leaf.notAfter)) }
        if now < leaf.notBefore { problems.append(.notYetValid(notBefore: leaf.notBefore)) }
        if !CertificateNames.covers(leaf, name: expectation.name) {
            problems.append(.nameNotCovered(name: expectation.name, names: leaf.subjectAlternativeNames.map(\.description)))
        }
        var chainChecked = false
        if !expectation.caCertificates.isEmpty {
            chainChecked = true
            let served = servedChain.dropFirst().compactMap { try? Certificate(der: $0) }
            if let why = ChainPath.problem(leaf: leaf, served: served, known: expectation.caCertificates, now: now) {
                problems.append(.chainDoesNotVerify(why))
            }
        }
        return DeploymentVerdict(servedFingerprint: fingerprint, problems: problems, chainChecked: chainChecked)
    }
}

/// Whether a certificate's subject alternative names cover a host name or IP address (RFC 6125:
/// no common-name fallback; a wildcard stands for exactly one whole left-most label).
public enum CertificateNames {
    /// True when `certificate` is valid for `name`.
    public static func covers(_ certificate: Certificate, name: String) -> Bool {
        let sans = certificate.subjectAlternativeNames
        if let address = IPAddress(name) {
            return sans.contains { if case .ipAddress(let a) = $0 { a == address } else { false } }
        }
        let wanted = name.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        return sans.contains { san in
            guard case .dnsName(let pattern) = san else { return false }
            return matches(pattern: pattern.lowercased(), name: wanted)
        }
    }

    /// DNS name matching with a left-most `*` label.
    static func matches(pattern: String, name: String) -> Bool {
        if pattern == name { return true }
        guard pattern.hasPrefix("*.") else { return false }
        let suffix = pattern.dropFirst(1)  // ".example.com"
        guard name.hasSuffix(suffix) else { return false }
        let label = name.dropLast(suffix.count)
        return !label.isEmpty && !label.contains(".")
    }
}

/// Builds a signature path from a leaf to a trust anchor of the issuing CA.
enum ChainPath {
    /// Why no path exists from `leaf` through `served` to an anchor of `known`, or nil when one does.
    /// Anchors are the self-signed certificates of `known` (so a server must send its intermediates);
    /// when `known` has no self-signed certificate, every certificate of `known` is an anchor.
    static func problem(leaf: Certificate, served: [Certificate], known: [Certificate], now: Date) -> String? {
        let roots = known.filter { $0.isSelfIssued && (try? $0.verify(issuer: $0)) != nil }
        let anchors = roots.isEmpty ? known : roots
        var current = leaf
        var used: Set<Data> = [leaf.der]
        for _ in 0..<10 {
            if let anchor = anchors.first(where: { (try? current.verify(issuer: $0)) != nil }) {
                if now > anchor.notAfter { return "the CA certificate \(anchor.subject) expired" }
                return nil
            }
            guard let next = served.first(where: { !used.contains($0.der) && (try? current.verify(issuer: $0)) != nil }) else {
                if let missing = known.first(where: { (try? current.verify(issuer: $0)) != nil }) {
                    return "the server does not send the intermediate \(missing.subject) that signed \(current.subject)"
                }
                if current == leaf {
                    return "no served certificate or known CA certificate signed \(leaf.subject) (issuer \(leaf.issuer))"
                }
                return "the chain stops at \(current.subject): the server does not send the certificate that signed it (issuer \(current.issuer))"
            }
            if now > next.notAfter { return "the served intermediate \(next.subject) expired" }
            used.insert(next.der)
            current = next
        }
        return "the served chain is longer than 10 certificates"
    }
}
