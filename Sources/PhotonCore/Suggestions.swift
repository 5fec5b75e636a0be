/// "Did you mean …?" for misspelt keys, kinds, roles and flavors.
public enum Suggestions {
    /// The candidate closest to `word` by edit distance (adjacent transpositions count as one edit),
    /// when it is close enough to be a plausible typo; case differences are almost free.
    public static func closest<S: Sequence>(to word: String, among candidates: S) -> String? where S.Element == String {
        let target = Array(word.lowercased().unicodeScalars)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(target, Array(candidate.lowercased().unicodeScalars))
            let limit = max(1, min(3, (max(target.count, candidate.count) + 1) / 3))
            guard distance <= limit else { continue }
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        return best?.candidate
    }

    /// "did you mean 'x'?" or, when nothing is close, the list of what is valid.
    public static func help<S: Sequence>(for word: String, among candidates: S, noun: String = "key") -> String where S.Element == String {
        let all = Array(candidates)
        if let match = closest(to: word, among: all) { return "did you mean '\(match)'?" }
        if all.isEmpty { return "no \(noun) is allowed here" }
        let listed = all.count <= 12 ? all.map { "'\($0)'" }.joined(separator: ", ") : all.prefix(12).map { "'\($0)'" }.joined(separator: ", ") + ", …"
        return "valid \(noun)s here: \(listed)"
    }

    /// Optimal string alignment distance.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}
