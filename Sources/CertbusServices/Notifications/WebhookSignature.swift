import Foundation
import PKI

/// The signature certbus puts on webhook deliveries, and how a receiver checks it.
///
/// Headers: `X-Certbus-Timestamp: <unix seconds>` and `X-Certbus-Signature: sha256=<hex>`, where the hex is
/// HMAC-SHA256(secret, "<timestamp>." + body). Signing the timestamp lets receivers refuse replays of old
/// deliveries (`verify` allows 5 minutes of skew by default).
public enum WebhookSignature {
    /// The header carrying the signature.
    public static let signatureHeader = "X-Certbus-Signature"
    /// The header carrying the signing time.
    public static let timestampHeader = "X-Certbus-Timestamp"

    /// The `sha256=<hex>` value for a body signed at `timestamp`.
    public static func sign(body: Data, timestamp: Int64, secret: Data) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        return "sha256=" + HMAC.sha256(key: secret, data: message).map { String(format: "%02x", $0) }.joined()
    }

    /// True when `signature` is the correct value for `body` and `timestamp`, compared in constant time, and the
    /// timestamp is within `tolerance` seconds of `now`.
    public static func verify(
        body: Data, timestamp: String, signature: String, secret: Data, now: Date = Date(), tolerance: Double = 300
    ) -> Bool {
        guard let seconds = Int64(timestamp), abs(Double(seconds) - now.timeIntervalSince1970) <= tolerance else {
            return false
        }
        let expected = sign(body: body, timestamp: seconds, secret: secret)
        return ConstantTime.equals(Data(expected.utf8), Data(signature.utf8))
    }
}
