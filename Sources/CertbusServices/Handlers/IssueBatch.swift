import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres

/// The batch path of ISSUE_CERT (``IssueCertificateHandler``'s `runBatch`, which the general
/// `Worker` uses for ISSUE_CERT): many claimed jobs processed with a few statements each way —
/// one request insert, one CA ledger insert, and one transaction that finishes every job
/// (fenced, through `JobQueue.finish`) together with all certificate rows, request outcomes,
/// audit rows and events. Same checks, records and idempotency as the handler's `run`; jobs
/// that do not fit the fast path (a request id, a server-generated key, an approval profile, a
/// CA that is not built in, a retry) are deferred to the handler's `run`, one by one.
public struct IssueBatch: Sendable {
    let handler: IssueCertificateHandler
    let registry: CertificateAuthorityRegistry
    /// Delay before a retryable failure is retried.
    public var backoff: Backoff

    /// A batch processor issuing through `registry`.
    public init(registry: CertificateAuthorityRegistry, backoff: Backoff = Backoff()) {
        self.registry = registry
        self.handler = IssueCertificateHandler(registry: registry)
        self.backoff = backoff
    }

    /// Processes `claimed` ISSUE_CERT jobs of `workerId` with `pool`, the deferred ones too
    /// (one by one through the handler, as a worker would); returns how many succeeded and failed.
    @discardableResult
    public func process(_ claimed: [ClaimedJob], workerId: String, pool: ConnectionPool) throws -> (succeeded: Int, failed: Int) {
        let outcome = try run(claimed, context: JobBatchContext(database: pool, workerId: workerId, backoff: backoff))
        var succeeded = outcome.succeeded.count, failed = outcome.failed.count
        let context = JobContext(database: pool, workerId: workerId)
        try pool.withConnection { c in
            for job in outcome.deferred {
                do {
                    let completion = try handler.run(job.job, context: context)
                    if try JobQueue.complete(on: c, job, completion) { succeeded += 1 }
                } catch let failure as JobFailure {
                    if try JobQueue.fail(on: c, job, failure, retryDelay: backoff.delay(afterAttempt: job.job.attempt)) { failed += 1 }
                }
            }
        }
        return (succeeded, failed)
    }

    /// Runs the fast path for `claimed` and defers the rest (see ``BatchJobHandler``), on one
    /// connection of `context.database`.
    public func run(_ claimed: [ClaimedJob], context: JobBatchContext) throws -> JobBatchOutcome {
        try context.database.withConnection { c in try run(claimed, workerId: context.workerId, backoff: context.backoff, on: c) }
    }

    struct Item {
        var claimed: ClaimedJob
        var checked: CheckedRequest
        var new: NewCertificateRequest
        var request: CertificateRequestRecord?
        var issued: CAIssuedCertificate?
        var certificateId = UUID()
        var renewAt = Date()
    }

    func run(_ claimed: [ClaimedJob], workerId: String, backoff: Backoff, on c: Connection) throws -> JobBatchOutcome {
        var slow: [ClaimedJob] = []
        var refused: [(ClaimedJob, String)] = []
        var items: [Item] = []
        var profiles: [String: (RAProfile, CertificateAuthorityRecord, BuiltInCertificateAuthority)?] = [:]
        for job in claimed {
            guard let payload = try? job.job.decodePayload(IssueCertificatePayload.self), payload.requestId == nil,
                  let profileName = payload.profile, payload.csr != nil, payload.group == nil
            else {
                slow.append(job)
                continue
            }
            if profiles[profileName] == nil {
                profiles[profileName] = try fastPolicy(profileName, on: c)
            }
            guard let policy = profiles[profileName] ?? nil else {
                slow.append(job)
                continue
            }
            do {
                let checked = try IssueCertificateHandler.check(payload, profile: policy.0)
                let new = NewCertificateRequest(
                    idempotencyKey: payload.idempotencyKey ?? "job:\(job.job.id)", operation: .issue, status: .submitted,
                    profile: policy.0, groupId: nil, predecessorId: nil, checked: checked, csrPEM: checked.csr?.pem,
                    requestedBy: job.job.triggeredBy, jobId: job.job.id)
                items.append(Item(claimed: job, checked: checked, new: new))
            } catch let refusal as RequestRefusal {
                refused.append((job, refusal.message))
            }
        }

        // Requests whose key was seen before (retries, repeated keys) take the careful path.
        var created = try c.withRelaxedCommit { try CertificateRequestStore.insertBatch(items.map(\.new), on: $0) }
        var fresh: [Item] = []
        for var item in items {
            if let request = created.removeValue(forKey: item.new.idempotencyKey) {
                item.request = request
                fresh.append(item)
            } else {
                slow.append(item.claimed)
            }
        }

        // Sign per CA, one ledger statement per CA.
        var failures: [(Item, CAConnectorError)] = []
        var signed: [Item] = []
        for (name, group) in Dictionary(grouping: fresh, by: { $0.new.profile.name }) {
            guard let (profile, _, connector) = profiles[name] ?? nil else { continue }
            let requests = group.map {
                CAIssueRequest(idempotencyKey: $0.request!.id.uuidString.lowercased(), csr: $0.checked.csr!, subject: $0.checked.subject,
                               subjectAlternativeNames: $0.checked.subjectAlternativeNames, validityDays: profile.validityDays,
                               certificateType: profile.certificateType)
            }
            let results = try connector.issueBatch(requests, on: c)
            for (var item, result) in zip(group, results) {
                switch result {
                case .success(let issued):
                    item.issued = issued
                    item.renewAt = profile.renewalWindow.renewalTime(
                        for: item.certificateId, notBefore: issued.certificate.notBefore, notAfter: issued.certificate.notAfter)
                    signed.append(item)
                case .failure(let error):
                    failures.append((item, error))
                }
            }
        }

        // One transaction: finish the jobs (fenced) and record everything they did.
        var results: [AttemptResult] = []
        var outcome = JobBatchOutcome()
        for item in signed {
            results.append(AttemptResult(jobId: item.claimed.job.id, attempt: item.claimed.job.attempt, outcome: .success(
                output: IssuanceProcess.json([
                    "status": "Certificate issued", "certificateId": item.certificateId.uuidString.lowercased(),
                    "requestId": item.request!.id.uuidString.lowercased(), "serialNumber": item.issued!.certificate.serialNumberHex,
                ]), issuedCertificateId: item.certificateId, caRequestId: item.issued!.caRequestId)))
        }
        for (job, message) in refused {
            results.append(AttemptResult(jobId: job.job.id, attempt: job.job.attempt,
                                         outcome: .failure(message: message, isPermanent: true, retryDelay: 0)))
        }
        for (item, error) in failures {
            results.append(AttemptResult(jobId: item.claimed.job.id, attempt: item.claimed.job.attempt, outcome: .failure(
                message: error.description, isPermanent: error.isPermanent,
                retryDelay: backoff.delay(afterAttempt: item.claimed.job.attempt))))
        }
        if !results.isEmpty {
            try c.withTransaction { tx in
                let finished = try JobQueue.finish(on: tx, workerId: workerId, results)
                for result in results {
                    if !finished.contains(result.jobId) {
                        outcome.discarded.append(result.jobId)
                    } else if case .success = result.outcome {
                        outcome.succeeded.append(result.jobId)
                    } else {
                        outcome.failed.append(result.jobId)
                        if case .failure(_, true, _) = result.outcome { outcome.permanent.insert(result.jobId) }
                    }
                }
                let done = signed.filter { finished.contains($0.claimed.job.id) }
                try Self.recordIssued(done, on: tx)
                try Self.recordRefused(refused.filter { finished.contains($0.0.job.id) }, on: tx)
                let final = failures.filter {
                    finished.contains($0.0.claimed.job.id) && ($0.1.isPermanent || $0.0.claimed.job.attempt >= $0.0.claimed.job.maxAttempts)
                }
                try Self.recordFailedRequests(final.map { ($0.0, $0.1.description) }, on: tx)
            }
        }

        // Everything else goes through the handler one by one.
        outcome.deferred = slow
        return outcome
    }

    /// The profile, CA and built-in connector for the fast path; nil when the profile needs the
    /// careful path (approval) or does not resolve (the handler then reports why).
    func fastPolicy(_ name: String, on c: Connection) throws -> (RAProfile, CertificateAuthorityRecord, BuiltInCertificateAuthority)? {
        guard let profile = try RAProfileStore.find(nameOrId: name, on: c), profile.enabled, !profile.requiresApproval,
              let authority = try CertificateAuthorityStore.find(id: profile.caId, on: c), authority.status == .active,
              let connector = try? registry.connector(for: authority) as? BuiltInCertificateAuthority
        else { return nil }
        return (profile, authority, connector)
    }

    static func recordIssued(_ items: [Item], on c: Connection) throws {
        guard !items.isEmpty else { return }
        let certificates = items.map { $0.issued!.certificate }
        try c.execute(
            """
            INSERT INTO certbus.certificates
                   (id, ca_id, profile_id, serial_number, fingerprint_sha256, common_name, subject, issuer,
                    subject_alternative_names, key_algorithm, key_size, not_before, not_after, certificate_pem, chain_pem,
                    renew_at, source, request_id)
            SELECT t.id, r.ca_id, r.profile_id, t.serial, t.fingerprint, t.cn, t.subject, t.issuer,
                   ARRAY(SELECT jsonb_array_elements_text(t.sans)), t.algorithm, t.bits, t.not_before, t.not_after, t.pem, t.chain,
                   t.renew_at, 'ISSUED', r.id
              FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[],
                          $9::int[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[], $14::timestamptz[], $15::uuid[])
                   AS t(id, serial, fingerprint, cn, subject, issuer, sans, algorithm, bits, not_before, not_after, pem, chain,
                        renew_at, request_id)
              JOIN certbus.certificate_requests r ON r.id = t.request_id
            """,
            [items.map(\.certificateId), certificates.map(\.serialNumberHex), certificates.map(\.sha256Fingerprint),
             certificates.map { $0.subject.commonName }, certificates.map { $0.subject.description },
             certificates.map { $0.issuer.description },
             try certificates.map { try PostgresJSON(encoding: $0.subjectAlternativeNames.map(IssuanceProcess.sanText)) },
             certificates.map { $0.publicKeyAlgorithm?.profileName ?? "UNKNOWN" }, certificates.map { $0.publicKeyAlgorithm?.bits },
             certificates.map(\.notBefore), certificates.map(\.notAfter), certificates.map(\.pem),
             items.map { $0.issued!.chain.map(\.pem).joined() }, items.map(\.renewAt), items.map { $0.request!.id }])
        try c.execute(
            """
            UPDATE certbus.certificate_requests r SET status = 'ISSUED', certificate_id = t.certificate, ca_request_id = t.ca_request,
                   completed_at = now()
              FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS t(id, certificate, ca_request)
             WHERE r.id = t.id
            """, [items.map { $0.request!.id }, items.map(\.certificateId), items.map { $0.issued!.caRequestId }])

        // Audit rows and events built in SQL from the rows just written: the same fields, keys and
        // formats as the handler's (AuditTrail / EventLog), without encoding JSON row by row in Swift,
        // and written with one statement each (certbus.write_audit_batch, certbus.emit_events).
        let parameters: [any PostgresEncodable] = [
            items.map(\.certificateId), items.map(\.claimed.job.id), items.map(\.claimed.job.triggeredBy.kind.rawValue),
            items.map(\.claimed.job.triggeredBy.id),
        ]
        _ = try c.query(
            """
            WITH t AS (
              SELECT c.id AS certificate, r.id AS request, r.profile_id, r.group_id, to_jsonb(r.subject_alternative_names) AS names,
                     c.serial_number, c.fingerprint_sha256, r.ca_request_id, x.job, x.actor_type, x.actor_id, x.n,
                     to_char(c.not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS not_after
                FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY AS x(certificate, job, actor_type, actor_id, n)
                JOIN certbus.certificates c ON c.id = x.certificate
                JOIN certbus.certificate_requests r ON r.id = c.request_id
            ), rows AS (
              SELECT t.n, v.k, v.action, v.entity_type, v.entity_id, t.actor_type, t.actor_id, v.details
                FROM t CROSS JOIN LATERAL (VALUES
                  (1, 'ISSUANCE_INITIATED', 'CertificateRequest', t.request::text, jsonb_build_object(
                     'profileId', t.profile_id, 'names', t.names, 'predecessorId', NULL, 'keySource', 'CSR')),
                  (2, 'CSR_SUBMITTED', 'CSR', t.request::text, jsonb_build_object(
                     'profileId', t.profile_id, 'names', t.names, 'predecessorId', NULL, 'keySource', 'CSR')),
                  (3, 'ISSUANCE_COMPLETED', 'Certificate', t.certificate::text, jsonb_build_object(
                     'requestId', t.request, 'jobId', t.job, 'serialNumber', t.serial_number, 'fingerprint', t.fingerprint_sha256,
                     'names', t.names, 'notAfter', t.not_after, 'caRequestId', t.ca_request_id))
                ) AS v(k, action, entity_type, entity_id, details)
               ORDER BY t.n, v.k
            ), audit AS (
              SELECT a.id FROM (
                SELECT array_agg(action ORDER BY n, k) AS actions, array_agg(entity_type ORDER BY n, k) AS entity_types,
                       array_agg(entity_id ORDER BY n, k) AS entity_ids, array_agg(actor_type ORDER BY n, k) AS actor_types,
                       array_agg(actor_id ORDER BY n, k) AS actor_ids, array_agg(details ORDER BY n, k) AS details
                  FROM rows) r
              CROSS JOIN LATERAL certbus.write_audit_batch(r.actions, r.entity_types, r.entity_ids, r.actor_types, r.actor_ids, r.details) AS a(id)
            ), events AS (
              SELECT e.id FROM (
                SELECT array_agg(t.certificate::text ORDER BY t.n) AS ids, array_agg(jsonb_strip_nulls(jsonb_build_object(
                         'certificate_id', t.certificate, 'action', 'ISSUE', 'outcome', 'SUCCESS', 'job_id', t.job,
                         'actor_type', t.actor_type, 'actor_id', t.actor_id, 'profile_id', t.profile_id,
                         'group_id', t.group_id, 'request_id', t.request::text)) ORDER BY t.n) AS payloads
                  FROM t) p
              CROSS JOIN LATERAL certbus.emit_events('CERTIFICATE_ACTION_PERFORMED', 'CERTIFICATE', p.ids, p.payloads) AS e(id)
            )
            SELECT (SELECT count(*) FROM audit) AS audit_rows, (SELECT count(*) FROM events) AS events
            """, parameters)
    }

    static func recordRefused(_ refused: [(ClaimedJob, String)], on c: Connection) throws {
        guard !refused.isEmpty else { return }
        var audit = AuditBatch()
        var events: [(String, PostgresJSON)] = []
        for (job, message) in refused {
            let entity = "job:\(job.job.id)"
            try audit.add(.issuanceFailed, .certificateRequest, entity, job.job.triggeredBy,
                          ["error": message, "jobId": job.job.id, "predecessorId": NSNull()])
            events.append((entity, try PostgresJSON(encoding: CertificateActionPerformedEventData(
                certificateId: nil, action: .issue, outcome: .failure, error: message, jobId: job.job.id,
                actorType: job.job.triggeredBy.kind.rawValue, actorId: job.job.triggeredBy.id, requestId: entity))))
        }
        try audit.write(on: c)
        try emitActionEvents(events, on: c)
    }

    static func recordFailedRequests(_ failed: [(Item, String)], on c: Connection) throws {
        guard !failed.isEmpty else { return }
        try c.execute(
            """
            UPDATE certbus.certificate_requests r SET status = 'FAILED', error = t.error, completed_at = now()
              FROM unnest($1::uuid[], $2::text[]) AS t(id, error) WHERE r.id = t.id AND r.status = 'SUBMITTED'
            """, [failed.map { $0.0.request!.id }, failed.map(\.1)])
        var audit = AuditBatch()
        var events: [(String, PostgresJSON)] = []
        for (item, message) in failed {
            let request = item.request!
            let requestId = request.id.uuidString.lowercased()
            let actor = item.claimed.job.triggeredBy
            let initiated: [String: Any] = ["profileId": request.profileId.uuidString.lowercased(), "names": request.subjectAlternativeNames,
                                            "predecessorId": NSNull(), "keySource": "CSR"]
            try audit.add(.issuanceInitiated, .certificateRequest, requestId, actor, initiated)
            try audit.add(.csrSubmitted, .csr, requestId, actor, initiated)
            try audit.add(.issuanceFailed, .certificateRequest, requestId, actor,
                          ["error": message, "jobId": item.claimed.job.id, "predecessorId": NSNull()])
            events.append((requestId, try PostgresJSON(encoding: CertificateActionPerformedEventData(
                certificateId: nil, action: .issue, outcome: .failure, error: message, jobId: item.claimed.job.id,
                actorType: actor.kind.rawValue, actorId: actor.id, profileId: request.profileId, requestId: requestId))))
        }
        try audit.write(on: c)
        try emitActionEvents(events, on: c)
    }

    /// CERTIFICATE_ACTION_PERFORMED events, one statement through `certbus.emit_events`.
    static func emitActionEvents(_ events: [(resourceId: String, payload: PostgresJSON)], on c: Connection) throws {
        guard !events.isEmpty else { return }
        _ = try c.query(
            "SELECT certbus.emit_events('CERTIFICATE_ACTION_PERFORMED', 'CERTIFICATE', $1::text[], $2::jsonb[]) AS id",
            [events.map(\.resourceId), events.map(\.payload)])
    }
}

/// Audit rows collected for one statement through `certbus.write_audit_batch` (details checked for
/// secrets by the audit area's encoder, as ``AuditTrail`` does).
struct AuditBatch {
    var actions: [String] = []
    var entityTypes: [String] = []
    var entityIds: [String] = []
    var actorTypes: [String] = []
    var actorIds: [String] = []
    var details: [PostgresJSON] = []

    mutating func add(_ action: AuditAction, _ entityType: AuditEntityType, _ entityId: String, _ actor: Actor,
                      _ object: [String: Any]) throws {
        actions.append(action.rawValue)
        entityTypes.append(entityType.rawValue)
        entityIds.append(entityId)
        actorTypes.append(actor.kind.rawValue)
        actorIds.append(actor.id)
        details.append(PostgresJSON(text: try AuditDetails.encode(object)))
    }

    func write(on c: Connection) throws {
        guard !actions.isEmpty else { return }
        _ = try c.query(
            "SELECT certbus.write_audit_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[]) AS id",
            [actions, entityTypes, entityIds, actorTypes, actorIds, details])
    }
}
