/// A line diff for showing what changed in a configuration file.
public enum LineDiff {
    /// Changed lines prefixed with `-` and `+`, unchanged context lines with a space, at most `limit`
    /// lines (then `…`). Files too large for the quadratic algorithm get a one-line note.
    public static func unified(old: String, new: String, limit: Int = 40, context: Int = 1) -> [String] {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard a.count * b.count <= 4_000_000 else { return ["(\(a.count) → \(b.count) lines; too large to diff here)"] }
        // Longest common subsequence table, from the end.
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var edits: [(Character, String)] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                edits.append((" ", a[i]))
                i += 1
                j += 1
            } else if j < b.count, i == a.count || table[i][j + 1] >= table[i + 1][j] {
                edits.append(("+", b[j]))
                j += 1
            } else {
                edits.append(("-", a[i]))
                i += 1
            }
        }
        // Keep changed lines and `context` lines around them.
        let changed = edits.indices.filter { edits[$0].0 != " " }
        var keep = Set<Int>()
        for index in changed { for k in max(0, index - context)...min(edits.count - 1, index + context) { keep.insert(k) } }
        var out: [String] = []
        var previous = -1
        for index in keep.sorted() {
            if previous >= 0, index > previous + 1 { out.append("…") }
            out.append("\(edits[index].0) \(edits[index].1)")
            previous = index
        }
        if out.count > limit { out = Array(out.prefix(limit)) + ["… (\(out.count - limit) more lines)"] }
        return out
    }
}
