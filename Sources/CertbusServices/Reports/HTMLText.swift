/// Text made safe to put into HTML and SVG: every character that could start markup or end
/// an attribute is replaced by its character reference, so a certificate name or an error
/// message such as `<script>` shows as text and never becomes an element.
enum HTMLText {
    /// `text` with `&`, `<`, `>`, `"` and `'` escaped (safe in element content and in quoted
    /// attribute values). Control characters other than tab, line feed and carriage return,
    /// which HTML does not allow, become U+FFFD.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// An id or class name made of `[a-z0-9-]` only, from any text (`certificate_trends` →
    /// `certificate-trends`).
    static func identifier(_ text: String) -> String {
        let mapped = text.lowercased().unicodeScalars.map { scalar -> Character in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "-"
        }
        return String(mapped)
    }
}
