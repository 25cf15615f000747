import Foundation
import PKI

/// The key-encryption key (KEK): the AES-256 key that seals private keys at rest (built-in CA
/// keys, server-generated certificate keys) with ``SecretBox``.
///
/// It is read from the file named by `CERTBUS_KEK_FILE` (base64 of 32 random bytes), or by
/// default from `<certbus home>/kek`, which is created with mode 0600 on first use. A KEK file
/// that other users may read, write or execute (any "other" permission bit) is refused, and so
/// is a missing `CERTBUS_KEK_FILE` (certbus only creates the default one). The key never appears
/// in a description, log or error.
public struct KeyEncryptionKey: Sendable, CustomStringConvertible {
    /// The environment variable naming the KEK file.
    public static let environmentVariable = "CERTBUS_KEK_FILE"
    /// The default file name inside the certbus home folder.
    public static let defaultFileName = "kek"

    /// Where the key was read from.
    public let path: String
    private let box: SecretBox

    /// A KEK from a key already in memory (tests, tools); `path` is only for messages.
    public init(key: SecretBox.Key, path: String = "(memory)") {
        self.path = path
        box = SecretBox(key: key)
    }

    /// Loads the KEK named by `CERTBUS_KEK_FILE` in `environment`, or the default file under
    /// `homeDirectory` (creating it, and the folder, when absent).
    public static func load(environment: [String: String], homeDirectory: String) throws -> KeyEncryptionKey {
        if let configured = environment[environmentVariable], !configured.isEmpty {
            return try read(path: configured, creating: false)
        }
        return try read(path: (homeDirectory as NSString).appendingPathComponent(defaultFileName), creating: true)
    }

    /// Reads a KEK file, optionally creating it with a fresh key when it does not exist.
    public static func read(path: String, creating: Bool) throws -> KeyEncryptionKey {
        var info = stat()
        if stat(path, &info) != 0 {
            guard errno == ENOENT else {
                throw KeyEncryptionKeyError(path: path, message: "cannot read it: \(String(cString: strerror(errno)))")
            }
            guard creating else {
                throw KeyEncryptionKeyError(
                    path: path,
                    message: "the file does not exist; create one with: (umask 077; openssl rand -base64 32 > \(path))")
            }
            try create(path: path)
            return try read(path: path, creating: false)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw KeyEncryptionKeyError(path: path, message: "not a regular file")
        }
        guard info.st_mode & 0o007 == 0 else {
            throw KeyEncryptionKeyError(
                path: path,
                message: "other users may access it (mode \(String(info.st_mode & 0o777, radix: 8))); run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyEncryptionKeyError(path: path, message: "cannot read it")
        }
        let text = String(decoding: data, as: UTF8.self)
        do {
            return KeyEncryptionKey(key: try SecretBox.Key(base64: text), path: path)
        } catch {
            throw KeyEncryptionKeyError(path: path, message: "it must hold the base64 of exactly 32 bytes")
        }
    }

    /// Creates `path` with a fresh key, mode 0600, atomically: written to a temporary file and
    /// linked into place, so a concurrent reader never sees a half-written key and two creators
    /// end with one key.
    static func create(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
        let key = try SecretBox.Key.generate()
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #if canImport(Glibc)
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #else
        let descriptor = Darwin.open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #endif
        guard descriptor >= 0 else {
            throw KeyEncryptionKeyError(path: path, message: "cannot create it: \(String(cString: strerror(errno)))")
        }
        let bytes = Array((key.base64 + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        defer { unlink(temporary) }
        guard written == bytes.count, synced == 0 else {
            throw KeyEncryptionKeyError(path: path, message: "cannot write it: \(String(cString: strerror(errno)))")
        }
        if link(temporary, path) != 0 && errno != EEXIST {
            throw KeyEncryptionKeyError(path: path, message: "cannot create it: \(String(cString: strerror(errno)))")
        }
    }

    /// Seals `secret` for the record `purpose`/`id` (both authenticated, so a sealed value cannot
    /// be moved to another record).
    public func seal(_ secret: Data, purpose: String, id: UUID) throws -> Data {
        try box.seal(secret, additionalData: Self.additionalData(purpose: purpose, id: id))
    }

    /// Opens a value sealed by ``seal(_:purpose:id:)`` for the same record.
    public func open(_ sealed: Data, purpose: String, id: UUID) throws -> Data {
        do {
            return try box.open(sealed, additionalData: Self.additionalData(purpose: purpose, id: id))
        } catch let error as PKIError where error.kind == .authenticationFailed {
            throw KeyEncryptionKeyError(
                path: path,
                message: "the sealed \(purpose) of \(id.uuidString.lowercased()) does not open with this key-encryption key (another KEK file sealed it, or the data was altered)")
        }
    }

    static func additionalData(purpose: String, id: UUID) -> Data {
        Data("certbus:\(purpose):\(id.uuidString.lowercased())".utf8)
    }

    /// "KeyEncryptionKey(<path>)" — never the key.
    public var description: String { "KeyEncryptionKey(\(path))" }
}

/// A KEK file that cannot be used.
public struct KeyEncryptionKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The KEK file.
    public var path: String
    /// What is wrong.
    public var message: String

    /// "key-encryption key <path>: message".
    public var description: String { "key-encryption key \(path): \(message)" }
}
