import Foundation
import PKI

/// The Ed25519 key that signs audit checkpoints. It lives outside the database
/// (a superuser of the database must not be able to re-sign a rewritten chain).
///
/// Location: `CERTBUS_AUDIT_KEY_FILE` if set (the file must exist), otherwise
/// `<certbus home>/audit-signing-key.pem`, which is created on first use with
/// mode 0600. A key file readable by group or others is refused.
public struct AuditSigningKey: Sendable {
    /// The environment variable naming the key file.
    public static let environmentVariable = "CERTBUS_AUDIT_KEY_FILE"
    /// The default file name under the certbus home folder.
    public static let defaultFileName = "audit-signing-key.pem"

    /// The private key.
    public let privateKey: PrivateKey
    /// Where it was loaded from.
    public let path: String

    /// The raw 32-byte public key, as stored with every checkpoint.
    public var publicKey: Data { privateKey.publicKey.rawEd25519 ?? Data() }

    /// Wraps an Ed25519 key already in memory (tests, tools).
    public init(privateKey: PrivateKey, path: String = "(memory)") throws {
        guard privateKey.algorithm == .ed25519 else {
            throw AuditError("the audit signing key must be Ed25519, not \(privateKey.algorithm)")
        }
        self.privateKey = privateKey
        self.path = path
    }

    /// The key file to use: `CERTBUS_AUDIT_KEY_FILE`, else the default under `homeDirectory`,
    /// and whether it may be created when missing (only the default may).
    public static func location(
        environment: [String: String] = ProcessInfo.processInfo.environment, homeDirectory: String
    ) -> (path: String, mayCreate: Bool) {
        if let explicit = environment[environmentVariable], !explicit.isEmpty { return (explicit, false) }
        return ((homeDirectory as NSString).appendingPathComponent(defaultFileName), true)
    }

    /// Loads the key from its location (see `location`), creating the default file if needed.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment, homeDirectory: String
    ) throws -> AuditSigningKey {
        let (path, mayCreate) = location(environment: environment, homeDirectory: homeDirectory)
        if mayCreate, !FileManager.default.fileExists(atPath: path) { return try create(at: path) }
        return try load(path: path)
    }

    /// Loads the PEM (PKCS#8) Ed25519 key at `path`.
    public static func load(path: String) throws -> AuditSigningKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw AuditError(
                "audit signing key \(path) does not exist or cannot be read (set \(environmentVariable) to the key file)")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw AuditError(
                "audit signing key \(path) is readable by other users (mode \(String(info.st_mode & 0o777, radix: 8))); "
                    + "run: chmod 600 \(path)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AuditError("cannot read audit signing key \(path)")
        }
        let key: PrivateKey
        do {
            key = try PrivateKey(pem: text)
        } catch {
            throw AuditError("audit signing key \(path) is not a PEM private key: \(error)")
        }
        return try AuditSigningKey(privateKey: key, path: path)
    }

    /// Generates a new key and writes it to `path` with mode 0600 (the folder is
    /// created with mode 0700 if missing). Refuses to overwrite an existing file.
    public static func create(at path: String) throws -> AuditSigningKey {
        let key = try PrivateKey.generate(.ed25519)
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let pem = Array(try key.pkcs8PEM().utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw AuditError("cannot create audit signing key \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = pem.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == pem.count, fsync(fd) == 0 else {
            throw AuditError("cannot write audit signing key \(path): \(String(cString: strerror(errno)))")
        }
        return try AuditSigningKey(privateKey: key, path: path)
    }

    /// Signs `message` (pure Ed25519).
    public func sign(_ message: Data) throws -> Data {
        try privateKey.sign(message)
    }
}
