import Foundation

/// The anti-replay nonces (RFC 8555 §6.5) a client has received and not yet used.
///
/// Every response's `Replay-Nonce` goes in; each signed request takes one out, so a client
/// asks `newNonce` only when the pool is empty. Thread-safe. Keeps the newest `capacity`
/// nonces (older ones are likely expired at the CA anyway).
final class ACMENoncePool: @unchecked Sendable {
    private let lock = NSLock()
    private var nonces: [String] = []
    private let capacity: Int

    init(capacity: Int = 16) {
        self.capacity = capacity
    }

    /// Takes the newest nonce, or nil when none is left.
    func take() -> String? {
        lock.withLock { nonces.popLast() }
    }

    /// Adds a nonce from a `Replay-Nonce` header; ignores values that are not base64url tokens.
    func add(_ nonce: String) {
        guard Self.isWellFormed(nonce) else { return }
        lock.withLock {
            nonces.append(nonce)
            if nonces.count > capacity { nonces.removeFirst(nonces.count - capacity) }
        }
    }

    /// The number of nonces held (for tests).
    var count: Int { lock.withLock { nonces.count } }

    /// Whether `nonce` is a non-empty base64url token, as RFC 8555 §6.5.1 requires.
    static func isWellFormed(_ nonce: String) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default: false
            }
        }
    }
}
