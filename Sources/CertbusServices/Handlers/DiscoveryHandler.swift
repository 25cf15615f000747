import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// Runs DISCOVERY jobs: probes every target with `TLSProbe` (bounded parallelism), then records
/// the served leaf certificates as DISCOVERED (deduplicated by fingerprint) with their findings,
/// CERTIFICATE_DISCOVERED per new certificate, DISCOVERY_FINISHED and the audit rows, in the
/// job's completing transaction.
///
/// Payload: `{"targets": ["host:port", "192.0.2.0/28:443", ...], "name": "...", "timeout_seconds": 5}`.
/// Targets are checked by `DiscoveryTargets` (ranges of at most 256 addresses, at most 1024 targets);
/// bad targets fail the job permanently before anything is probed or written.
public struct DiscoveryHandler: JobHandler {
    public let kind = JobKind.discoverCertificates
    /// Probes in flight at once.
    public var concurrency: Int
    /// Default per-target timeout in seconds.
    public var probeTimeout: Double

    public init(concurrency: Int = 16, probeTimeout: Double = 5) {
        self.concurrency = concurrency
        self.probeTimeout = probeTimeout
    }

    public var maximumRunTime: Double { 3600 }

    /// The job's input.
    public struct Payload: Codable, Sendable, Equatable {
        public var targets: [String]
        public var name: String?
        public var timeoutSeconds: Double?

        public init(targets: [String], name: String? = nil, timeoutSeconds: Double? = nil) {
            self.targets = targets
            self.name = name
            self.timeoutSeconds = timeoutSeconds
        }

        enum CodingKeys: String, CodingKey {
            case targets, name, timeoutSeconds = "timeout_seconds"
        }
    }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        let payload = try job.decodePayload(Payload.self)
        let targets: [HostPort]
        do {
            targets = try DiscoveryTargets.parse(payload.targets)
        } catch {
            throw JobFailure.permanent(error.description)
        }
        let timeout = payload.timeoutSeconds ?? probeTimeout
        guard (0.1...60).contains(timeout) else {
            throw JobFailure.permanent("timeout_seconds must be between 0.1 and 60, got \(timeout)")
        }
        let name = String((payload.name ?? job.name).prefix(200))
        let actor = job.triggeredBy
        let runId = try context.database.withConnection { c in
            try DiscoveryRecorder.start(jobId: job.id, name: name, targets: payload.targets, actor: actor, on: c)
        }
        let lastBeat = LockedCounter()
        let findings = ProbeFanOut.probe(targets, timeout: timeout, width: concurrency) {
            // Heartbeat every 32 probes; a failing heartbeat only means the lease may lapse.
            if lastBeat.take() % 32 == 31 { try? context.heartbeat() }
        }
        let reachable = findings.filter { if case .success = $0.result { true } else { false } }
        let certificates = Set(reachable.compactMap { try? $0.result.get().leaf.sha256Fingerprint })
        let output = """
            {"discovery_id":"\(runId.uuidString.lowercased())","targets_probed":\(findings.count),\
            "targets_reachable":\(reachable.count),"certificates_found":\(certificates.count)}
            """
        return JobCompletion(output: output) { c in
            try DiscoveryRecorder.finish(runId: runId, name: name, findings: findings, actor: actor, on: c)
        }
    }
}
