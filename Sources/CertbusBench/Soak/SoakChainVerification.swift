import CertbusServices
import Foundation
import PKI
import Postgres

/// Every issued certificate checked against its chain: in Swift for all of them (the same
/// leaf → served intermediates → CA root path check `certbus endpoint validate` uses, plus the
/// stored fingerprint against the certificate's DER), and with the `openssl verify` command on an
/// evenly spread sample, as a check independent of certbus's own code.
public struct SoakChainVerification: Sendable, Equatable, Codable {
    /// Certificates found, and those that verified.
    public var certificates = 0
    public var verified = 0
    /// The first failures, naming the certificate and the problem.
    public var failures: [String] = []
    /// Certificates given to `openssl verify`, and those it accepted.
    public var opensslChecked = 0
    public var opensslPassed = 0
    /// Why the openssl sample did not run, when it did not.
    public var opensslSkipped: String?

    /// The verdict as a soak check.
    public var check: SoakCheck {
        var detail = "\(verified) of \(certificates) verify against their chain to the CA root (Swift)"
        if let skipped = opensslSkipped {
            detail += "; openssl sample skipped: \(skipped)"
        } else {
            detail += "; openssl verify: \(opensslPassed) of \(opensslChecked) sampled"
        }
        let passed = certificates > 0 && verified == certificates && opensslPassed == opensslChecked
        return SoakCheck("chains", passed: passed, detail: detail, examples: failures)
    }

    /// Verifies every certificate of the database on `connection`; `sample` of them also with
    /// `openssl verify` (files written to `directory`).
    public static func run(on connection: Connection, sample: Int, directory: String) throws -> SoakChainVerification {
        let anchors = try connection.query(
            "SELECT certificate_pem, chain_pem FROM certbus.certificate_authorities WHERE certificate_pem IS NOT NULL"
        ).flatMap { row -> [Certificate] in
            let pem = (try row.decode("certificate_pem", as: String.self)) + ((try row.decode("chain_pem", as: String?.self)) ?? "")
            return try Certificate.parseChain(pem: pem)
        }
        let rows = try connection.query(
            "SELECT id::text AS id, fingerprint_sha256, common_name, certificate_pem, chain_pem FROM certbus.certificates ORDER BY id")
        struct Stored { var id: String, fingerprint: String, name: String, pem: String, chain: String }
        let stored = try rows.map {
            Stored(id: try $0.decode("id"), fingerprint: try $0.decode("fingerprint_sha256"),
                   name: (try $0.decode("common_name", as: String?.self)) ?? "", pem: try $0.decode("certificate_pem"),
                   chain: (try $0.decode("chain_pem", as: String?.self)) ?? "")
        }
        let problems = BenchLocked<[String]>([])
        let verified = BenchLocked<Int>(0)
        let chunk = 200
        DispatchQueue.concurrentPerform(iterations: (stored.count + chunk - 1) / chunk) { part in
            for item in stored[(part * chunk)..<min(stored.count, (part + 1) * chunk)] {
                if let problem = Self.problem(item.pem, chain: item.chain, fingerprint: item.fingerprint, name: item.name, anchors: anchors) {
                    problems.update { if $0.count < 5 { $0.append("certificate \(item.id): \(problem)") } }
                } else {
                    verified.add()
                }
            }
        }
        var result = SoakChainVerification(certificates: stored.count, verified: verified.value, failures: problems.value)
        let picks = stride(from: 0, to: stored.count, by: max(1, stored.count / max(1, sample))).prefix(sample).map { stored[$0] }
        guard let openssl = Self.openssl() else {
            result.opensslSkipped = "no openssl program on PATH"
            return result
        }
        guard let root = anchors.first(where: \.isSelfIssued) else {
            result.opensslSkipped = "no self-signed CA certificate to trust"
            return result
        }
        let rootFile = (directory as NSString).appendingPathComponent("soak-root.pem")
        try root.pem.write(toFile: rootFile, atomically: true, encoding: .utf8)
        for item in picks {
            let leaf = (directory as NSString).appendingPathComponent("soak-leaf-\(item.id).pem")
            let chain = (directory as NSString).appendingPathComponent("soak-chain-\(item.id).pem")
            try item.pem.write(toFile: leaf, atomically: true, encoding: .utf8)
            try item.chain.write(toFile: chain, atomically: true, encoding: .utf8)
            defer { for file in [leaf, chain] { try? FileManager.default.removeItem(atPath: file) } }
            result.opensslChecked += 1
            let process = try BenchProcess(openssl, ["verify", "-CAfile", rootFile, "-untrusted", chain, leaf])
            let status = process.wait(timeout: 30)
            if status == 0 && process.log.contains(": OK") {
                result.opensslPassed += 1
            } else if result.failures.count < 5 {
                result.failures.append("openssl verify of certificate \(item.id): \(process.log.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        try? FileManager.default.removeItem(atPath: rootFile)
        return result
    }

    /// Why `pem` does not verify, or nil: its DER hashes to the stored fingerprint, and a
    /// signature path runs from it through its stored chain to one of `anchors`, valid now.
    static func problem(_ pem: String, chain: String, fingerprint: String, name: String, anchors: [Certificate]) -> String? {
        do {
            let leaf = try Certificate(pem: pem)
            guard leaf.sha256Fingerprint == fingerprint else { return "stored fingerprint \(fingerprint) is not the certificate's" }
            let served = [leaf.der] + (try Certificate.parseChain(pem: chain)).map(\.der)
            let verdict = DeploymentCheck.evaluate(
                servedChain: served, expectation: DeploymentExpectation(certificate: leaf, name: name, caCertificates: anchors))
            return verdict.passed ? nil : verdict.problems.map(\.description).joined(separator: "; ")
        } catch {
            return "\(error)"
        }
    }

    /// The `openssl` program on PATH, if any.
    static func openssl() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/openssl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
