import Foundation

/// A strict parser of the Prometheus text exposition format (0.0.4), written for the tests
/// independently of certbus's renderer: every line must be a `# HELP`, a `# TYPE` or a sample;
/// names and labels must follow the data model; a family's `# TYPE` comes before its samples and
/// its samples are contiguous; no series appears twice; counters end in `_total`; histograms have
/// ascending `le` bounds ending in `+Inf`, non-decreasing cumulative counts, `+Inf` equal to
/// `_count`, and a `_sum`.
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Family {
        var name: String
        var type: String
        var help: String?
        var samples: [Sample] = []
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    /// Families in the order they appeared.
    private(set) var families: [Family] = []

    /// Parses `text`, throwing at the first violation.
    init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw ParseError(line: 0, message: "the text does not end with a newline") }
        var helps: [String: String] = [:]
        var closed = Set<String>()
        var current: Int?
        var seenSeries = Set<String>()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = index + 1
            let line = String(rawLine)
            func fail(_ message: String) -> ParseError { ParseError(line: number, message: "\(message): \(line)") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { throw fail("a comment other than HELP or TYPE") }
                let name = parts[2]
                guard Self.isMetricName(name) else { throw fail("invalid metric name") }
                if parts[1] == "HELP" {
                    guard helps[name] == nil else { throw fail("second HELP for \(name)") }
                    guard !closed.contains(name), families.last?.name != name || families.last?.samples.isEmpty == true else {
                        throw fail("HELP after the samples of \(name)")
                    }
                    helps[name] = parts.count == 4 ? try Self.unescapeHelp(parts[3], fail) : ""
                    if let c = current, families[c].name == name { families[c].help = helps[name] }
                } else {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else { throw fail("unknown type") }
                    guard !families.contains(where: { $0.name == name }) else { throw fail("second TYPE for \(name)") }
                    if let c = current { closed.insert(families[c].name) }
                    if parts[3] == "counter", !name.hasSuffix("_total") { throw fail("counter name without _total") }
                    families.append(Family(name: name, type: parts[3], help: helps[name]))
                    current = families.count - 1
                }
                continue
            }
            guard !line.isEmpty else { throw fail("an empty line") }
            let sample = try Self.parseSample(line, fail)
            guard let c = current else { throw fail("a sample before any TYPE") }
            let family = families[c]
            guard Self.names(of: family).contains(sample.name) else {
                throw fail(families.contains { Self.names(of: $0).contains(sample.name) }
                    ? "samples of a family are not contiguous" : "sample \(sample.name) does not belong to the family \(family.name) declared before it")
            }
            if sample.labels["le"] != nil, sample.name != family.name + "_bucket" { throw fail("label le outside a histogram bucket") }
            let key = sample.name + "{" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            guard seenSeries.insert(key).inserted else { throw fail("duplicate series \(key)") }
            families[c].samples.append(sample)
        }
        for family in families where family.type == "histogram" { try Self.checkHistogram(family) }
    }

    /// The sample names a family may hold.
    private static func names(of family: Family) -> [String] {
        family.type == "histogram" ? [family.name + "_bucket", family.name + "_sum", family.name + "_count"] : [family.name]
    }

    /// The family named `name`.
    func family(_ name: String) -> Family? { families.first { $0.name == name } }

    /// The value of the one sample of `name` whose labels include `labels`; nil when there is none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matches = families.flatMap(\.samples).filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }
        return matches.count == 1 ? matches[0].value : nil
    }

    // MARK: - Lines

    private static func parseSample(_ line: String, _ fail: (String) -> ParseError) throws -> Sample {
        let scalars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < scalars.count, scalars[i] != "{", scalars[i] != " " {
            name.unicodeScalars.append(scalars[i])
            i += 1
        }
        guard isMetricName(name) else { throw fail("invalid metric name '\(name)'") }
        var labels: [String: String] = [:]
        if i < scalars.count, scalars[i] == "{" {
            i += 1
            while true {
                guard i < scalars.count else { throw fail("unterminated label set") }
                if scalars[i] == "}" {
                    i += 1
                    break
                }
                var labelName = ""
                while i < scalars.count, scalars[i] != "=" {
                    labelName.unicodeScalars.append(scalars[i])
                    i += 1
                }
                guard isLabelName(labelName) else { throw fail("invalid label name '\(labelName)'") }
                guard i + 1 < scalars.count, scalars[i] == "=", scalars[i + 1] == "\"" else { throw fail("label \(labelName) without a quoted value") }
                i += 2
                var value = ""
                while true {
                    guard i < scalars.count else { throw fail("unterminated label value") }
                    let c = scalars[i]
                    if c == "\"" {
                        i += 1
                        break
                    }
                    if c == "\\" {
                        guard i + 1 < scalars.count else { throw fail("dangling backslash") }
                        switch scalars[i + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw fail("unknown escape \\\(scalars[i + 1])")
                        }
                        i += 2
                        continue
                    }
                    value.unicodeScalars.append(c)
                    i += 1
                }
                guard labels[labelName] == nil else { throw fail("label \(labelName) given twice") }
                labels[labelName] = value
                guard i < scalars.count else { throw fail("unterminated label set") }
                if scalars[i] == "," {
                    i += 1
                } else if scalars[i] != "}" {
                    throw fail("expected ',' or '}' after a label")
                }
            }
        }
        guard i < scalars.count, scalars[i] == " " else { throw fail("no space before the value") }
        let rest = String(String.UnicodeScalarView(scalars[(i + 1)...]))
        guard !rest.contains(" ") else { throw fail("more than a value after the labels (timestamps are not expected)") }
        guard let value = parseValue(rest) else { throw fail("'\(rest)' is not a value") }
        return Sample(name: name, labels: labels, value: value)
    }

    static func parseValue(_ text: String) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard !text.isEmpty, text.allSatisfy({ "0123456789.eE+-".contains($0) }) else { return nil }
            return Double(text)
        }
    }

    private static func unescapeHelp(_ text: String, _ fail: (String) -> ParseError) throws -> String {
        var out = ""
        var escaping = false
        for c in text {
            if escaping {
                switch c {
                case "\\": out.append("\\")
                case "n": out.append("\n")
                default: throw fail("unknown escape in HELP")
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        guard !escaping else { throw fail("dangling backslash in HELP") }
        return out
    }

    private static func checkHistogram(_ family: Family) throws {
        func fail(_ message: String) -> ParseError { ParseError(line: 0, message: "histogram \(family.name): \(message)") }
        var groups: [[String: String]: (buckets: [(Double, Double)], sum: Double?, count: Double?)] = [:]
        for sample in family.samples {
            var key = sample.labels
            key.removeValue(forKey: "le")
            var group = groups[key] ?? ([], nil, nil)
            switch sample.name {
            case family.name + "_bucket":
                guard let le = sample.labels["le"], let bound = parseValue(le) else { throw fail("bucket without a valid le") }
                group.buckets.append((bound, sample.value))
            case family.name + "_sum": group.sum = sample.value
            default: group.count = sample.value
            }
            groups[key] = group
        }
        for (labels, group) in groups {
            guard let count = group.count, group.sum != nil else { throw fail("\(labels): _sum or _count missing") }
            guard let last = group.buckets.last, last.0 == .infinity else { throw fail("\(labels): the last bucket is not le=\"+Inf\"") }
            guard last.1 == count else { throw fail("\(labels): le=\"+Inf\" is \(last.1) but _count is \(count)") }
            for (a, b) in zip(group.buckets, group.buckets.dropFirst()) {
                guard a.0 < b.0 else { throw fail("\(labels): le bounds not ascending (\(a.0), \(b.0))") }
                guard a.1 <= b.1 else { throw fail("\(labels): cumulative counts decrease at le=\(b.0)") }
            }
        }
    }

    static func isMetricName(_ name: String) -> Bool {
        name.range(of: "^[a-zA-Z_:][a-zA-Z0-9_:]*$", options: .regularExpression) != nil
    }

    static func isLabelName(_ name: String) -> Bool {
        name.range(of: "^[a-zA-Z_][a-zA-Z0-9_]*$", options: .regularExpression) != nil && !name.hasPrefix("__")
    }
}
