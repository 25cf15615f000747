/// The Prometheus text exposition format, version 0.0.4: what `GET /metrics` returns and
/// `certbus metrics` prints.
///
/// Each family is rendered as `# HELP`, `# TYPE`, then its samples, in the order given;
/// families with a `problem` are left out (the caller decides how to report them). Label
/// values escape `\`, `"` and newlines; help texts escape `\` and newlines.
public enum Exposition {
    /// The `Content-Type` of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Renders `families`, skipping any whose `problem` is not nil.
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families where family.problem == nil {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for sample in family.samples {
                out += sample.name
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",") + "}"
                }
                out += " " + formatValue(sample.value) + "\n"
            }
        }
        return out
    }

    /// `\` → `\\`, `"` → `\"`, newline → `\n`.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// `\` → `\\`, newline → `\n` (quotes stay as they are in help texts).
    public static func escapeHelp(_ text: String) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// A value as Prometheus parses it: whole numbers without a fraction (`42`), others in
    /// Swift's shortest round-tripping form (`0.25`, `1e-05`), and `+Inf`, `-Inf`, `NaN`.
    public static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
