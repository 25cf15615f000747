import Foundation
import PKI
import Testing

@testable import CertbusServices

/// The pure parts of the chain: exact timestamps, the canonical encoding, checkpoints.
@Suite struct AuditChainTests {
    @Test func timestampsParseExactly() throws {
        #expect(try AuditTimestamp.microseconds(fromPostgresText: "2026-11-21 22:11:39.643123+00") == 1_795_299_099_643_123)
        #expect(try AuditTimestamp.microseconds(fromPostgresText: "2026-11-21 22:11:39.6431+00") == 1_795_299_099_643_100)
        #expect(try AuditTimestamp.microseconds(fromPostgresText: "2026-11-21 22:11:39+00") == 1_795_299_099_000_000)
        #expect(try AuditTimestamp.microseconds(fromPostgresText: "2026-11-22 03:41:39.643123+05:30") == 1_795_299_099_643_123)
        #expect(try AuditTimestamp.microseconds(fromPostgresText: "2026-11-21T17:11:39.643123-05") == 1_795_299_099_643_123)
        #expect(try AuditTimestamp.microseconds(fromPostgresText: "1969-12-31 23:59:59.999999+00") == -1)
        #expect(try AuditTimestamp.microseconds(fromPostgresText: "2000-02-29 00:00:00+00") == 951_782_400_000_000)
    }

    @Test func malformedTimestampsAreRefused() {
        for text in ["infinity", "", "2026-11-21", "2026-13-01 00:00:00+00", "2026-11-21 22:11:39.1234567+00",
                     "2026-11-21 22:11:39.+00", "2026-11-21 22:11:39", "2026-11-21 22:11:39+00x", "2026-11-21 25:00:00+00"] {
            #expect(throws: AuditError.self, "\(text)") { try AuditTimestamp.microseconds(fromPostgresText: text) }
        }
    }

    @Test func timestampsFormatAndRoundTrip() throws {
        for micros: Int64 in [0, 1, -1, 1_795_299_099_643_123, 951_782_400_000_000, 253_402_300_799_999_999] {
            let text = AuditTimestamp.postgresText(microseconds: micros)
            #expect(try AuditTimestamp.microseconds(fromPostgresText: text) == micros, "\(text)")
        }
        #expect(AuditTimestamp.postgresText(microseconds: 1_795_299_099_643_123) == "2026-11-21 22:11:39.643123+00")
        #expect(AuditTimestamp.iso8601(microseconds: 1_795_299_099_643_123) == "2026-11-21T22:11:39.643123Z")
    }

    static let first = AuditRow(
        id: 42, occurredAtMicroseconds: 1_795_299_099_643_123, action: "ISSUANCE_COMPLETED", entityType: "Certificate",
        entityId: "c-1", actorType: "USER", actorId: "alice", detailsText: #"{"serial": "01", "ü": [true, null]}"#,
        transactionId: 777)
    static let second = AuditRow(
        id: 43, occurredAtMicroseconds: 1_795_299_099_643_124, action: "CA_CREATED", entityType: "CA", entityId: "ca",
        actorType: "SYSTEM", actorId: "worker", detailsText: "{}", transactionId: 778)

    /// Expected values computed independently (Python hashlib) from the encoding in docs/audit.md.
    @Test func chainHashesMatchTheDocumentedEncoding() {
        let h1 = AuditChain.hash(previous: AuditChain.genesisHash, row: Self.first, position: 1)
        #expect(Hex.encode(h1) == "da22b7cf962aceab3a98e506d8982a7d28f8e45e524b213292b68b4f77233b18")
        let h2 = AuditChain.hash(previous: h1, row: Self.second, position: 2)
        #expect(Hex.encode(h2) == "e7466af5c46921886c32a75981c10a775247e4526849ac052566ff5818555c07")
    }

    @Test func everyFieldAndThePositionChangeTheHash() {
        let base = AuditChain.hash(previous: AuditChain.genesisHash, row: Self.first, position: 1)
        var variants: [AuditRow] = []
        var r = Self.first
        r.id += 1; variants.append(r); r = Self.first
        r.occurredAtMicroseconds += 1; variants.append(r); r = Self.first
        r.action = "ISSUANCE_FAILED"; variants.append(r); r = Self.first
        r.entityType = "CSR"; variants.append(r); r = Self.first
        r.entityId = "c-2"; variants.append(r); r = Self.first
        r.actorType = "AGENT"; variants.append(r); r = Self.first
        r.actorId = "alicf"; variants.append(r); r = Self.first
        r.detailsText = #"{"serial": "02", "ü": [true, null]}"#; variants.append(r); r = Self.first
        r.transactionId += 1; variants.append(r); r = Self.first
        // Moving bytes between adjacent fields must change the encoding (length prefixes).
        r.entityType = "Certificatec"; r.entityId = "-1"; variants.append(r)
        for variant in variants {
            #expect(AuditChain.hash(previous: AuditChain.genesisHash, row: variant, position: 1) != base)
        }
        #expect(AuditChain.hash(previous: AuditChain.genesisHash, row: Self.first, position: 2) != base)
        #expect(AuditChain.hash(previous: Data(repeating: 1, count: 32), row: Self.first, position: 1) != base)
    }

    @Test func checkpointsSignVerifyAndRoundTrip() throws {
        let key = try AuditSigningKey(privateKey: PrivateKey.generate(.ed25519))
        let checkpoint = try AuditCheckpoint.sign(
            chainPosition: 7, headHash: Data(repeating: 0xab, count: 32), signedAtMicroseconds: 1_795_299_099_643_123,
            key: key)
        #expect(checkpoint.hasValidSignature)
        let decoded = try JSONDecoder().decode(AuditCheckpoint.self, from: checkpoint.exportJSON())
        #expect(decoded == checkpoint)

        var tampered = checkpoint
        tampered.chainPosition = 8
        #expect(!tampered.hasValidSignature)
        tampered = checkpoint
        tampered.headHash[0] ^= 1
        #expect(!tampered.hasValidSignature)
        tampered = checkpoint
        tampered.signedAtMicroseconds += 1
        #expect(!tampered.hasValidSignature)
        tampered = checkpoint
        tampered.signature[10] ^= 1
        #expect(!tampered.hasValidSignature)
        tampered = checkpoint
        tampered.publicKey = try AuditSigningKey(privateKey: PrivateKey.generate(.ed25519)).publicKey
        #expect(!tampered.hasValidSignature)
    }

    @Test func malformedCheckpointFilesAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-cp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = [
            "not json", #"{"format": "other"}"#,
            #"{"format": "certbus-audit-checkpoint-v1", "chainPosition": 1, "headHash": "abcd", "signedAtMicroseconds": 1, "publicKey": "00", "signature": "00"}"#,
        ]
        for (i, text) in cases.enumerated() {
            let path = dir.appendingPathComponent("\(i).json").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: AuditError.self) { try AuditCheckpoint.read(file: path) }
        }
        #expect(throws: AuditError.self) { try AuditCheckpoint.read(file: dir.appendingPathComponent("missing").path) }
    }
}
