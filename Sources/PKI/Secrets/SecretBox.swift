import COpenSSL
import Foundation

/// Authenticated encryption of secrets at rest (e.g. CA private keys under a key-encryption
/// key) with AES-256-GCM.
///
/// Sealed format: version byte `0x01` || 12-byte random nonce || ciphertext || 16-byte tag.
/// Opening with the wrong key, different additional data or altered bytes fails with
/// `.authenticationFailed` and returns nothing.
public struct SecretBox: Sendable {
    /// A 256-bit AES key. Its description never shows the bytes.
    public struct Key: Sendable, Equatable, CustomStringConvertible {
        /// The raw 32 bytes, for storing the key (e.g. base64 in a protected file).
        public let bytes: Data

        /// A key from exactly 32 bytes.
        public init(bytes: Data) throws {
            guard bytes.count == SecretBox.keyByteCount else {
                throw PKIError(.invalidArgument, operation: "load secret box key",
                               message: "an AES-256 key is \(SecretBox.keyByteCount) bytes, not \(bytes.count)")
            }
            self.bytes = bytes
        }

        /// A key from base64 text of 32 bytes.
        public init(base64: String) throws {
            guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw PKIError(.invalidArgument, operation: "load secret box key", message: "the key is not valid base64")
            }
            try self.init(bytes: data)
        }

        /// A fresh random key from the CSPRNG.
        public static func generate() throws -> Key {
            try Key(bytes: SecureRandom.bytes(SecretBox.keyByteCount))
        }

        /// The key as base64 text.
        public var base64: String { bytes.base64EncodedString() }

        /// "SecretBox.Key(redacted)".
        public var description: String { "SecretBox.Key(redacted)" }

        /// Compares keys in constant time.
        public static func == (lhs: Key, rhs: Key) -> Bool { ConstantTime.equals(lhs.bytes, rhs.bytes) }
    }

    /// Key length in bytes.
    public static let keyByteCount = 32
    /// Nonce length in bytes.
    public static let nonceByteCount = 12
    /// Tag length in bytes.
    public static let tagByteCount = 16
    /// The format version byte this code writes.
    public static let version: UInt8 = 1
    /// Bytes a sealed box adds to the plaintext.
    public static let overhead = 1 + nonceByteCount + tagByteCount

    /// The key this box seals and opens with.
    public let key: Key

    /// A box using `key`.
    public init(key: Key) {
        self.key = key
    }

    /// Encrypts and authenticates `plaintext`, also authenticating `additionalData` (not stored;
    /// the same bytes must be given to ``open(_:additionalData:)``, e.g. the record's id).
    public func seal(_ plaintext: Data, additionalData: Data = Data()) throws -> Data {
        let operation = "seal secret"
        let nonce = try SecureRandom.bytes(Self.nonceByteCount)
        let context = try makeContext(operation)
        defer { EVP_CIPHER_CTX_free(context) }
        try withBytes(key.bytes) { keyPointer, _ in
            try withBytes(nonce) { noncePointer, _ in
                guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, keyPointer, noncePointer) == 1 else {
                    throw PKIError.openSSL(.internalFailure, operation, "cannot start AES-256-GCM")
                }
            }
        }
        try authenticate(additionalData, context, encrypting: true, operation)
        var ciphertext = Data(count: plaintext.count + 16)
        var produced: Int32 = 0
        try withBytes(plaintext) { input, count in
            try ciphertext.withUnsafeMutableBytes { out in
                let base = out.bindMemory(to: UInt8.self).baseAddress!
                var length: Int32 = 0
                guard EVP_EncryptUpdate(context, base, &length, input, Int32(count)) == 1 else {
                    throw PKIError.openSSL(.internalFailure, operation, "encryption failed")
                }
                var final: Int32 = 0
                guard EVP_EncryptFinal_ex(context, base + Int(length), &final) == 1 else {
                    throw PKIError.openSSL(.internalFailure, operation, "encryption failed")
                }
                produced = length + final
            }
        }
        ciphertext.count = Int(produced)
        var tag = Data(count: Self.tagByteCount)
        let ok = tag.withUnsafeMutableBytes { out in
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagByteCount), out.baseAddress)
        }
        guard ok == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot read the authentication tag")
        }
        var sealed = Data(capacity: Self.overhead + ciphertext.count)
        sealed.append(Self.version)
        sealed.append(nonce)
        sealed.append(ciphertext)
        sealed.append(tag)
        return sealed
    }

    /// Checks and decrypts a sealed box made by ``seal(_:additionalData:)`` with the same key
    /// and additional data.
    public func open(_ sealed: Data, additionalData: Data = Data()) throws -> Data {
        let operation = "open secret"
        let sealed = Data(sealed) // zero-based indices
        guard sealed.count >= Self.overhead else {
            throw PKIError(.malformedInput, operation: operation,
                           message: "a sealed secret is at least \(Self.overhead) bytes, this one has \(sealed.count)")
        }
        guard sealed[0] == Self.version else {
            throw PKIError(.unsupported, operation: operation, message: "unknown sealed-secret format version \(sealed[0])")
        }
        let nonce = sealed.subdata(in: 1..<(1 + Self.nonceByteCount))
        let ciphertext = sealed.subdata(in: (1 + Self.nonceByteCount)..<(sealed.count - Self.tagByteCount))
        var tag = sealed.subdata(in: (sealed.count - Self.tagByteCount)..<sealed.count)

        let context = try makeContext(operation)
        defer { EVP_CIPHER_CTX_free(context) }
        try withBytes(key.bytes) { keyPointer, _ in
            try withBytes(nonce) { noncePointer, _ in
                guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, keyPointer, noncePointer) == 1 else {
                    throw PKIError.openSSL(.internalFailure, operation, "cannot start AES-256-GCM")
                }
            }
        }
        try authenticate(additionalData, context, encrypting: false, operation)
        var plaintext = Data(count: ciphertext.count + 16)
        var produced: Int32 = 0
        try withBytes(ciphertext) { input, count in
            try plaintext.withUnsafeMutableBytes { out in
                let base = out.bindMemory(to: UInt8.self).baseAddress!
                var length: Int32 = 0
                guard EVP_DecryptUpdate(context, base, &length, input, Int32(count)) == 1 else {
                    throw PKIError.openSSL(.internalFailure, operation, "decryption failed")
                }
                let tagSet = tag.withUnsafeMutableBytes { raw in
                    EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagByteCount), raw.baseAddress)
                }
                guard tagSet == 1 else {
                    throw PKIError.openSSL(.internalFailure, operation, "cannot set the authentication tag")
                }
                var final: Int32 = 0
                guard EVP_DecryptFinal_ex(context, base + Int(length), &final) == 1 else {
                    OpenSSLErrorQueue.clear()
                    throw PKIError(.authenticationFailed, operation: operation,
                                   message: "the secret does not authenticate: wrong key, wrong additional data, or altered bytes")
                }
                produced = length + final
            }
        }
        plaintext.count = Int(produced)
        return plaintext
    }

    private func makeContext(_ operation: String) throws -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_CIPHER_CTX_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        return context
    }

    private func authenticate(_ additionalData: Data, _ context: OpaquePointer, encrypting: Bool, _ operation: String) throws {
        guard !additionalData.isEmpty else { return }
        try withBytes(additionalData) { pointer, count in
            var length: Int32 = 0
            let ok = encrypting
                ? EVP_EncryptUpdate(context, nil, &length, pointer, Int32(count))
                : EVP_DecryptUpdate(context, nil, &length, pointer, Int32(count))
            guard ok == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot authenticate the additional data")
            }
        }
    }
}
