import Foundation

/// Finds the connector for a CA by its kind, and keeps connectors for reuse (a built-in
/// connector holds its decrypted signing key, so building one per job would be wasteful).
/// A cached connector is rebuilt when the CA row changes (its `updated_at`).
public final class CertificateAuthorityRegistry: @unchecked Sendable {
    /// What connectors are built with.
    public let environment: CAConnectorEnvironment
    private let factories: [String: any CertificateAuthorityConnectorFactory]
    private let lock = NSLock()
    private var cache: [UUID: (updatedAt: Date, connector: any CertificateAuthorityConnector)] = [:]

    /// A registry of `factories` (one per kind; a later factory of the same kind wins).
    public init(factories: [any CertificateAuthorityConnectorFactory], environment: CAConnectorEnvironment) {
        var byKind: [String: any CertificateAuthorityConnectorFactory] = [:]
        for factory in factories { byKind[factory.kind] = factory }
        self.factories = byKind
        self.environment = environment
    }

    /// The factories certbus ships. Adding a CA type: write its connector and factory in one file
    /// under Authorities/ and list the factory here.
    public static func standardFactories() -> [any CertificateAuthorityConnectorFactory] {
        [BuiltInCertificateAuthorityFactory(), ACMEConnectorFactory()]
    }

    /// A registry with ``standardFactories()`` plus `extra` ones.
    public static func standard(environment: CAConnectorEnvironment,
                                adding extra: [any CertificateAuthorityConnectorFactory] = []) -> CertificateAuthorityRegistry {
        CertificateAuthorityRegistry(factories: standardFactories() + extra, environment: environment)
    }

    /// The kinds with a registered factory, sorted.
    public var kinds: [String] { factories.keys.sorted() }

    /// Whether `kind` has a factory.
    public func knows(kind: String) -> Bool { factories[kind] != nil }

    /// The connector for `authority`: cached when the row did not change since it was built.
    /// Throws a permanent ``CAConnectorError`` for an unknown kind, and for a disabled CA unless
    /// `allowDisabled` (a disabled CA refuses new issuance, but still revokes and publishes CRLs
    /// for the certificates it issued).
    public func connector(for authority: CertificateAuthorityRecord, allowDisabled: Bool = false) throws
        -> any CertificateAuthorityConnector {
        guard authority.status == .active || allowDisabled else {
            throw CAConnectorError.permanent(.disabled, caName: authority.name,
                                             "the CA is disabled; enable it or move the profile to another CA")
        }
        lock.lock()
        if let cached = cache[authority.id], cached.updatedAt == authority.updatedAt {
            lock.unlock()
            return cached.connector
        }
        lock.unlock()
        guard let factory = factories[authority.kind] else {
            throw CAConnectorError.permanent(
                .unknownKind, caName: authority.name,
                "no connector for CA kind \(authority.kind) (known kinds: \(kinds.joined(separator: ", ")))")
        }
        let connector = try factory.makeConnector(for: authority, environment: environment)
        lock.lock()
        cache[authority.id] = (authority.updatedAt, connector)
        lock.unlock()
        return connector
    }

    /// Forgets cached connectors (e.g. after the key-encryption key changed).
    public func invalidate() {
        lock.lock()
        cache.removeAll()
        lock.unlock()
    }
}
