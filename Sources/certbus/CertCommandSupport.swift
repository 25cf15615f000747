import CertbusArguments
import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

/// What the certificate commands share: the CA connector registry, the operator, JSON shapes.
enum CertCommandSupport {
    /// certbus's home folder: `$CERTBUS_HOME`, else `./.certbus` (where the embedded database and the default KEK live).
    static func homeDirectory(_ environment: [String: String]) -> String {
        if let home = environment["CERTBUS_HOME"], !home.isEmpty { return home }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(".certbus")
    }

    /// The CA connector registry for this process (KEK from CERTBUS_KEK_FILE or `<home>/kek`).
    static func registry(_ invocation: Invocation) -> CertificateAuthorityRegistry {
        CertificateServices.registry(homeDirectory: homeDirectory(invocation.environment), environment: invocation.environment)
    }

    /// The certificate handlers for `certbus worker` / `serve` (home from the environment).
    static func handlers(environment: [String: String] = ProcessInfo.processInfo.environment) -> [any JobHandler] {
        CertificateServices.handlers(registry: CertificateServices.registry(homeDirectory: homeDirectory(environment),
                                                                            environment: environment))
    }

    /// The operator: USER and the OS user name.
    static func actor(_ invocation: Invocation) -> Actor { JobsCommands.operatorActor(invocation) }

    static func time(_ date: Date?) -> String {
        guard let date else { return "" }
        return PostgresTimestamp.format(date).prefix(19).replacingOccurrences(of: "T", with: " ")
    }

    static func json(_ date: Date?) -> JSONValue { date.map { .string(PostgresTimestamp.format($0)) } ?? .null }
    static func json(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }
    static func json(_ id: UUID?) -> JSONValue { id.map { .string($0.uuidString.lowercased()) } ?? .null }

    static func json(_ c: CertificateRecord, withPEM: Bool = false) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": json(c.id), "common_name": json(c.commonName), "subject_alternative_names": .array(c.subjectAlternativeNames.map { .string($0) }),
            "status": .string(c.status), "serial_number": .string(c.serialNumber), "fingerprint_sha256": .string(c.fingerprint),
            "subject": .string(c.subject), "issuer": .string(c.issuer), "key_algorithm": .string(c.keyAlgorithm),
            "public_key_sha256": json(c.publicKeySHA256),
            "key_size": c.keySize.map { .int($0) } ?? .null, "not_before": json(c.notBefore), "not_after": json(c.notAfter),
            "renew_at": json(c.renewAt), "renewal_failures": .int(c.renewalFailures), "renewal_last_error": json(c.renewalLastError),
            "revoked_at": json(c.revokedAt), "revocation_reason": json(c.revocationReason), "ca": json(c.caName),
            "profile": json(c.profileName), "predecessor_id": json(c.predecessorId), "successor_id": json(c.successorId),
            "server_key": .bool(c.hasServerKey), "private_key_exported_at": json(c.privateKeyExportedAt), "source": .string(c.source),
            "request_id": json(c.requestId), "created_at": json(c.createdAt),
        ]
        if withPEM {
            object["certificate_pem"] = json(c.certificatePEM)
            object["chain_pem"] = json(c.chainPEM)
        }
        return .object(object)
    }

    static func json(_ r: CertificateRequestRecord) -> JSONValue {
        .object([
            "id": json(r.id), "status": .string(r.status.rawValue), "operation": .string(r.operation.rawValue),
            "idempotency_key": .string(r.idempotencyKey), "profile_id": json(r.profileId), "ca_id": json(r.caId),
            "common_name": json(r.commonName), "subject_alternative_names": .array(r.subjectAlternativeNames.map { .string($0) }),
            "key_source": .string(r.generatedKeyType == nil ? "CSR" : "GENERATED"), "job_id": r.jobId.map { .int(Int($0)) } ?? .null,
            "certificate_id": json(r.certificateId), "ca_request_id": json(r.caRequestId), "error": json(r.error),
            "created_at": json(r.createdAt),
        ])
    }

    /// Human description of one certificate.
    static func describe(_ c: CertificateRecord) -> String {
        var lines: [(String, String)] = [
            ("id", c.id.uuidString.lowercased()), ("common name", c.commonName ?? ""),
            ("names", c.subjectAlternativeNames.joined(separator: ", ")), ("status", c.status),
            ("valid", "\(time(c.notBefore)) → \(time(c.notAfter)) UTC"), ("serial", c.serialNumber),
            ("SHA-256", c.fingerprint), ("subject", c.subject), ("issuer", c.issuer),
            ("key", "\(c.keyAlgorithm)\(c.keySize.map { " \($0) bits" } ?? "")\(c.hasServerKey ? " (held by certbus\(c.privateKeyExportedAt.map { ", exported \(time($0))" } ?? ""))" : " (held by the requester)")"),
            ("key SHA-256", c.publicKeySHA256 ?? "(unreadable)"),
            ("CA / profile", "\(c.caName ?? "-") / \(c.profileName ?? "-")"),
        ]
        if let renewAt = c.renewAt { lines.append(("renew at", time(renewAt) + " UTC")) }
        if c.renewalFailures > 0 { lines.append(("renewal", "\(c.renewalFailures) failure(s): \(c.renewalLastError ?? "")")) }
        if let revokedAt = c.revokedAt { lines.append(("revoked", "\(time(revokedAt)) UTC (\(c.revocationReason ?? "unspecified"))")) }
        if let p = c.predecessorId { lines.append(("renews", p.uuidString.lowercased())) }
        if let s = c.successorId { lines.append(("renewed by", s.uuidString.lowercased())) }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n") + "\n"
    }
}
