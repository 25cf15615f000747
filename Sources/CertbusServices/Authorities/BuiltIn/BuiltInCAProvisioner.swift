import CertbusCore
import Foundation
import PKI
import Postgres

/// What to create for a built-in CA.
public struct BuiltInCASpecification: Sendable {
    /// The CA's name (the intermediate's when `withIntermediate`; the root is then `<name>-root`).
    public var name: String
    /// The subject common name (root: "<commonName> Root", intermediate: "<commonName>").
    public var commonName: String
    /// Optional organization in both subjects (the BR require one in publicly-trusted CA certificates).
    public var organization: String?
    /// Optional two-letter ISO 3166 country code in both subjects (the BR require one too).
    public var country: String?
    /// Key type of the CA keys.
    public var keyAlgorithm: KeyAlgorithm
    /// Root lifetime in days.
    public var rootValidityDays: Int
    /// Intermediate lifetime in days (must end before the root).
    public var intermediateValidityDays: Int
    /// Whether to create a root and an intermediate (profiles then use the intermediate).
    public var withIntermediate: Bool
    /// CRL/AIA URLs and CRL timing for both CAs. In the URLs, ``namePlaceholder`` stands for each
    /// CA's own name (see ``configuration(forCA:)``).
    public var configuration: CAConfiguration

    /// The text in CRL, caIssuers and OCSP URLs that is replaced by the name of the CA the URL
    /// belongs to: `http://pki.example.com/{ca}.crl` is `.../corp-root.crl` for the root and
    /// `.../corp.crl` for the intermediate.
    public static let namePlaceholder = "{ca}"

    /// A specification with certbus's defaults: ECDSA P-256, root 10 years, intermediate 5 years.
    public init(
        name: String, commonName: String? = nil, organization: String? = nil, country: String? = nil,
        keyAlgorithm: KeyAlgorithm = .ecdsaP256, rootValidityDays: Int = 3650, intermediateValidityDays: Int = 1825,
        withIntermediate: Bool = true, configuration: CAConfiguration = CAConfiguration()
    ) {
        self.name = name
        self.commonName = commonName ?? name
        self.organization = organization
        self.country = country
        self.keyAlgorithm = keyAlgorithm
        self.rootValidityDays = rootValidityDays
        self.intermediateValidityDays = intermediateValidityDays
        self.withIntermediate = withIntermediate
        self.configuration = configuration
    }

    /// The name of the root CA: `<name>-root` with an intermediate, else `name`.
    public var rootName: String { withIntermediate ? name + "-root" : name }

    /// The settings stored for the CA named `caName` (the root's or the intermediate's): the
    /// configuration with ``namePlaceholder`` in its URLs replaced by `caName`.
    public func configuration(forCA caName: String) -> CAConfiguration {
        var settings = configuration
        func resolve(_ url: String?) -> String? {
            url?.replacingOccurrences(of: Self.namePlaceholder, with: caName)
        }
        settings.crlURL = resolve(configuration.crlURL)
        settings.ocspURL = resolve(configuration.ocspURL)
        settings.caIssuersURL = resolve(configuration.caIssuersURL)
        return settings
    }
}

/// A request to create a CA that cannot be carried out; nothing was created.
public struct CACreationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}

/// Creates built-in CAs: keys, self-signed root, optional intermediate, sealed keys, first CRLs.
public enum BuiltInCAProvisioner {
    /// Creates the CA (root, or root + intermediate) in one transaction on `connection`, with
    /// CA_CREATED audit rows, and returns the rows (root first). Fails without changing anything
    /// when a name is taken or invalid.
    public static func create(
        _ spec: BuiltInCASpecification, keyEncryptionKey: KeyEncryptionKey, actor: Actor, on connection: Connection
    ) throws -> [CertificateAuthorityRecord] {
        let rootName = spec.rootName
        let namePattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
        guard spec.name.range(of: namePattern, options: .regularExpression) != nil else {
            throw CACreationError(message: "invalid CA name \"\(spec.name)\": use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        guard rootName.range(of: namePattern, options: .regularExpression) != nil else {
            throw CACreationError(message: "CA name \"\(spec.name)\" is too long: its root CA would be \"\(rootName)\", and names have at most 63 characters")
        }
        guard spec.rootValidityDays >= 1, spec.intermediateValidityDays >= 1,
              !spec.withIntermediate || spec.intermediateValidityDays < spec.rootValidityDays else {
            throw CACreationError(message: "validity must be at least one day, and the intermediate must expire before the root")
        }
        if case .rsa(let bits) = spec.keyAlgorithm, bits < 2048 {
            throw CACreationError(message: "RSA CA keys must have at least 2048 bits")
        }
        if let country = spec.country,
           !(country.utf8.count == 2 && country.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })) {
            throw CACreationError(message: "country must be a two-letter upper-case ISO 3166 code such as DE or US, not \"\(country)\"")
        }
        for (option, template) in [("--crl-url", spec.configuration.crlURL), ("--ca-issuers-url", spec.configuration.caIssuersURL)] {
            guard let template, spec.withIntermediate, !template.contains(BuiltInCASpecification.namePlaceholder) else { continue }
            throw CACreationError(message: "\(option) \(template) would be the same for \(rootName) and \(spec.name), but each CA has its own \(option == "--crl-url" ? "CRL" : "certificate"): put \(BuiltInCASpecification.namePlaceholder) in the URL where the CA's name goes, e.g. http://pki.example.com/\(BuiltInCASpecification.namePlaceholder)\(option == "--crl-url" ? ".crl" : ".crt")")
        }
        for caName in spec.withIntermediate ? [rootName, spec.name] : [rootName] {
            let settings = spec.configuration(forCA: caName)
            for config in [settings.crlURL, settings.ocspURL, settings.caIssuersURL].compactMap({ $0 }) {
                guard let url = URL(string: config), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil,
                      config.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                    throw CACreationError(message: "\"\(config)\" is not an http(s) URL")
                }
            }
        }

        let rootKey = try PrivateKey.generate(spec.keyAlgorithm)
        let rootSubject = DistinguishedName(commonName: spec.commonName + (spec.withIntermediate ? " Root" : ""),
                                            organization: spec.organization, country: spec.country)
        // No pathLenConstraint in the root (BR 7.1.2.1.4: not recommended); the intermediate has 0.
        let root = try CertificateIssuer.selfSignedRoot(
            key: rootKey, subject: rootSubject, profile: .rootCA(validityDays: spec.rootValidityDays))

        return try connection.withTransaction { c in
            for name in [rootName, spec.name] where try !c.query(
                "SELECT 1 FROM certbus.certificate_authorities WHERE name = $1", [name]).isEmpty {
                throw CACreationError(message: "a CA named \"\(name)\" already exists")
            }
            let rootId = UUID()
            try insert(id: rootId, name: rootName, parent: nil, certificate: root.certificate, chain: [],
                       key: rootKey, spec: spec, kek: keyEncryptionKey, on: c)
            var ids = [rootId]
            if spec.withIntermediate {
                let intermediateKey = try PrivateKey.generate(spec.keyAlgorithm)
                // The intermediate points at the root's CRL and certificate (BR 7.1.2.10.2, 7.1.2.10.3).
                var profile = IssuanceProfile.intermediateCA(validityDays: spec.intermediateValidityDays, pathLength: 0)
                let rootSettings = spec.configuration(forCA: rootName)
                profile.crlDistributionPointURL = rootSettings.crlURL
                profile.caIssuersURL = rootSettings.caIssuersURL
                let intermediate = try root.issue(
                    publicKey: intermediateKey.publicKey,
                    subject: DistinguishedName(commonName: spec.commonName, organization: spec.organization, country: spec.country),
                    subjectAlternativeNames: [], profile: profile)
                let id = UUID()
                try insert(id: id, name: spec.name, parent: rootId, certificate: intermediate, chain: [root.certificate],
                           key: intermediateKey, spec: spec, kek: keyEncryptionKey, on: c)
                ids.append(id)
            }
            var records: [CertificateAuthorityRecord] = []
            for id in ids {
                guard let record = try CertificateAuthorityStore.find(id: id, on: c) else {
                    throw CACreationError(message: "the new CA \(id) vanished")
                }
                let connector = try BuiltInCertificateAuthority(authority: record, keyEncryptionKey: keyEncryptionKey)
                _ = try connector.publishCRL(on: c)
                try Lifecycle.audit(
                    .caCreated, entityType: .ca, entityId: id.uuidString.lowercased(), actor: actor,
                    details: ["name": record.name, "kind": record.kind, "parent": record.parentId?.uuidString.lowercased() ?? NSNull(),
                              "subject": connector.issuer.certificate.subject.description,
                              "notAfter": PostgresTimestamp.format(connector.issuer.certificate.notAfter),
                              "keyAlgorithm": spec.keyAlgorithm.description],
                    on: c)
                records.append(record)
            }
            return records
        }
    }

    private static func insert(
        id: UUID, name: String, parent: UUID?, certificate: Certificate, chain: [Certificate], key: PrivateKey,
        spec: BuiltInCASpecification, kek: KeyEncryptionKey, on c: Connection
    ) throws {
        let sealed = try kek.seal(try key.pkcs8DER(), purpose: BuiltInCertificateAuthority.keyPurpose, id: id)
        try c.execute(
            """
            INSERT INTO certbus.certificate_authorities
                   (id, name, kind, status, parent_id, certificate_pem, chain_pem, encrypted_private_key, configuration,
                    certificate_not_after, certificate_fingerprint_sha256)
            VALUES ($1, $2, 'BUILT_IN', 'ACTIVE', $3, $4, $5, $6, $7::jsonb, $8, $9)
            """,
            [id, name, parent, certificate.pem, chain.map(\.pem).joined(), sealed,
             try PostgresJSON(encoding: spec.configuration(forCA: name)), certificate.notAfter, certificate.sha256Fingerprint])
    }
}
