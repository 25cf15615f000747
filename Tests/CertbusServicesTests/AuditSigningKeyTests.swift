import Foundation
import PKI
import Testing

@testable import CertbusServices

/// The checkpoint signing key file.
@Suite struct AuditSigningKeyTests {
    func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    @Test func defaultKeyIsCreatedOnceWithMode0600() throws {
        let home = try scratch() + "/home"
        defer { try? FileManager.default.removeItem(atPath: (home as NSString).deletingLastPathComponent) }
        let created = try AuditSigningKey.load(environment: [:], homeDirectory: home)
        #expect(created.path == home + "/audit-signing-key.pem")
        let mode = try FileManager.default.attributesOfItem(atPath: created.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try AuditSigningKey.load(environment: [:], homeDirectory: home)
        #expect(again.publicKey == created.publicKey)
        #expect(created.publicKey.count == 32)
    }

    @Test func explicitKeyFileMustExist() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = dir + "/nope.pem"
        let error = #expect(throws: AuditError.self) {
            try AuditSigningKey.load(environment: ["CERTBUS_AUDIT_KEY_FILE": missing], homeDirectory: dir)
        }
        #expect(error?.message.contains("CERTBUS_AUDIT_KEY_FILE") == true)
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test func readableByOthersOrWrongKindIsRefused() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/key.pem"
        _ = try AuditSigningKey.create(at: path)
        chmod(path, 0o644)
        let error = #expect(throws: AuditError.self) { try AuditSigningKey.load(path: path) }
        #expect(error?.message.contains("chmod 600") == true)

        let ecPath = dir + "/ec.pem"
        try PrivateKey.generate(.ecdsa(.p256)).pkcs8PEM().write(toFile: ecPath, atomically: true, encoding: .utf8)
        chmod(ecPath, 0o600)
        #expect(throws: AuditError.self) { try AuditSigningKey.load(path: ecPath) }
        #expect(throws: AuditError.self) { try AuditSigningKey.create(at: path) }  // never overwrites
    }
}
