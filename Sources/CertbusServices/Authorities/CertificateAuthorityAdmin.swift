import CertbusCore
import Foundation
import Postgres

/// A CA as `certbus ca list|show` reports it: the row plus its current CRL and certificate facts.
public struct CertificateAuthoritySummary: Sendable {
    /// The CA row.
    public var authority: CertificateAuthorityRecord
    /// The parent CA's name, for intermediates.
    public var parentName: String?
    /// The CA certificate's subject, when it has one.
    public var subject: String?
    /// Its current CRL number and nextUpdate, for built-in CAs.
    public var crlNumber: Int64?
    /// nextUpdate of the current CRL.
    public var crlNextUpdate: Date?
    /// Profiles using the CA.
    public var profileCount: Int
    /// Certificates it issued that certbus knows.
    public var certificateCount: Int
}

/// Administrative operations on CAs (`certbus ca list|show|disable|enable`).
public enum CertificateAuthorityAdmin {
    /// Every CA with its summary, by name.
    public static func list(on connection: Connection) throws -> [CertificateAuthoritySummary] {
        try CertificateAuthorityStore.list(on: connection).map { try summary($0, on: connection) }
    }

    /// The summary of one CA by name or id, or nil.
    public static func find(_ nameOrId: String, on connection: Connection) throws -> CertificateAuthoritySummary? {
        try CertificateAuthorityStore.find(nameOrId: nameOrId, on: connection).map { try summary($0, on: connection) }
    }

    static func summary(_ authority: CertificateAuthorityRecord, on c: Connection) throws -> CertificateAuthoritySummary {
        let row = try c.query(
            """
            SELECT (SELECT name FROM certbus.certificate_authorities WHERE id = $2) AS parent_name,
                   (SELECT crl_number FROM certbus.current_crls WHERE ca_id = $1) AS crl_number,
                   (SELECT next_update FROM certbus.current_crls WHERE ca_id = $1) AS crl_next_update,
                   (SELECT count(*) FROM certbus.ra_profiles WHERE ca_id = $1) AS profiles,
                   (SELECT count(*) FROM certbus.certificates WHERE ca_id = $1) AS certificates
            """, [authority.id, authority.parentId]).firstRow!
        let subject = authority.certificatePEM.flatMap { try? PKICertificateSubject.subject(ofPEM: $0) }
        return CertificateAuthoritySummary(
            authority: authority, parentName: try row.decode("parent_name"), subject: subject,
            crlNumber: try row.decode("crl_number"), crlNextUpdate: try row.decode("crl_next_update"),
            profileCount: try row.decode("profiles"), certificateCount: try row.decode("certificates"))
    }

    /// Sets a CA ACTIVE or DISABLED with a CA_DISABLED / CA_UPDATED audit row. A disabled CA
    /// refuses new issuance; its certificates stay valid and can still be revoked.
    @discardableResult
    public static func setStatus(_ nameOrId: String, to status: CertificateAuthorityRecord.Status, actor: Actor,
                                 on connection: Connection) throws -> CertificateAuthorityRecord {
        try connection.withTransaction { c in
            guard let authority = try CertificateAuthorityStore.find(nameOrId: nameOrId, on: c) else {
                throw CACreationError(message: "unknown CA \"\(nameOrId)\" (see certbus ca list)")
            }
            guard authority.status != status else {
                throw CACreationError(message: "CA \(authority.name) is already \(status.rawValue)")
            }
            try c.execute("UPDATE certbus.certificate_authorities SET status = $2 WHERE id = $1", [authority.id, status.rawValue])
            try Lifecycle.audit(status == .disabled ? .caDisabled : .caUpdated, entityType: .ca,
                                entityId: authority.id.uuidString.lowercased(), actor: actor,
                                details: ["name": authority.name, "status": status.rawValue], on: c)
            return try CertificateAuthorityStore.find(id: authority.id, on: c)!
        }
    }

    /// The current CRL of a built-in CA, PEM.
    public static func currentCRL(_ nameOrId: String, on connection: Connection) throws -> String? {
        guard let authority = try CertificateAuthorityStore.find(nameOrId: nameOrId, on: connection) else {
            throw CACreationError(message: "unknown CA \"\(nameOrId)\" (see certbus ca list)")
        }
        return try connection.query("SELECT crl_pem FROM certbus.current_crls WHERE ca_id = $1", [authority.id])
            .firstRow?.decode("crl_pem")
    }
}
