/// "Did you mean …?" for mistyped option, command and value names.
public enum Suggestions {
    /// The candidate `word` most likely stands for: the only candidate it is a
    /// prefix of (for words of 2+ letters), else the closest candidate within an
    /// edit distance of 1 (short words) or 2 (words of 5+ letters).
    public static func closest(to word: String, among candidates: [String]) -> String? {
        guard !word.isEmpty else { return nil }
        let prefixed = candidates.filter { $0.hasPrefix(word) && $0 != word }
        if word.count >= 2, prefixed.count == 1 { return prefixed[0] }
        let limit = word.count >= 5 ? 2 : 1
        let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
        return scored.filter({ $0.1 <= limit }).min(by: { $0.1 < $1.1 })?.0
    }

    /// The Levenshtein distance (insertions, deletions, substitutions; plus adjacent transpositions).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
