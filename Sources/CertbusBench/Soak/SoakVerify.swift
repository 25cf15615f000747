import CertbusServices
import Foundation
import PKI
import Postgres

extension SoakBenchmark {
    /// The verify phase: the audit chain through `certbus audit verify` against a freshly signed
    /// checkpoint, the counting checks, every certificate's chain, the faults, and a scan for
    /// secrets in the database and the processes' logs.
    func verify(url: String, work: SoakWorkDirectory, kek: KeyEncryptionKey, serverLogOffset: Int, run: SoakRun,
                on c: Connection, into result: inout SoakResult) throws {
        log("verifying: audit chain, jobs, attempts, certificates, CA ledger, audit rows, events, chains, secrets")
        let expected = SoakExpectation(jobs: jobs, generatedKeys: generatedKeys)
        let observations = try SoakObservations.gather(on: c)
        result.unsuccessfulAttempts = observations.unsuccessfulAttempts
        result.checks.append(run.faultCheck)
        result.checks += SoakChecks.evaluate(observations, expected: expected)
        result.checks.append(try auditChainCheck(url: url, work: work, unsealedAfterWait: run.unsealedAfterWait, on: c))
        result.checks.append(try SoakChainVerification.run(on: c, sample: opensslSample, directory: work.path).check)
        result.checks.append(try secretsCheck(work: work, kek: kek, serverLogOffset: serverLogOffset, on: c))
    }

    /// `certbus audit checkpoint export --new` then `certbus audit verify --from-checkpoint --json`,
    /// both run as the operator would; the chain must be intact, cover every row, and have been
    /// sealed by the scheduler's sealer (not by the export).
    func auditChainCheck(url: String, work: SoakWorkDirectory, unsealedAfterWait: Int, on c: Connection) throws -> SoakCheck {
        let checkpoint = work.file("checkpoint.json")
        let export = try BenchProcess(executable, ["audit", "checkpoint", "export", "--new", "-o", checkpoint, "--database-url", url],
                                      environment: work.environment, logFile: work.file("audit-checkpoint-export.log"))
        guard export.wait(timeout: 120) == 0 else {
            return SoakCheck("audit chain", passed: false, detail: "certbus audit checkpoint export --new failed", examples: [SoakFleet.tail(export.log)])
        }
        let verify = try BenchProcess(executable, ["audit", "verify", "--from-checkpoint", checkpoint, "--json", "--database-url", url],
                                      environment: work.environment, logFile: work.file("audit-verify.json"), separateErrors: true)
        let status = verify.wait(timeout: 600)
        guard let report = try? JSONDecoder().decode(AuditVerificationReport.self, from: Data(verify.log.utf8)) else {
            return SoakCheck("audit chain", passed: false, detail: "certbus audit verify exited with \(status.map(String.init) ?? "no status") and no report",
                             examples: [SoakFleet.tail(verify.log + verify.errors)])
        }
        // The export's own AUDIT_CHECKPOINT entry is written after the head it signs: unsealed, and fine.
        let counts = try c.query(
            """
            SELECT count(*) AS n, count(*) FILTER (WHERE chain_position IS NULL AND action <> 'AUDIT_CHECKPOINT') AS unsealed
              FROM certbus.audit_log
            """)[0]
        let rows: Int = try counts.decode("n")
        let unsealed: Int = try counts.decode("unsealed")
        var problems: [String] = []
        if status != 0 || !report.valid { problems.append("certbus audit verify: \(report.problem?.description ?? "exit status \(status.map(String.init) ?? "?")")") }
        if report.rowsVerified + report.unsealedRows != Int64(rows) || unsealed > 0 {
            problems.append("\(report.rowsVerified) rows verified and \(report.unsealedRows) unsealed of \(rows) in the log (\(unsealed) unsealed other than checkpoint entries)")
        }
        if !report.exportedCheckpointMatched { problems.append("the exported checkpoint was not matched") }
        if unsealedAfterWait > 0 { problems.append("the scheduler's sealer left \(unsealedAfterWait) row(s) unsealed") }
        return SoakCheck("audit chain", passed: problems.isEmpty,
                         detail: "certbus audit verify: \(report.valid ? "intact" : "INVALID"), \(report.rowsVerified) rows, \(report.checkpointsVerified) signed checkpoint(s), exported checkpoint \(report.exportedCheckpointMatched ? "matched" : "not matched")",
                         examples: problems)
    }

    /// No private key (PEM or the bytes of any key the run made or holds), no KEK, no audit key
    /// in any row of the database, any process's log, or what the run appended to the server log.
    func secretsCheck(work: SoakWorkDirectory, kek: KeyEncryptionKey, serverLogOffset: Int, on c: Connection) throws -> SoakCheck {
        let sealed = try SealedSecrets.read(on: c, keyEncryptionKey: kek, label: "soak")
        var needles = [SecretNeedle.pemMarker] + sealed.needles
        let kekText = try String(contentsOfFile: work.file(KeyEncryptionKey.defaultFileName), encoding: .utf8)
        needles.append(.bytes(try SecretBox.Key(base64: kekText).bytes, name: "the soak's KEK"))
        let auditKey = try PrivateKey(pem: try String(contentsOfFile: work.file(AuditSigningKey.defaultFileName), encoding: .utf8))
        needles.append(try .privateKey(pkcs8: try auditKey.pkcs8DER(), name: "the soak's audit signing key"))
        let scanner = SecretScanner(needles)
        var findings: [SecretFinding] = []
        var rows = 0
        try DatabaseText.forEachRow(on: c) { label, text in
            rows += 1
            findings += scanner.scan(text, source: label)
        }
        let logs = (try FileManager.default.contentsOfDirectory(atPath: work.path)).filter { $0.hasSuffix(".log") || $0.hasSuffix(".json") || $0.hasSuffix(".stderr") }
        for name in logs.sorted() {
            findings += scanner.scan(FileManager.default.contents(atPath: work.file(name)) ?? Data(), source: name)
        }
        var sources = "\(rows) database rows, \(logs.count) process logs"
        if let serverLog = serverLogFile, let handle = FileHandle(forReadingAtPath: serverLog) {
            defer { try? handle.close() }
            try? handle.seek(toOffset: UInt64(serverLogOffset))
            findings += scanner.scan(handle.readDataToEndOfFile(), source: "server log \(serverLog)")
            sources += ", the server log"
        }
        let examples = findings.map(\.description) + sealed.unopened.map { "sealed value not opened: \($0)" }
            + sealed.unreviewedColumns.map { "bytea column not reviewed for secrets: \($0)" }
        return SoakCheck("secrets", passed: examples.isEmpty,
                         detail: "\(needles.count) secrets (\(scanner.patternCount) spellings) searched in \(sources): \(findings.isEmpty ? "none found" : "\(findings.count) found")",
                         examples: examples)
    }
}
