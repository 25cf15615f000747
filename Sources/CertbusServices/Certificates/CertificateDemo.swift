import CertbusCore
import Foundation
import PKI
import Postgres

/// `certbus demo`: a built-in root + intermediate CA and a profile (created when absent), and a
/// request for demo.certbus.test with a server-generated key.
public enum CertificateDemo {
    /// The demo CA's name (its root is `demo-ca-root`).
    public static let caName = "demo-ca"
    /// The demo profile's name.
    public static let profileName = "demo"
    /// The name the demo certificate is for.
    public static let commonName = "demo.certbus.test"

    /// What `prepare` did.
    public struct Prepared: Sendable {
        /// Whether the CA was created now.
        public var createdCA: Bool
        /// Whether the profile was created now.
        public var createdProfile: Bool
        /// The submitted request (its ISSUE_CERT job is queued).
        public var submitted: SubmittedRequest
    }

    /// Creates the demo CA and profile when absent and submits the demo request.
    public static func prepare(registry: CertificateAuthorityRegistry, actor: Actor, on connection: Connection) throws -> Prepared {
        var createdCA = false
        if try CertificateAuthorityStore.find(nameOrId: caName, on: connection) == nil {
            _ = try BuiltInCAProvisioner.create(
                BuiltInCASpecification(name: caName, commonName: "certbus Demo CA", organization: "certbus demo"),
                keyEncryptionKey: try registry.environment.keyEncryptionKey(), actor: actor, on: connection)
            createdCA = true
        }
        var createdProfile = false
        if try RAProfileStore.find(nameOrId: profileName, on: connection) == nil {
            var draft = RAProfileDraft(name: profileName, ca: caName)
            draft.validityDays = 90
            draft.allowedDomains = ["certbus.test", "*.certbus.test"]
            _ = try RAProfileStore.create(draft, actor: actor, on: connection)
            createdProfile = true
        }
        var draft = CertificateRequestDraft(profile: profileName)
        draft.commonName = commonName
        draft.subjectAlternativeNames = ["www." + commonName]
        let submitted = try CertificateRequests.submit(draft, actor: actor, registry: registry, on: connection)
        return Prepared(createdCA: createdCA, createdProfile: createdProfile, submitted: submitted)
    }
}
