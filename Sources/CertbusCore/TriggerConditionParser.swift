import Foundation

/// A condition that does not parse; `position` is the character offset of the problem.
public struct TriggerConditionError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var message: String
    /// Offset (in characters) into the condition text where the problem is.
    public var position: Int
    /// The condition text.
    public var text: String

    public init(message: String, position: Int, text: String) {
        self.message = message
        self.position = position
        self.text = text
    }

    public var description: String {
        "invalid trigger condition at character \(position + 1): \(message)\n  \(text)\n  \(String(repeating: " ", count: position))^"
    }
}

extension TriggerCondition {
    /// The longest condition text accepted.
    public static let maximumLength = 2000
    /// The deepest nesting of parentheses and `not` accepted.
    public static let maximumDepth = 32

    /// Parses condition text. Empty or blank text is `.always`. Throws `TriggerConditionError` with the position
    /// of the first problem (unknown operator, missing value, unbalanced parenthesis, trailing text, ...).
    public static func parse(_ text: String) throws -> TriggerCondition {
        guard text.count <= maximumLength else {
            throw TriggerConditionError(
                message: "longer than \(maximumLength) characters", position: maximumLength, text: text)
        }
        var parser = ConditionParser(text: text, tokens: try ConditionLexer.tokens(text))
        if parser.atEnd { return .always }
        let condition = try parser.parseOr(depth: 0)
        if let token = parser.peek {
            throw parser.error("unexpected \(token.kind.display) after a complete condition (join clauses with and/or)",
                               at: token)
        }
        return condition
    }
}

struct ConditionToken: Equatable {
    enum Kind: Equatable {
        case identifier(String)
        case number(Double)
        case string(String)
        case op(TriggerCondition.ComparisonOperator)
        case openParen, closeParen, comma

        var display: String {
            switch self {
            case .identifier(let name): return "'\(name)'"
            case .number(let value): return "number \(PayloadValue.number(value))"
            case .string(let value): return "string '\(value)'"
            case .op(let op): return "'\(op.rawValue)'"
            case .openParen: return "'('"
            case .closeParen: return "')'"
            case .comma: return "','"
            }
        }
    }

    var kind: Kind
    var position: Int
}

enum ConditionLexer {
    static func tokens(_ text: String) throws -> [ConditionToken] {
        let chars = Array(text)
        var tokens: [ConditionToken] = []
        var i = 0
        func fail(_ message: String, _ at: Int) -> TriggerConditionError {
            TriggerConditionError(message: message, position: at, text: text)
        }
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            let start = i
            switch c {
            case "(": tokens.append(.init(kind: .openParen, position: i)); i += 1
            case ")": tokens.append(.init(kind: .closeParen, position: i)); i += 1
            case ",": tokens.append(.init(kind: .comma, position: i)); i += 1
            case "≤": tokens.append(.init(kind: .op(.lessOrEqual), position: i)); i += 1
            case "≥": tokens.append(.init(kind: .op(.greaterOrEqual), position: i)); i += 1
            case "≠": tokens.append(.init(kind: .op(.notEqual), position: i)); i += 1
            case "=":
                i += 1
                if i < chars.count, chars[i] == "=" { i += 1 }
                tokens.append(.init(kind: .op(.equal), position: start))
            case "!":
                guard i + 1 < chars.count, chars[i + 1] == "=" else { throw fail("'!' must be followed by '=' (not equal)", i) }
                tokens.append(.init(kind: .op(.notEqual), position: i)); i += 2
            case "<":
                if i + 1 < chars.count, chars[i + 1] == "=" {
                    tokens.append(.init(kind: .op(.lessOrEqual), position: i)); i += 2
                } else if i + 1 < chars.count, chars[i + 1] == ">" {
                    tokens.append(.init(kind: .op(.notEqual), position: i)); i += 2
                } else {
                    tokens.append(.init(kind: .op(.less), position: i)); i += 1
                }
            case ">":
                if i + 1 < chars.count, chars[i + 1] == "=" {
                    tokens.append(.init(kind: .op(.greaterOrEqual), position: i)); i += 2
                } else {
                    tokens.append(.init(kind: .op(.greater), position: i)); i += 1
                }
            case "'", "\"":
                let quote = c
                i += 1
                var value = ""
                var closed = false
                while i < chars.count {
                    if chars[i] == quote {
                        if i + 1 < chars.count, chars[i + 1] == quote { value.append(quote); i += 2; continue }
                        closed = true
                        i += 1
                        break
                    }
                    value.append(chars[i])
                    i += 1
                }
                guard closed else { throw fail("string not closed (missing \(quote))", start) }
                tokens.append(.init(kind: .string(value), position: start))
            default:
                if c.isNumber || ((c == "-" || c == "+" || c == ".") && i + 1 < chars.count && chars[i + 1].isNumber) {
                    i += 1
                    while i < chars.count, chars[i].isNumber || chars[i] == "." || chars[i] == "e" || chars[i] == "E"
                        || ((chars[i] == "-" || chars[i] == "+") && (chars[i - 1] == "e" || chars[i - 1] == "E")) {
                        i += 1
                    }
                    let literal = String(chars[start..<i])
                    guard chars[start].isASCII, let value = Double(literal), value.isFinite else {
                        throw fail("'\(literal)' is not a number", start)
                    }
                    if i < chars.count, isWordCharacter(chars[i]) {
                        throw fail("a number cannot run into letters; quote the value", start)
                    }
                    tokens.append(.init(kind: .number(value), position: start))
                } else if isWordStart(c) {
                    i += 1
                    while i < chars.count, isWordCharacter(chars[i]) { i += 1 }
                    tokens.append(.init(kind: .identifier(String(chars[start..<i])), position: start))
                } else {
                    throw fail("unexpected character '\(c)'", i)
                }
            }
        }
        return tokens
    }

    static func isWordStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
    static func isWordCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "." || c == "-" || c == ":")
    }
}

struct ConditionParser {
    let text: String
    let tokens: [ConditionToken]
    var index = 0

    init(text: String, tokens: [ConditionToken]) {
        self.text = text
        self.tokens = tokens
    }

    var atEnd: Bool { index >= tokens.count }
    var peek: ConditionToken? { atEnd ? nil : tokens[index] }

    func error(_ message: String, at token: ConditionToken?) -> TriggerConditionError {
        TriggerConditionError(message: message, position: token?.position ?? text.count, text: text)
    }

    func isKeyword(_ token: ConditionToken?, _ word: String) -> Bool {
        if case .identifier(let name)? = token?.kind { return name.lowercased() == word }
        return false
    }

    mutating func take() -> ConditionToken? {
        defer { index += 1 }
        return peek
    }

    mutating func parseOr(depth: Int) throws -> TriggerCondition {
        var parts = [try parseAnd(depth: depth)]
        while isKeyword(peek, "or") {
            index += 1
            parts.append(try parseAnd(depth: depth))
        }
        return parts.count == 1 ? parts[0] : .any(parts)
    }

    mutating func parseAnd(depth: Int) throws -> TriggerCondition {
        var parts = [try parseUnary(depth: depth)]
        while isKeyword(peek, "and") {
            index += 1
            parts.append(try parseUnary(depth: depth))
        }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    mutating func parseUnary(depth: Int) throws -> TriggerCondition {
        guard depth < TriggerCondition.maximumDepth else {
            throw error("nested more than \(TriggerCondition.maximumDepth) levels deep", at: peek)
        }
        guard let token = peek else { throw error("a condition is missing at the end", at: nil) }
        if isKeyword(token, "not") {
            index += 1
            return .not(try parseUnary(depth: depth + 1))
        }
        if token.kind == .openParen {
            index += 1
            let inner = try parseOr(depth: depth + 1)
            guard peek?.kind == .closeParen else {
                throw error("expected ')' to close the '(' at character \(token.position + 1)", at: peek)
            }
            index += 1
            return inner
        }
        return try parseClause()
    }

    static let keywords: Set<String> = ["and", "or", "not", "in", "between", "exists", "contains"]

    mutating func parseClause() throws -> TriggerCondition {
        let fieldToken = take()
        guard case .identifier(let name)? = fieldToken?.kind, !Self.keywords.contains(name.lowercased()) else {
            throw error("expected a payload field name (such as days_left)", at: fieldToken)
        }
        let path = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard path.allSatisfy({ !$0.isEmpty && !$0.contains(":") && !$0.contains("-") }) else {
            throw error("'\(name)' is not a field path (letters, digits, _ separated by dots)", at: fieldToken)
        }
        guard let next = peek else {
            throw error("expected an operator (=, !=, <, <=, >, >=, in, between, exists, contains) after '\(name)'", at: nil)
        }
        switch next.kind {
        case .op(let op):
            index += 1
            let value = try parseLiteral()
            if op != .equal, op != .notEqual, case .bool = value {
                throw error("'\(op.rawValue)' compares numbers or strings, not true/false", at: next)
            }
            return .compare(path: path, op: op, value: value)
        case .identifier(let word):
            index += 1
            switch word.lowercased() {
            case "exists": return .exists(path: path)
            case "contains": return .contains(path: path, value: try parseLiteral())
            case "in": return .oneOf(path: path, values: try parseList())
            case "not":
                guard isKeyword(peek, "in") else { throw error("expected 'in' after 'not'", at: peek) }
                index += 1
                return .not(.oneOf(path: path, values: try parseList()))
            case "between":
                let low = try parseNumber()
                guard isKeyword(peek, "and") else { throw error("expected 'and' in 'between LOW and HIGH'", at: peek) }
                index += 1
                let high = try parseNumber()
                guard low <= high else { throw error("'between \(PayloadValue.number(low)) and \(PayloadValue.number(high))' is an empty range", at: next) }
                return .between(path: path, low: low, high: high)
            default:
                throw error("expected an operator (=, !=, <, <=, >, >=, in, between, exists, contains), found '\(word)'", at: next)
            }
        default:
            throw error("expected an operator after '\(name)', found \(next.kind.display)", at: next)
        }
    }

    mutating func parseNumber() throws -> Double {
        let token = take()
        guard case .number(let value)? = token?.kind else { throw error("expected a number", at: token) }
        return value
    }

    mutating func parseList() throws -> [PayloadValue] {
        let open = take()
        guard open?.kind == .openParen else { throw error("expected '(' to start the list of values", at: open) }
        var values = [try parseLiteral()]
        while peek?.kind == .comma {
            index += 1
            values.append(try parseLiteral())
        }
        let close = take()
        guard close?.kind == .closeParen else { throw error("expected ',' or ')' in the list of values", at: close) }
        return values
    }

    mutating func parseLiteral() throws -> PayloadValue {
        let token = take()
        switch token?.kind {
        case .number(let value)?: return .number(value)
        case .string(let value)?: return .string(value)
        case .identifier(let word)?:
            switch word.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null": return .null
            case _ where Self.keywords.contains(word.lowercased()):
                throw error("expected a value, found the keyword '\(word)' (quote it to use it as text)", at: token)
            default: return .string(word)
            }
        default:
            throw error("expected a value (number, 'text', WORD, true, false, null)", at: token)
        }
    }
}
