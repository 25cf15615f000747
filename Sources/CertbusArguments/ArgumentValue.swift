/// A type that can be read from one command-line word.
///
/// Conformances: `String`, `Int`, `Double`, `TimeSpan` (`30d`, `12h`, `15m`,
/// `90s`), `Date` (ISO 8601: `2025-01-31` or `2025-01-31T12:00:00Z`), and any
/// `String`-backed `CaseIterable` enum (its raw values are the allowed words).
public protocol ArgumentValue: Sendable {
    /// Reads a value from `word`; throws `ArgumentValueError` saying what was expected.
    static func parse(argument word: String) throws -> Self
    /// The placeholder shown in help, e.g. `int` in `--limit <int>`.
    static var valueName: String { get }
    /// The only words accepted, listed in help and used for suggestions; nil if free-form.
    static var allowedValues: [String]? { get }
    /// How a default value is shown in help ("(default: …)").
    var argumentDescription: String { get }
}

extension ArgumentValue {
    /// Free-form by default.
    public static var allowedValues: [String]? { nil }
    /// `String(describing:)` by default.
    public var argumentDescription: String { String(describing: self) }
}

/// A word that could not be read as the expected type.
public struct ArgumentValueError: Error, Sendable, Equatable {
    /// What would have been accepted, as a phrase: "an integer", "a duration like 30d, 12h, 15m or 90s".
    public var expected: String
    /// An error saying what was expected.
    public init(expected: String) { self.expected = expected }
}

extension String: ArgumentValue {
    /// Any word is a string.
    public static func parse(argument word: String) throws -> String { word }
    /// "value".
    public static var valueName: String { "value" }
}

extension Int: ArgumentValue {
    /// A decimal integer, optionally signed ("42", "-1").
    public static func parse(argument word: String) throws -> Int {
        guard let value = Int(word) else {
            throw ArgumentValueError(expected: "an integer")
        }
        return value
    }
    /// "int".
    public static var valueName: String { "int" }
}

extension Double: ArgumentValue {
    /// A finite decimal number ("0.5", "2", "-1e3").
    public static func parse(argument word: String) throws -> Double {
        guard let value = Double(word), value.isFinite else { throw ArgumentValueError(expected: "a number") }
        return value
    }
    /// "number".
    public static var valueName: String { "number" }
}

extension ArgumentValue where Self: RawRepresentable & CaseIterable, RawValue == String {
    /// One of the raw values of the enum's cases.
    public static func parse(argument word: String) throws -> Self {
        guard let value = Self(rawValue: word) else {
            throw ArgumentValueError(expected: "one of " + allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }
    /// The type's name in lower case (`Kind` → `kind`).
    public static var valueName: String { String(describing: Self.self).lowercased() }
    /// The raw values of all cases.
    public static var allowedValues: [String]? { allCases.map(\.rawValue) }
    /// The raw value.
    public var argumentDescription: String { rawValue }
}
