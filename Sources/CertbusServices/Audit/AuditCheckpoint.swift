import Foundation
import PKI
import Postgres

/// A signed checkpoint of the audit hash chain: "the chain head at position P
/// was H at time T", signed with the audit key. Stored in
/// `certbus.audit_checkpoints` and exported as JSON for safekeeping elsewhere.
public struct AuditCheckpoint: Sendable, Equatable, Codable {
    /// The export file format name.
    public static let format = "certbus-audit-checkpoint-v1"

    /// Checkpoint id in the database (0 when unknown).
    public var id: Int64
    /// The chain position covered: every row at or below it.
    public var chainPosition: Int64
    /// The chain hash of the row at `chainPosition`.
    public var headHash: Data
    /// Signing time, microseconds since the Unix epoch (part of the signed message).
    public var signedAtMicroseconds: Int64
    /// Raw 32-byte Ed25519 public key of the signer.
    public var publicKey: Data
    /// 64-byte Ed25519 signature over `signedMessage`.
    public var signature: Data

    public init(
        id: Int64 = 0, chainPosition: Int64, headHash: Data, signedAtMicroseconds: Int64, publicKey: Data,
        signature: Data
    ) {
        self.id = id
        self.chainPosition = chainPosition
        self.headHash = headHash
        self.signedAtMicroseconds = signedAtMicroseconds
        self.publicKey = publicKey
        self.signature = signature
    }

    /// The bytes that are signed:
    /// `"certbus-audit-checkpoint-v1"` ‖ 0x00 ‖ u64(chainPosition) ‖ headHash (32) ‖ i64(signedAt µs), big-endian.
    public static func signedMessage(chainPosition: Int64, headHash: Data, signedAtMicroseconds: Int64) -> Data {
        var out = Array(format.utf8)
        out.append(0)
        AuditChain.appendInteger(UInt64(bitPattern: chainPosition), to: &out)
        out.append(contentsOf: headHash)
        AuditChain.appendInteger(UInt64(bitPattern: signedAtMicroseconds), to: &out)
        return Data(out)
    }

    /// The message this checkpoint's signature covers.
    public var signedMessage: Data {
        Self.signedMessage(chainPosition: chainPosition, headHash: headHash, signedAtMicroseconds: signedAtMicroseconds)
    }

    /// Signs a new checkpoint with `key`.
    public static func sign(
        chainPosition: Int64, headHash: Data, signedAtMicroseconds: Int64, key: AuditSigningKey
    ) throws -> AuditCheckpoint {
        let message = signedMessage(
            chainPosition: chainPosition, headHash: headHash, signedAtMicroseconds: signedAtMicroseconds)
        return AuditCheckpoint(
            chainPosition: chainPosition, headHash: headHash, signedAtMicroseconds: signedAtMicroseconds,
            publicKey: key.publicKey, signature: try key.sign(message))
    }

    /// True when the signature is a valid Ed25519 signature of `signedMessage` by `publicKey`.
    /// A malformed key or signature is simply invalid.
    public var hasValidSignature: Bool {
        guard publicKey.count == 32, signature.count == 64, headHash.count == 32,
            let key = try? PublicKey(rawEd25519: publicKey)
        else { return false }
        return (try? key.verify(signature: signature, for: signedMessage)) ?? false
    }

    // MARK: - Export file

    enum CodingKeys: String, CodingKey {
        case format, id = "checkpointId", chainPosition, headHash, signedAt, signedAtMicroseconds, publicKey, signature
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(id, forKey: .id)
        try c.encode(chainPosition, forKey: .chainPosition)
        try c.encode(AuditHex.encode(headHash), forKey: .headHash)
        try c.encode(AuditTimestamp.iso8601(microseconds: signedAtMicroseconds), forKey: .signedAt)
        try c.encode(signedAtMicroseconds, forKey: .signedAtMicroseconds)
        try c.encode(AuditHex.encode(publicKey), forKey: .publicKey)
        try c.encode(AuditHex.encode(signature), forKey: .signature)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(String.self, forKey: .format)
        guard format == Self.format else {
            throw AuditError("unsupported checkpoint format '\(format)' (expected \(Self.format))")
        }
        func hex(_ key: CodingKeys, bytes: Int) throws -> Data {
            let text = try c.decode(String.self, forKey: key)
            guard let data = AuditHex.decode(text), data.count == bytes else {
                throw AuditError("checkpoint \(key.stringValue) must be \(bytes) bytes of hex")
            }
            return data
        }
        self.id = try c.decodeIfPresent(Int64.self, forKey: .id) ?? 0
        self.chainPosition = try c.decode(Int64.self, forKey: .chainPosition)
        self.headHash = try hex(.headHash, bytes: 32)
        self.signedAtMicroseconds = try c.decode(Int64.self, forKey: .signedAtMicroseconds)
        self.publicKey = try hex(.publicKey, bytes: 32)
        self.signature = try hex(.signature, bytes: 64)
    }

    /// The pretty-printed JSON export (keys sorted), ending with a newline.
    public func exportJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Reads an exported checkpoint file; a clear error when it is not one.
    public static func read(file path: String) throws -> AuditCheckpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AuditError("cannot read checkpoint file \(path)")
        }
        do {
            return try JSONDecoder().decode(AuditCheckpoint.self, from: data)
        } catch let error as AuditError {
            throw AuditError("\(path): \(error.message)")
        } catch {
            throw AuditError("\(path) is not a certbus audit checkpoint file: \(error)")
        }
    }

    // MARK: - Database

    static let selectList = "id, chain_position, head_hash, signed_at, public_key, signature"

    init(row: Row) throws {
        func bytes(_ column: String) throws -> Data {
            guard let text = try row.text(column), text.hasPrefix("\\x"), let data = AuditHex.decode(text.dropFirst(2)) else {
                throw AuditError("audit checkpoint column \(column) is not bytea")
            }
            return data
        }
        self.id = try row.decode("id", as: Int64.self)
        self.chainPosition = try row.decode("chain_position", as: Int64.self)
        self.headHash = try bytes("head_hash")
        self.signedAtMicroseconds = try AuditTimestamp.microseconds(
            fromPostgresText: try row.decode("signed_at", as: String.self))
        self.publicKey = try bytes("public_key")
        self.signature = try bytes("signature")
    }

    /// Every stored checkpoint, in chain order.
    public static func all(on connection: Connection) throws -> [AuditCheckpoint] {
        try connection.query(
            "SELECT \(selectList) FROM certbus.audit_checkpoints ORDER BY chain_position, id"
        ).map { try AuditCheckpoint(row: $0) }
    }

    /// The most recent stored checkpoint, if any.
    public static func latest(on connection: Connection) throws -> AuditCheckpoint? {
        try connection.query(
            "SELECT \(selectList) FROM certbus.audit_checkpoints ORDER BY chain_position DESC, id DESC LIMIT 1"
        ).first.map { try AuditCheckpoint(row: $0) }
    }
}
