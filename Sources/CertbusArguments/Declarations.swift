/// An option with a value: `--name VALUE`, `--name=VALUE`, `-n VALUE`, `-nVALUE`.
///
/// Declare it once (typically as a `static let` next to the command) and read
/// it with `invocation[option]`, which returns the value in the declared type.
public struct Option<Value: ArgumentValue>: OptionDeclaration, Sendable {
    /// The long name, without the leading `--`.
    public let name: String
    /// The one-letter short name, without the leading `-`.
    public let short: Character?
    /// One line of help.
    public let help: String
    /// The placeholder shown in help (`<int>`).
    public let valueName: String
    /// The value used when the option is not given.
    public let defaultValue: Value?
    /// True if the option may be given several times (all values are kept, in order).
    public let isRepeatable: Bool
    /// True if leaving the option out is a usage error.
    public let isRequired: Bool
    /// The only words accepted (defaults to `Value.allowedValues`).
    public let allowedValues: [String]?

    /// Declares an option. `allowed` restricts the accepted words (e.g. a
    /// choice among strings); `repeatable` keeps every occurrence.
    public init(
        _ name: String, short: Character? = nil, valueName: String? = nil, default defaultValue: Value? = nil,
        repeatable: Bool = false, required: Bool = false, allowed: [String]? = nil, help: String
    ) {
        self.name = name
        self.short = short
        self.help = help
        self.valueName = valueName ?? Value.valueName
        self.defaultValue = defaultValue
        self.isRepeatable = repeatable
        self.isRequired = required
        self.allowedValues = allowed ?? Value.allowedValues
    }

    /// The type-erased description used by the parser and help.
    public var spec: OptionSpec {
        OptionSpec(
            name: name, short: short, help: help, valueName: valueName, takesValue: true, isRepeatable: isRepeatable,
            isRequired: isRequired, allowedValues: allowedValues,
            defaultDescription: defaultValue.map { $0.argumentDescription },
            parse: { try Value.parse(argument: $0) })
    }
}

/// An on/off switch: `--json`, `-v`. Giving it means true.
public struct Flag: OptionDeclaration, Sendable {
    /// The long name, without the leading `--`.
    public let name: String
    /// The one-letter short name, without the leading `-`.
    public let short: Character?
    /// One line of help.
    public let help: String

    /// Declares a flag.
    public init(_ name: String, short: Character? = nil, help: String) {
        self.name = name
        self.short = short
        self.help = help
    }

    /// The type-erased description used by the parser and help.
    public var spec: OptionSpec {
        OptionSpec(
            name: name, short: short, help: help, valueName: "", takesValue: false, isRepeatable: true,
            isRequired: false, allowedValues: nil, defaultDescription: nil, parse: { $0 })
    }
}

/// How many words a positional argument takes.
public enum ArgumentArity: Sendable, Equatable {
    /// Exactly one word; leaving it out is a usage error.
    case required
    /// Zero or one word.
    case optional
    /// Zero or more words (only as the last argument).
    case variadic
    /// One or more words (only as the last argument).
    case oneOrMore
}

/// A positional argument, read with `invocation[argument]` or `invocation.values(argument)`.
public struct Argument<Value: ArgumentValue>: ArgumentDeclaration, Sendable {
    /// The name shown in help as `<name>`.
    public let name: String
    /// One line of help.
    public let help: String
    /// How many words it takes.
    public let arity: ArgumentArity
    /// The value used when an optional argument is not given.
    public let defaultValue: Value?
    /// The only words accepted (defaults to `Value.allowedValues`).
    public let allowedValues: [String]?

    /// Declares a positional argument.
    public init(
        _ name: String, arity: ArgumentArity = .required, default defaultValue: Value? = nil,
        allowed: [String]? = nil, help: String
    ) {
        self.name = name
        self.help = help
        self.arity = arity
        self.defaultValue = defaultValue
        self.allowedValues = allowed ?? Value.allowedValues
    }

    /// The type-erased description used by the parser and help.
    public var spec: ArgumentSpec {
        ArgumentSpec(
            name: name, help: help, arity: arity, allowedValues: allowedValues,
            defaultDescription: defaultValue.map { $0.argumentDescription }, parse: { try Value.parse(argument: $0) })
    }
}

/// Anything that can be listed in a command's `options`.
public protocol OptionDeclaration: Sendable {
    /// The type-erased description used by the parser and help.
    var spec: OptionSpec { get }
}

/// Anything that can be listed in a command's `arguments`.
public protocol ArgumentDeclaration: Sendable {
    /// The type-erased description used by the parser and help.
    var spec: ArgumentSpec { get }
}

/// An option or flag as the parser sees it.
public struct OptionSpec: Sendable {
    /// Long name without `--`.
    public var name: String
    /// Short name without `-`.
    public var short: Character?
    /// One line of help.
    public var help: String
    /// Placeholder for the value; empty for flags.
    public var valueName: String
    /// False for flags.
    public var takesValue: Bool
    /// True if it may be given more than once.
    public var isRepeatable: Bool
    /// True if it must be given.
    public var isRequired: Bool
    /// The only accepted words, if restricted.
    public var allowedValues: [String]?
    /// The default as shown in help.
    public var defaultDescription: String?
    /// Reads one value.
    public var parse: @Sendable (String) throws -> any Sendable
}

/// A positional argument as the parser sees it.
public struct ArgumentSpec: Sendable {
    /// The name shown as `<name>`.
    public var name: String
    /// One line of help.
    public var help: String
    /// How many words it takes.
    public var arity: ArgumentArity
    /// The only accepted words, if restricted.
    public var allowedValues: [String]?
    /// The default as shown in help.
    public var defaultDescription: String?
    /// Reads one value.
    public var parse: @Sendable (String) throws -> any Sendable
}
