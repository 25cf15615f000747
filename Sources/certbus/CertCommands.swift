import CertbusArguments
import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

/// `certbus cert request|list|show|renew|revoke|export`.
enum CertCommands {
    static let command = Command(
        "cert", abstract: "Request, list, show, renew, revoke and export certificates.",
        discussion: """
            Requests are checked against their RA profile at once (CSR signature, key type and size, allowed \
            domains); accepted ones become ISSUE_CERT jobs run by `certbus worker` (or `certbus serve`), or wait \
            for an approval when the profile requires one. --wait waits (on NOTIFY) for the outcome.
            """,
        subcommands: [request, list, show, renew, revoke, export])

    static let waitFlag = Flag("wait", help: "Wait for the job to finish and print the result.")
    static let timeoutOption = Option<Double>("timeout", valueName: "seconds", default: 120, help: "With --wait: give up after this long.")

    // MARK: request

    static let profileOption = Option<String>("profile", valueName: "name", required: true, help: "The RA profile to request under.")
    static let csrOption = Option<String>("csr", valueName: "file", help: "A PEM CSR file (you keep the key); or - for standard input.")
    static let cnOption = Option<String>("cn", valueName: "name", help: "Without --csr: the common name (certbus generates and keeps the key).")
    static let sanOption = Option<String>("san", valueName: "name", repeatable: true, help: "Without --csr: another DNS name or IP address; repeatable or comma-separated.")
    static let keyTypeOption = Option<String>("key-type", valueName: "type", help: "Without --csr: EC-P256, EC-P384, RSA-2048, RSA-3072, RSA-4096 or ED25519 (default: the profile's).")
    static let groupOption = Option<String>("group", valueName: "name", help: "Put the certificate in this group.")
    static let keyOption = Option<String>("idempotency-key", valueName: "key", help: "Submitting the same key again returns the first request instead of a new one.")

    static let request = Command(
        "request", abstract: "Request a certificate from a CSR or for a key certbus generates.",
        options: CommandContext.options + [profileOption, csrOption, cnOption, sanOption, keyTypeOption, groupOption, keyOption, waitFlag, timeoutOption]
    ) { invocation in
        let context = CommandContext(invocation)
        var draft = CertificateRequestDraft(profile: try invocation.value(profileOption))
        let sans = invocation.values(sanOption).flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
        if let file = invocation[csrOption] {
            guard invocation[cnOption] == nil, sans.isEmpty, invocation[keyTypeOption] == nil else {
                throw UsageError("give either --csr or --cn/--san (with optional --key-type), not both")
            }
            draft.csrPEM = try InputFile.text(file, what: "the CSR file")
        } else {
            guard invocation[cnOption] != nil || !sans.isEmpty else { throw UsageError("give --csr FILE, or --cn NAME (and --san NAME ...)") }
            draft.commonName = invocation[cnOption]
            draft.subjectAlternativeNames = sans
            draft.keyAlgorithm = invocation[keyTypeOption]
        }
        draft.group = invocation[groupOption]
        draft.idempotencyKey = invocation[keyOption]
        let connection = try context.connect()
        defer { connection.close() }
        let submitted = try CertificateRequests.submit(draft, actor: CertCommandSupport.actor(invocation),
                                                       registry: CertCommandSupport.registry(invocation), on: connection)
        let request = submitted.request
        if invocation[waitFlag] {
            if let approval = submitted.approvalId, !context.json {
                invocation.print("request \(request.id.uuidString.lowercased()) waits for approval \(approval.uuidString.lowercased()) (certbus approval approve \(approval.uuidString.lowercased()))")
            }
            let progress = CommandProgress(context)
            let finished = try CertificateRequestWait.wait(
                for: request.id, timeout: invocation[timeoutOption]!, throughApproval: true, on: connection
            ) { status in progress.waiting("request \(request.id.uuidString.lowercased().prefix(8))", status: status) }
            progress.finish()
            try report(finished, context: context, connection: connection)
            return
        }
        var text = "request \(request.id.uuidString.lowercased()) \(submitted.created ? "accepted" : "already exists") (\(request.status.rawValue))"
        if let job = submitted.jobId ?? request.jobId { text += ", job \(job)" }
        if let approval = submitted.approvalId { text += "; approval \(approval.uuidString.lowercased()) pending: certbus approval approve \(approval.uuidString.lowercased())" }
        var json = CertCommandSupport.json(request)
        if case .object(var fields) = json, let approval = submitted.approvalId {
            fields["approval_id"] = .string(approval.uuidString.lowercased())
            json = .object(fields)
        }
        try context.emit(text: text, json: json)
    }

    /// Prints the outcome of a finished request; a failed, denied or expired one is an error (exit 1).
    static func report(_ request: CertificateRequestRecord, context: CommandContext, connection: Connection) throws {
        guard request.status == .issued, let id = request.certificateId,
              let certificate = try CertificateStore.find(idOrFingerprint: id.uuidString, on: connection) else {
            let reason = request.status == .denied ? (request.error ?? "Approval denied") : (request.error ?? request.status.rawValue)
            throw CommandFailure("request \(request.id.uuidString.lowercased()) ended \(request.status.rawValue): \(reason)")
        }
        if context.json {
            context.invocation.output.write(try JSONOutput.string(CertCommandSupport.json(certificate, withPEM: true)))
        } else {
            context.invocation.print(CertCommandSupport.describe(certificate) + "\n" + (certificate.certificatePEM ?? "") + (certificate.chainPEM ?? ""),
                                     terminator: "")
        }
    }


    // MARK: list

    static let expiringOption = Option<String>("expiring-within", valueName: "span", help: "Only certificates expiring within this span from now (e.g. 30d, 12h).")
    static let statusOption = Option<String>("status", valueName: "status", repeatable: true, help: "Only VALID, EXPIRING, EXPIRED or REVOKED certificates; repeatable.")
    static let limitOption = Option<Int>("limit", short: "n", default: 100, help: "Show at most this many.")
    static let countFlag = Flag("count", help: "Print only how many certificates match (the size of the blast radius).")

    static let list = Command(
        "list", abstract: "List certificates (newest first, or soonest expiry first with --expiring-within).",
        discussion: """
            The blast-radius options select the certificates a compromise exposes; every option given must \
            match: --sharing-key-of ID (same public key), --issued-by CA (that CA and every CA below it), \
            --san-matches '*.example.com' (a name matches; * is any run of characters, case is ignored), \
            --profile NAME, --endpoint NAME (deployed there). psql: certbus.certificates_sharing_key(id), \
            certbus.certificates_issued_by(ca), certbus.certificates_matching_name(pattern), \
            certbus.certificates_on_endpoint(endpoint).
            """,
        options: CommandContext.options + [expiringOption, statusOption] + SelectorOptions.criteria + [limitOption, countFlag]
    ) { invocation in
        let context = CommandContext(invocation)
        var filter = CertificateFilter(statuses: invocation.values(statusOption), limit: invocation[limitOption]!)
        if let span = invocation[expiringOption] {
            do { filter.expiringWithin = try DurationText.parse(span) } catch { throw UsageError("--expiring-within: \(error)") }
        }
        guard filter.limit >= 1 else { throw UsageError("--limit must be at least 1") }
        let selector = try SelectorOptions.selector(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        if !selector.isEmpty { filter.selection = try SelectorOptions.resolve(selector, on: connection) }
        let certificates: [CertificateRecord]
        var total: Int?
        do {
            if invocation[countFlag] {
                let count = try CertificateStore.count(filter, on: connection)
                try context.emit(text: "\(count)", json: ["count": .int(count)])
                return
            }
            certificates = try CertificateStore.list(filter, on: connection)
            if certificates.count == filter.limit { total = try CertificateStore.count(filter, on: connection) }
        } catch let refusal as RequestRefusal {
            throw UsageError(refusal.message)
        }
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(certificates.map { CertCommandSupport.json($0) })))
            return
        }
        if certificates.isEmpty {
            invocation.print("no certificates")
            return
        }
        var table = TableFormatter([.init("ID"), .init("COMMON NAME", maxWidth: 40), .init("STATUS"), .init("NOT AFTER"),
                                    .init("KEY"), .init("PROFILE"), .init("NAMES", maxWidth: 50)])
        invocation.print(table.render(certificates.map {
            [$0.id.uuidString.lowercased(), $0.commonName ?? "", $0.status, CertCommandSupport.time($0.notAfter), $0.keyAlgorithm,
             $0.profileName ?? "", $0.subjectAlternativeNames.joined(separator: ",")]
        }), terminator: "")
        _ = table
        if let total, total > certificates.count {
            invocation.print("showing \(certificates.count) of \(ProgressLine.grouped(total)) (--limit N shows more, --count only counts)")
        }
    }

    // MARK: show

    static let certificateArgument = Argument<String>("certificate", help: "Certificate id or SHA-256 fingerprint.")
    static let pemFlag = Flag("pem", help: "Also print the certificate and its chain, PEM.")

    static let show = Command(
        "show", abstract: "Show one certificate, its renewal lineage, and (with --pem) its PEM chain.",
        options: CommandContext.options + [pemFlag], arguments: [certificateArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let key = try invocation.value(certificateArgument)
        guard let certificate = try CertificateStore.find(idOrFingerprint: key, on: connection) else {
            throw CommandFailure("unknown certificate \(key) (give its id or SHA-256 fingerprint)")
        }
        let lineage = try CertificateStore.lineage(of: certificate.id, on: connection)
        if context.json {
            var object = CertCommandSupport.json(certificate, withPEM: invocation[pemFlag])
            if case .object(var fields) = object {
                fields["lineage"] = .array(lineage.map { .string($0.id.uuidString.lowercased()) })
                object = .object(fields)
            }
            invocation.output.write(try JSONOutput.string(object))
            return
        }
        var text = CertCommandSupport.describe(certificate)
        if lineage.count > 1 {
            text += "lineage:\n" + lineage.map {
                "  \($0.id == certificate.id ? "*" : " ") \($0.id.uuidString.lowercased())  \($0.status)  until \(CertCommandSupport.time($0.notAfter))"
            }.joined(separator: "\n") + "\n"
        }
        if invocation[pemFlag] { text += "\n" + (certificate.certificatePEM ?? "") + (certificate.chainPEM ?? "") }
        invocation.print(text, terminator: "")
    }

    // MARK: renew / revoke

    static let rekeyFlag = Flag("rekey", help: "Use a new key (certbus generates and keeps it).")

    static let renew = Command(
        "renew", abstract: "Renew a certificate now (same names and profile), optionally with a new key.",
        options: CommandContext.options + [rekeyFlag, waitFlag, timeoutOption], arguments: [certificateArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let jobId = try CertificateRequests.renew(try invocation.value(certificateArgument), rekey: invocation[rekeyFlag],
                                                  actor: CertCommandSupport.actor(invocation), on: connection)
        try finish(jobId: jobId, what: "renewal", invocation: invocation, context: context, connection: connection)
    }

    static let reasonOption = Option<String>(
        "reason", valueName: "reason", default: "unspecified",
        help: "RFC 5280 reason. TLS server certificates: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation.")

    static let revoke = Command(
        "revoke", abstract: "Revoke a certificate at its CA (its CRL is regenerated).",
        options: CommandContext.options + [reasonOption, waitFlag, timeoutOption], arguments: [certificateArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let jobId: Int64
        do {
            jobId = try CertificateRequests.revoke(try invocation.value(certificateArgument), reason: invocation[reasonOption]!,
                                                   actor: CertCommandSupport.actor(invocation), on: connection)
        } catch let refusal as RequestRefusal where refusal.code == .invalidRequest && refusal.message.contains("revocation reason") {
            throw UsageError(refusal.message)
        }
        try finish(jobId: jobId, what: "revocation", invocation: invocation, context: context, connection: connection)
    }

    static func finish(jobId: Int64, what: String, invocation: Invocation, context: CommandContext, connection: Connection) throws {
        guard invocation[waitFlag] else {
            try context.emit(text: "\(what) queued as job \(jobId)", json: ["job_id": .int(Int(jobId)), "status": "QUEUED"])
            return
        }
        let finished = try EndpointJobWait.wait(
            for: jobId, timeout: invocation[timeoutOption]!, on: connection, progress: CommandProgress(context))
        guard finished.status == "SUCCESS" else {
            throw CommandFailure("\(what) job \(jobId) ended \(finished.status): \(finished.error ?? "")")
        }
        let issued = try connection.query("SELECT issued_certificate_id FROM certbus.jobs WHERE id = $1", [jobId]).firstRow?
            .decode("issued_certificate_id", as: UUID?.self)
        if let issued, let certificate = try CertificateStore.find(idOrFingerprint: issued.uuidString, on: connection) {
            if context.json {
                invocation.output.write(try JSONOutput.string(CertCommandSupport.json(certificate)))
            } else {
                invocation.print(CertCommandSupport.describe(certificate), terminator: "")
            }
            return
        }
        try context.emit(text: "\(what) job \(jobId) succeeded: \(finished.output ?? "")",
                         json: ["job_id": .int(Int(jobId)), "status": "SUCCESS", "output": CertCommandSupport.json(finished.output)])
    }

    // MARK: export

    static let withKeyFlag = Flag("with-key", help: "Also export the private key certbus generated (allowed once; recorded in the audit log).")
    static let keyOutOption = Option<String>("key-out", valueName: "file", help: "With --with-key: write the key to this new file (mode 0600) instead of standard output.")

    static let export = Command(
        "export", abstract: "Print a certificate and its chain (PEM); with --with-key, also its server-generated key, once.",
        options: CommandContext.options + [withKeyFlag, keyOutOption], arguments: [certificateArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        guard invocation[keyOutOption] == nil || invocation[withKeyFlag] else { throw UsageError("--key-out needs --with-key") }
        let connection = try context.connect()
        defer { connection.close() }
        let kek = invocation[withKeyFlag] ? try CertCommandSupport.registry(invocation).environment.keyEncryptionKey() : nil
        if let path = invocation[keyOutOption], FileManager.default.fileExists(atPath: path) {
            throw CommandFailure("\(path) already exists; the key is only written to a new file")
        }
        let exported = try CertificateExport.export(id: try invocation.value(certificateArgument), withKey: invocation[withKeyFlag],
                                                    keyEncryptionKey: kek, actor: CertCommandSupport.actor(invocation), on: connection)
        var keyText = exported.privateKeyPEM
        if let path = invocation[keyOutOption], let key = exported.privateKeyPEM {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard descriptor >= 0 else { throw CommandFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
            let bytes = Array(key.utf8)
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
            guard written == bytes.count else { throw CommandFailure("cannot write \(path)") }
            keyText = nil
        }
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.object([
                "certificate_id": CertCommandSupport.json(exported.certificateId), "certificate_pem": .string(exported.certificatePEM),
                "chain_pem": .string(exported.chainPEM), "private_key_pem": CertCommandSupport.json(keyText),
            ])))
            return
        }
        invocation.print(exported.certificatePEM + exported.chainPEM + (keyText ?? ""), terminator: "")
    }
}
