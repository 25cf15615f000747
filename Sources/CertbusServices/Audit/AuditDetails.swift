import Foundation

/// Validation of audit details before they reach the database: a JSON object,
/// and nothing that looks like a secret.
enum AuditDetails {
    /// Key names (lower-cased, `_` and `-` removed) that never belong in an audit row.
    static let forbiddenKeys: Set<String> = [
        "password", "passphrase", "secret", "clientsecret", "sharedsecret", "privatekey", "privatekeypem",
        "privatekeyder", "apikey", "accesstoken", "refreshtoken", "hmackey", "hmacsecret", "kek", "eabhmackey",
    ]

    /// The JSON text of `object`, or an error naming the offending key.
    static func encode(_ object: [String: Any]) throws -> String {
        guard JSONSerialization.isValidJSONObject(object) else {
            throw AuditError("audit details must be JSON values only (strings, numbers, booleans, arrays, objects, NSNull)")
        }
        try check(object, path: "details")
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// The JSON text of an `Encodable` value, which must encode as a JSON object.
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw AuditError("audit details of type \(T.self) cannot be encoded as JSON: \(error)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AuditError("audit details of type \(T.self) must encode as a JSON object")
        }
        try check(object, path: "details")
        return String(decoding: data, as: UTF8.self)
    }

    /// Throws when a key or value anywhere in `value` looks like a secret.
    static func check(_ value: Any, path: String) throws {
        if let object = value as? [String: Any] {
            for (key, child) in object {
                let normalized = key.lowercased().filter { $0 != "_" && $0 != "-" }
                if forbiddenKeys.contains(normalized) {
                    throw AuditError("audit details must not contain secrets: key '\(key)' at \(path)")
                }
                try check(child, path: path + "." + key)
            }
        } else if let array = value as? [Any] {
            for (index, child) in array.enumerated() { try check(child, path: "\(path)[\(index)]") }
        } else if let text = value as? String, text.contains("PRIVATE KEY-----") {
            throw AuditError("audit details must not contain a private key (at \(path))")
        }
    }
}
