import Foundation

/// `{{field}}` placeholders in alert titles and messages, filled from an event payload.
public enum TemplateText {
    /// Replaces each `{{path}}` (a dotted payload path, spaces allowed inside the braces) with the payload's
    /// value as text; a missing field becomes an empty string. Text without placeholders is returned as is.
    public static func render(_ template: String, payload: PayloadValue) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let path = afterOpen[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += payload.value(at: path.split(separator: ".").map(String.init))?.description ?? ""
            rest = afterOpen[close.upperBound...]
        }
        return out + rest
    }
}
