import CertbusBench
import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

/// After a full `certbus demo`, the other ways certbus makes or holds a private key (a built-in
/// CA, server-generated keys EC and RSA, an exported key, an ACME account through pebble, a
/// webhook secret delivered by a trigger) and a quick soak with server-generated keys, nothing
/// in the database — job payloads, results and errors, attempts, audit details, events,
/// notification deliveries, alerts, any other row — nor in any command's log or `--json` output,
/// the services' logs or the server log, contains a private key (PEM or its secret bytes in
/// base64, base64url or hex) or the KEK.
///
/// The needles are the real secrets of the run, read back legitimately: every sealed value in
/// both databases opened with its KEK, both KEKs, both audit signing keys, the exported key file.
/// Positive control: the scan does find the exported key in the file it was exported to.
///
/// Database: a private home with its own embedded cluster (`PrivateHome`): database `certbus`
/// for the demo and the commands, plus the soak's kept scratch database; all deleted at the end.
@Suite("Secrets scan", .serialized, .enabled(if: PebbleServer.isInstalled, "pebble (apt-get install pebble) is needed for the ACME account"))
struct SecretsScanTests {
    @Test func noPrivateKeyOrKEKLeaksAnywhere() throws {
        let home = try PrivateHome("secrets")
        defer { home.close() }
        var outputs: [(String, CommandResult)] = []
        func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 300) throws -> CommandResult {
            let result = try home.run(arguments, environment: environment, timeout: timeout)
            outputs.append((arguments.prefix(3).joined(separator: " "), result))
            #expect(result.status == 0, "certbus \(arguments.joined(separator: " ")) failed:\n\(result.combined)")
            return result
        }
        let webhookSecret = "whsec-" + Hex.encode(Data((0..<24).map { _ in UInt8.random(in: 0...255) }))
        let deadPort = try LoopbackPort.unused()
        let httpPort = try LoopbackPort.unused()
        let pebble = try PebbleServer(httpPort: httpPort)

        _ = try run(["migrate", "--json"])
        _ = try run(["demo", "--json"])
        _ = try run(["ca", "create", "scan-ca", "--json"])
        _ = try run(["profile", "create", "web", "--ca", "scan-ca", "--domain", "*.scan.test", "--json"])
        _ = try run(["notify-profiles", "create", "ops-hook", "--kind", "webhook", "--url", "http://127.0.0.1:\(deadPort)/hook",
                     "--secret-env", "SCAN_WEBHOOK_SECRET", "--max-attempts", "1", "--json"],
                    environment: ["SCAN_WEBHOOK_SECRET": webhookSecret])
        _ = try run(["triggers", "create", "on-issue", "--on", "CERTIFICATE_ACTION_PERFORMED", "--action", "notify:ops-hook",
                     "--action", "alert:WARN", "--json"])
        _ = try run(["ca", "create-acme", "pebble", "--directory", pebble.directoryURL, "--http01-address", "127.0.0.1:\(httpPort)",
                     "--trusted-ca-file", pebble.caCertificate, "--contact", "ops@scan.test", "--json"])
        _ = try run(["profile", "create", "acme-web", "--ca", "pebble", "--domain", "localhost", "--json"])
        let serve = try home.start(["serve"])
        let ec = try run(["cert", "request", "--profile", "web", "--cn", "www.scan.test", "--wait", "--json"], timeout: 120)
        _ = try run(["cert", "request", "--profile", "web", "--cn", "rsa.scan.test", "--key-type", "RSA-2048", "--wait", "--json"], timeout: 120)
        _ = try run(["cert", "request", "--profile", "acme-web", "--cn", "localhost", "--wait", "--timeout", "180", "--json"], timeout: 240)
        let issued = try #require(try ec.json() as? [String: Any])
        let certificateId = try #require(issued["id"] as? String, "\(issued)")
        let keyFile = home.file("www.key")
        _ = try run(["cert", "export", certificateId, "--with-key", "--key-out", keyFile, "--json"])
        _ = try run(["cert", "show", certificateId, "--json"])
        for listing in [["cert", "list"], ["jobs", "list", "-n", "1000"], ["audit", "list", "--limit", "10000"], ["events", "list"],
                        ["alerts", "list"], ["audit", "verify"], ["report", "daily"]] {
            _ = try run(listing + ["--json"])
        }
        let soak = try run(["bench", "soak", "--quick", "--generated-keys", "--keep", home.file("soak"), "--json"], timeout: 900)
        serve.kill()
        outputs.append(("serve", serve.finish(timeout: 30)))
        let soakReport = try #require(try soak.json() as? [String: Any])
        let soakURL = try #require(soakReport["kept_database_url"] as? String)
        #expect(soakReport["passed"] as? Bool == true, "\(soak.output)")

        // The needles: every secret of the run, opened the way certbus itself opens them.
        let kek = try KeyEncryptionKey.read(path: home.file("kek"), creating: false)
        let soakKEK = try KeyEncryptionKey.read(path: home.file("soak/kek"), creating: false)
        let main = try home.connect()
        defer { main.close() }
        let soakDB = try Connection.connect(soakURL, applicationName: "certbus-test")
        defer { soakDB.close() }
        // The tables the issue names were all written to by the run (so scanning them means something).
        for table in ["notification_deliveries", "alerts", "events", "job_attempts", "audit_log"] {
            let rows: Int = try main.query("SELECT count(*) AS n FROM certbus.\(table)")[0].decode("n")
            #expect(rows > 0, "certbus.\(table) is empty")
        }
        let mainSecrets = try SealedSecrets.read(on: main, keyEncryptionKey: kek, label: "certbus")
        let soakSecrets = try SealedSecrets.read(on: soakDB, keyEncryptionKey: soakKEK, label: "soak")
        #expect(mainSecrets.unopened.isEmpty && soakSecrets.unopened.isEmpty, "\(mainSecrets.unopened) \(soakSecrets.unopened)")
        #expect(mainSecrets.unreviewedColumns.isEmpty && soakSecrets.unreviewedColumns.isEmpty)
        // demo-ca + root, scan-ca + root, the ACME account key, three generated keys (demo, EC, RSA; the ACME one too).
        #expect(mainSecrets.needles.filter { $0.name.contains("of CA") }.count == 5, "\(mainSecrets.needles.map(\.name))")
        #expect(mainSecrets.needles.filter { $0.name.contains("generated key") }.count >= 3)
        #expect(mainSecrets.needles.contains { $0.name.contains("signing secret of notification profile ops-hook") })
        #expect(soakSecrets.needles.filter { $0.name.contains("generated key") }.count == 500)
        var needles = [SecretNeedle.pemMarker] + mainSecrets.needles + soakSecrets.needles
        for (name, file) in [("KEK", "kek"), ("soak KEK", "soak/kek")] {
            needles.append(.bytes(try SecretBox.Key(base64: try String(contentsOfFile: home.file(file), encoding: .utf8)).bytes, name: name))
        }
        for (name, file) in [("audit key", "audit-signing-key.pem"), ("soak audit key", "soak/audit-signing-key.pem")] {
            let key = try PrivateKey(pem: try String(contentsOfFile: home.file(file), encoding: .utf8))
            needles.append(try .privateKey(pkcs8: try key.pkcs8DER(), name: name))
        }
        let exported = try PrivateKey(pem: try String(contentsOfFile: keyFile, encoding: .utf8))
        needles.append(try .privateKey(pkcs8: try exported.pkcs8DER(), name: "the exported key"))
        let scanner = SecretScanner(needles)

        // Positive control: the exported key is found where it was exported to.
        let control = scanner.scan(FileManager.default.contents(atPath: keyFile) ?? Data(), source: keyFile)
        #expect(Set(control.map(\.secret)).isSuperset(of: ["the exported key", "a PEM private key"]), "\(control)")

        var findings: [SecretFinding] = []
        var rows = 0
        for (label, connection) in [("certbus", main), ("soak", soakDB)] {
            try DatabaseText.forEachRow(on: connection) { row, text in
                rows += 1
                findings += scanner.scan(text, source: "\(label) \(row)")
            }
        }
        for (name, result) in outputs {
            findings += scanner.scan(result.output, source: "certbus \(name) (standard output)")
            findings += scanner.scan(result.error, source: "certbus \(name) (standard error)")
        }
        let soakFiles = try FileManager.default.contentsOfDirectory(atPath: home.file("soak")).filter { !["kek", "audit-signing-key.pem"].contains($0) }
        for name in soakFiles {
            findings += scanner.scan(FileManager.default.contents(atPath: home.file("soak/" + name)) ?? Data(), source: "soak/\(name)")
        }
        findings += scanner.scan(FileManager.default.contents(atPath: home.cluster.logFile) ?? Data(), source: "server log")
        #expect(rows > 5000, "the scan covered both databases")
        #expect(soakFiles.contains("worker-1.log") && soakFiles.contains("scheduler.log"))
        #expect(findings.isEmpty, "leaked: \(findings.map(\.description))")
    }
}
