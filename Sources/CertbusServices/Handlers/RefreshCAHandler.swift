import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// CA_REFRESH: asks a CA's connector to refresh (built-in: publish a new CRL when the current
/// one is due, warn when the CA certificate nears expiry; ACME: directory, terms, chain).
/// Records `last_refreshed_at` / `last_error` on the CA, raises one WARN alert per warning
/// (resolved once the condition is gone), and one ERROR alert when refreshing finally fails.
public struct RefreshCAHandler: JobHandler {
    public var kind: JobKind { .refreshCA }
    let registry: CertificateAuthorityRegistry

    /// Warning codes this handler resolves when a refresh no longer reports them.
    static let warningCodes = ["CA_CERTIFICATE_EXPIRING", "CRL_OVERDUE", "CA_UNREACHABLE"]

    /// A handler refreshing the CAs of `registry`.
    public init(registry: CertificateAuthorityRegistry) {
        self.registry = registry
    }

    static func causeKey(_ caId: UUID, _ code: String) -> String { "ca:\(caId.uuidString.lowercased()):\(code)" }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        var caId: UUID?
        do {
            let payload = try job.decodePayload(RefreshCAPayload.self)
            caId = payload.caId ?? job.caId
            guard let id = caId else { throw RequestRefusal(.invalidRequest, "the CA_REFRESH payload needs caId") }
            guard let authority = try context.database.withConnection({ c in try CertificateAuthorityStore.find(id: id, on: c) }) else {
                throw RequestRefusal(.unavailableCA, "unknown CA \(id.uuidString.lowercased())")
            }
            let connector = try registry.connector(for: authority, allowDisabled: true)
            let result = try connector.refresh(context: CAOperationContext(
                database: context.database, heartbeat: { try context.heartbeat() }, isCancelled: { context.isCancelled }))
            return JobCompletion(
                output: IssuanceProcess.json([
                    "status": "Refreshed", "caId": id.uuidString.lowercased(), "summary": result.summary,
                    "warnings": result.warnings.map { ["code": $0.code, "message": $0.message] },
                    "crlNumber": result.publishedCRLNumber.map { NSNumber(value: $0) } ?? NSNull(),
                ]),
                commit: { c in
                    try c.execute("UPDATE certbus.certificate_authorities SET last_refreshed_at = now(), last_error = NULL WHERE id = $1", [id])
                    for warning in result.warnings {
                        try Lifecycle.raiseAlert(
                            type: .warn, title: "CA \(authority.name): \(warning.code.lowercased().replacingOccurrences(of: "_", with: " "))",
                            message: warning.message, entity: .ca, entityId: id.uuidString.lowercased(),
                            causeKey: Self.causeKey(id, warning.code), on: c)
                    }
                    let active = Set(result.warnings.map(\.code))
                    for code in Self.warningCodes + ["CA_REFRESH_FAILED"] where !active.contains(code) {
                        try Lifecycle.resolveAlerts(causePrefix: Self.causeKey(id, code), resolution: "CA refreshed without this warning", on: c)
                    }
                })
        } catch let failure as JobFailure {
            throw failure
        } catch {
            let (message, permanent) = IssuanceProcess.classify(error)
            let final = permanent || job.attempt >= job.maxAttempts
            let id = caId
            var commit: (@Sendable (Connection) throws -> Void)?
            if final, let id {
                commit = { c in
                    try c.execute("UPDATE certbus.certificate_authorities SET last_error = $2 WHERE id = $1", [id, message])
                    try Lifecycle.raiseAlert(
                        type: .error, title: "CA refresh failed", message: message, entity: .ca,
                        entityId: id.uuidString.lowercased(), causeKey: Self.causeKey(id, "CA_REFRESH_FAILED"), on: c)
                }
            }
            throw JobFailure(message: message, isPermanent: permanent, commit: commit)
        }
    }
}
