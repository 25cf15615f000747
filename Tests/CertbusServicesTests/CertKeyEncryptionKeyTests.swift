import Foundation
import PKI
import Testing
@testable import CertbusServices

@Suite struct CertKeyEncryptionKeyTests {
    @Test func theDefaultKeyIsCreatedOnceWithMode0600() throws {
        let scratch = try CertScratch()
        let home = scratch.path("home")
        let first = try KeyEncryptionKey.load(environment: [:], homeDirectory: home)
        #expect(first.path == home + "/kek")
        var info = stat()
        #expect(stat(first.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let second = try KeyEncryptionKey.load(environment: [:], homeDirectory: home)
        let sealed = try first.seal(Data("secret".utf8), purpose: "test", id: UUID(uuidString: "00000000-0000-0000-0000-000000000001")!)
        #expect(try second.open(sealed, purpose: "test", id: UUID(uuidString: "00000000-0000-0000-0000-000000000001")!) == Data("secret".utf8))
        #expect(!first.description.contains(try scratch.read("home/kek").trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func concurrentCreatorsEndWithOneKey() throws {
        let scratch = try CertScratch()
        let keys = Locked<[Data]>([])
        let id = UUID()
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            if let key = try? KeyEncryptionKey.load(environment: [:], homeDirectory: scratch.path("home")),
               let sealed = try? key.seal(Data("x".utf8), purpose: "p", id: id) {
                keys.withLock { $0.append(sealed) }
            }
        }
        let sealed = keys.withLock { $0 }
        #expect(sealed.count == 6)
        let key = try KeyEncryptionKey.load(environment: [:], homeDirectory: scratch.path("home"))
        for box in sealed { #expect(try key.open(box, purpose: "p", id: id) == Data("x".utf8)) }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path("home"))
        #expect(leftovers == ["kek"])
    }

    @Test func aWorldReadableKeyFileIsRefused() throws {
        let scratch = try CertScratch()
        let path = try scratch.write(try SecretBox.Key.generate().base64, to: "kek")
        chmod(path, 0o644)
        do {
            _ = try KeyEncryptionKey.load(environment: ["CERTBUS_KEK_FILE": path], homeDirectory: scratch.path("home"))
            Issue.record("a world-readable KEK file was used")
        } catch let error as KeyEncryptionKeyError {
            #expect(error.description.contains("other users may access it"))
            #expect(error.description.contains("chmod 600"))
        }
        chmod(path, 0o600)
        #expect(try KeyEncryptionKey.load(environment: ["CERTBUS_KEK_FILE": path], homeDirectory: scratch.path("home")).path == path)
    }

    @Test func aMissingConfiguredFileIsNotCreated() throws {
        let scratch = try CertScratch()
        let path = scratch.path("missing-kek")
        #expect(throws: KeyEncryptionKeyError.self) {
            try KeyEncryptionKey.load(environment: ["CERTBUS_KEK_FILE": path], homeDirectory: scratch.path("home"))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: scratch.path("home/kek")))
    }

    @Test func garbageContentIsRefusedWithoutEchoingIt() throws {
        let scratch = try CertScratch()
        let path = try scratch.write("not-a-key-SECRETISH", to: "kek")
        chmod(path, 0o600)
        do {
            _ = try KeyEncryptionKey.read(path: path, creating: false)
            Issue.record("garbage accepted")
        } catch let error as KeyEncryptionKeyError {
            #expect(error.description.contains("base64 of exactly 32 bytes"))
            #expect(!error.description.contains("SECRETISH"))
        }
    }

    @Test func sealedValuesAreBoundToTheirRecord() throws {
        let key = KeyEncryptionKey(key: try SecretBox.Key.generate())
        let a = UUID(), b = UUID()
        let sealed = try key.seal(Data("k".utf8), purpose: "ca-private-key", id: a)
        #expect(throws: KeyEncryptionKeyError.self) { try key.open(sealed, purpose: "ca-private-key", id: b) }
        #expect(throws: KeyEncryptionKeyError.self) { try key.open(sealed, purpose: "certificate-private-key", id: a) }
        var tampered = sealed
        tampered[tampered.count - 1] ^= 1
        #expect(throws: KeyEncryptionKeyError.self) { try key.open(tampered, purpose: "ca-private-key", id: a) }
    }
}
