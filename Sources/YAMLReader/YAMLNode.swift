import PhotonCore

/// A node of a YAML document with the position it came from. Only what configuration files need:
/// scalars keep their text (typing is the reader's job, so `NO` stays "NO" and `0644` stays "0644"),
/// mappings keep their order and only accept scalar keys.
public struct YAMLNode: Sendable {
    public enum Content: Sendable {
        case scalar(String, ScalarStyle)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    public enum ScalarStyle: Sendable {
        /// Unquoted: may be a number, a boolean or null.
        case plain
        /// Quoted or a block scalar: always a string.
        case quoted
    }

    public var content: Content
    public var location: SourceLocation
    /// For scalars whose text does not start at ``location`` (quoted, escaped, block): where each character came from.
    public var textOrigin: TextOrigin?
    /// Nodes in this subtree with aliases expanded: the cost of walking it.
    var expandedSize: Int

    public init(_ content: Content, at location: SourceLocation, textOrigin: TextOrigin? = nil) {
        self.content = content
        self.location = location
        self.textOrigin = textOrigin
        switch content {
        case .scalar: expandedSize = 1
        case .sequence(let items): expandedSize = items.reduce(1) { $0 + $1.expandedSize }
        case .mapping(let pairs): expandedSize = pairs.reduce(1) { $0 + 1 + $1.value.expandedSize }
        }
    }

    /// The scalar's text, whatever its style.
    public var scalar: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// True for an empty value, `~` or `null` written without quotes.
    public var isNull: Bool {
        if case .scalar(let text, .plain) = content { return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL" }
        return false
    }

    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    public var items: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The value under `key` in a mapping.
    public subscript(key: String) -> YAMLNode? {
        pairs?.first(where: { $0.key == key })?.value
    }

    /// What the node is, for "expected …, found …" messages.
    public var kindDescription: String {
        switch content {
        case .scalar(let text, let style):
            if isNull { return "nothing (null)" }
            let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
            return style == .quoted ? "the string \"\(shown)\"" : "'\(shown)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// One `key: value` entry; keys are always strings in photon's files.
public struct YAMLPair: Sendable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: YAMLNode

    public init(key: String, keyLocation: SourceLocation, value: YAMLNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}
