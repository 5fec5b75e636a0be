/// Where a secret comes from. Blueprints hold references, never values.
public enum SecretReference: Hashable, Sendable, CustomStringConvertible {
    /// An environment variable of the process that runs photon.
    case environment(String)
    /// A file on the installer node, read when the value is needed.
    case file(String)
    /// A random value photon generates once and records.
    case generate
    /// Another entry of the blueprint's `secrets:` section.
    case named(String)

    /// Parses `env:NAME`, `file:PATH`, `generate` or `secret:NAME`.
    public init?(_ text: String) {
        if text == "generate" {
            self = .generate
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let scheme = text[..<colon]
        let rest = String(text[text.index(after: colon)...])
        guard !rest.isEmpty else { return nil }
        switch scheme {
        case "env": self = .environment(rest)
        case "file": self = .file(rest)
        case "secret": self = .named(rest)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        case .generate: return "generate"
        case .named(let name): return "secret:\(name)"
        }
    }

    public static let forms = "'env:NAME', 'file:PATH', 'generate' or 'secret:NAME'"
}

/// A value that must never reach a terminal, a log or a plan file.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "(sensitive)" }
    public var debugDescription: String { "(sensitive)" }
}

/// Secrets out of what photon shows: a machine's output, a failure's message.
public enum SecretMasking {
    /// `text` with each secret of 4 characters or more replaced by `(sensitive)`, longest first (so a
    /// secret that contains another is masked whole). Shorter values are too common to mask.
    public static func mask(_ text: String, _ secrets: [String]) -> String {
        var text = text
        for secret in Set(secrets).filter({ $0.count >= 4 }).sorted(by: { $0.count > $1.count }) where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: "(sensitive)")
        }
        return text
    }
}
