/// The shapes of setting values a kind can ask for (`type: path`, `image`, `size`, `domain`, `hostname`):
/// each check says what is wrong, in words for a "must be …" message, or nil when the value fits.
public enum ValueShapes {
    /// An absolute, normalised path: starts with '/', no empty, '.' or '..' parts, no trailing '/', no
    /// control characters or line breaks.
    public static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "is not absolute (it must start with '/')" }
        if let bad = path.unicodeScalars.first(where: { ControlCharacters.name(of: $0) != nil || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
            return "contains \(ControlCharacters.name(of: bad) ?? "a line separator")"
        }
        if path == "/" { return nil }
        if path.hasSuffix("/") { return "ends with '/'" }
        for part in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty { return "has an empty part ('//')" }
            if part == "." || part == ".." { return "has a '\(part)' part" }
        }
        return nil
    }

    /// A size the way dockerd's log options and Java's -Xmx both read it: digits and an optional k, m or g.
    public static func sizeProblem(_ text: String) -> String? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        guard !digits.isEmpty, digits.count <= 12 else { return "is not a number of bytes with an optional unit" }
        guard unit.isEmpty || (unit.count == 1 && "kKmMgG".contains(unit)) else { return "has an unknown unit '\(unit)' (use k, m or g)" }
        return nil
    }

    /// A DNS domain name: dot-separated labels of letters, digits and '-', 253 characters at most.
    public static func domainProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return "is empty" }
        guard text.utf8.count <= 253 else { return "is longer than 253 characters" }
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            if let problem = Hostname.problem(withLabel: String(label)) { return "has a bad label '\(label.prefix(63))': \(problem)" }
        }
        return nil
    }

    /// A host: a DNS name or an IPv4 address.
    public static func hostnameProblem(_ text: String) -> String? {
        if IPv4Address(text) != nil { return nil }
        if text.allSatisfy({ $0.isNumber || $0 == "." }) { return "looks like an IPv4 address but is not one" }
        return domainProblem(text)
    }

    /// An OCI image reference (`registry[:port]/path[:tag][@digest]`), as distribution/reference parses it.
    public static func imageProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return "is empty" }
        guard text.utf8.count <= 512 else { return "is longer than 512 characters" }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            rest = rest[..<at]
            guard let colon = digest.firstIndex(of: ":"), isDigestAlgorithm(digest[..<colon]) else { return "has a digest that is not algorithm:hex" }
            let hex = digest[digest.index(after: colon)...]
            guard hex.count >= 32, hex.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return "has a digest that is not algorithm:hex" }
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = components.popLast() else { return "is empty" }
        var name = last
        if let colon = last.lastIndex(of: ":") {
            let tag = last[last.index(after: colon)...]
            name = last[..<colon]
            guard !tag.isEmpty, tag.count <= 128, let first = tag.first, isWordCharacter(first),
                tag.allSatisfy({ isWordCharacter($0) || $0 == "." || $0 == "-" })
            else { return "has a tag that is not letters, digits, '_', '.' and '-' (128 at most)" }
        }
        // The first component is a registry when it has a '.' or a ':' or is localhost, and more follow.
        if !components.isEmpty, let first = components.first, first.contains(".") || first.contains(":") || first == "localhost" {
            components.removeFirst()
            guard isRegistry(first) else { return "has a registry '\(first.prefix(80))' that is not host[:port]" }
        }
        for component in components + [name] where !isPathComponent(component) {
            return "has a part '\(component.prefix(80))' that is not lowercase letters and digits separated by '.', '_', '__' or '-'"
        }
        return nil
    }

    static func isWordCharacter(_ character: Character) -> Bool { character.isASCII && (character.isLetter || character.isNumber || character == "_") }

    static func isDigestAlgorithm(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_+.".contains($0)) }
    }

    static func isRegistry(_ text: Substring) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        if parts.count == 2 { guard !parts[1].isEmpty, parts[1].count <= 5, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) else { return false } }
        return parts[0].split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.first, let last = label.last else { return false }
            return first.isASCII && (first.isLetter || first.isNumber) && last.isASCII && (last.isLetter || last.isNumber)
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isPathComponent(_ text: Substring) -> Bool {
        var index = text.startIndex
        func alphanumerics() -> Bool {
            let start = index
            while index < text.endIndex, text[index].isASCII, text[index].isLowercase || text[index].isNumber { index = text.index(after: index) }
            return index > start
        }
        guard alphanumerics() else { return false }
        while index < text.endIndex {
            let separatorStart = index
            switch text[index] {
            case ".": index = text.index(after: index)
            case "_":
                index = text.index(after: index)
                if index < text.endIndex, text[index] == "_" { index = text.index(after: index) }
            case "-":
                while index < text.endIndex, text[index] == "-" { index = text.index(after: index) }
            default: return false
            }
            guard index > separatorStart, alphanumerics() else { return false }
        }
        return true
    }
}

/// Control characters: C0 (NUL, ESC, CR …), DEL and C1. They never reach a file, a command or a terminal
/// from a value.
public enum ControlCharacters {
    /// `NUL`, `ESC`, `U+0085`: the name of a control character (line feed and tab included), or nil.
    public static func name(of scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0: return "NUL"
        case 0x07: return "BEL"
        case 0x08: return "BS"
        case 0x09: return "TAB"
        case 0x0A: return "LF"
        case 0x0D: return "CR (carriage return)"
        case 0x1B: return "ESC"
        case 0x7F: return "DEL"
        case 0x01...0x1F, 0x80...0x9F: return "U+" + hex4(scalar.value)
        default: return nil
        }
    }

    public static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
