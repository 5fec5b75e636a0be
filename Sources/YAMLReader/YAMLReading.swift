import PhotonCore

/// Reads a parsed document strictly: every type mismatch, missing key and unknown key becomes a
/// ``Diagnostic`` in one shared collector, so a single run reports every problem in the file.
public final class DocumentReader {
    public private(set) var diagnostics = DiagnosticCollector()
    public let file: String

    public init(file: String) { self.file = file }

    public func error(_ message: String, at location: SourceLocation?, help: String? = nil) {
        diagnostics.error(message, at: location, help: help)
    }

    /// The root of `node` as a value to read from.
    public func root(_ node: YAMLNode) -> YAMLValue { YAMLValue(node: node, path: "", reader: self) }
}

/// A node together with its path in the document ("clusters[0].roles.workers"), which messages name.
public struct YAMLValue {
    public let node: YAMLNode
    public let path: String
    public let reader: DocumentReader

    public var location: SourceLocation { node.location }

    /// "clusters[0].roles" or "the top level".
    public var displayPath: String { path.isEmpty ? "the top level" : path }

    public func child(_ key: String, _ node: YAMLNode) -> YAMLValue {
        YAMLValue(node: node, path: path.isEmpty ? key : "\(path).\(key)", reader: reader)
    }

    /// Reports `expected <what> for <path>, found <node>` and returns nil, for use in `guard … else`.
    public func mismatch<T>(_ expected: String, help: String? = nil) -> T? {
        reader.error("expected \(expected) for \(displayPath), found \(node.kindDescription)", at: location, help: help)
        return nil
    }

    /// Any non-null scalar as text.
    public func string() -> String? {
        guard let text = node.scalar, !node.isNull else { return mismatch("a string") }
        return text
    }

    /// A decimal integer written without quotes, optionally within a range.
    public func int(in range: ClosedRange<Int>? = nil) -> Int? {
        guard case .scalar(let text, .plain) = node.content, let value = Int(text, radix: 10) else {
            // Digits that do not fit in an integer: say so rather than "expected an integer".
            if case .scalar(let text, .plain) = node.content {
                let sign = text.first == "-" || text.first == "+" ? 1 : 0
                let digits = text.dropFirst(sign)
                if !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
                    let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
                    reader.error("\(displayPath) is too \(text.first == "-" ? "small" : "large"): \(shown)", at: location)
                    return nil
                }
            }
            return mismatch("an integer")
        }
        if let range, !range.contains(value) {
            let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            reader.error("\(displayPath) must be \(bound), found \(value)", at: location)
            return nil
        }
        return value
    }

    /// `true` or `false` written without quotes (YAML 1.2: `yes`, `no`, `on` and `off` are strings).
    public func bool() -> Bool? {
        guard case .scalar(let text, .plain) = node.content else { return mismatch("true or false") }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return mismatch("true or false")
        }
    }

    /// A scalar turned into a value by `parse`; `expected` names the accepted form in the message.
    public func parsed<T>(_ expected: String, help: String? = nil, _ parse: (String) -> T?) -> T? {
        guard let text = node.scalar, !node.isNull else { return mismatch(expected, help: help) }
        guard let value = parse(text) else { return mismatch(expected, help: help) }
        return value
    }

    /// The items of a list, each with its indexed path.
    public func list() -> [YAMLValue]? {
        guard let items = node.items else { return mismatch("a list") }
        return items.enumerated().map { index, item in
            YAMLValue(node: item, path: "\(path)[\(index)]", reader: reader)
        }
    }

    /// A mapping whose keys are chosen by the user (flavors, roles, secrets), in file order.
    public func entries() -> [(key: String, keyLocation: SourceLocation, value: YAMLValue)]? {
        guard let pairs = node.pairs else { return mismatch("a mapping") }
        return pairs.map { ($0.key, $0.keyLocation, child($0.key, $0.value)) }
    }

    /// A mapping with a fixed set of keys, read through ``MappingReader``.
    public func mapping() -> MappingReader? {
        guard node.pairs != nil else { return mismatch("a mapping") }
        return MappingReader(self)
    }
}

/// Reads the known keys of a mapping; ``finish()`` reports the keys nobody asked for, with the closest
/// valid key, and the required keys that are missing (unless a misspelling of them was already reported).
/// A reader that is never finished reports when it goes away.
public final class MappingReader {
    public let value: YAMLValue
    private var asked: [String] = []
    private var handled = Set<String>()
    private var missing: [(key: String, help: String?)] = []
    private var finished = false

    init(_ value: YAMLValue) { self.value = value }

    deinit { if !finished { finish() } }

    public var location: SourceLocation { value.location }

    private func ask(_ key: String) {
        if !asked.contains(key) { asked.append(key) }
    }

    /// The value under `key`; absent and null values are nil.
    public func optional(_ key: String) -> YAMLValue? {
        ask(key)
        guard let node = value.node[key], !node.isNull else { return nil }
        return value.child(key, node)
    }

    /// The value under `key`, reporting it missing (or empty) when it is absent or null.
    public func required(_ key: String, help: String? = nil) -> YAMLValue? {
        if let found = optional(key) { return found }
        if let pair = value.node.pairs?.first(where: { $0.key == key }) {
            value.reader.error("'\(key)' in \(value.displayPath) has no value", at: pair.keyLocation, help: help)
        } else {
            missing.append((key, help))
        }
        return nil
    }

    /// Marks `key` as handled without offering it as a suggestion (a key that belongs elsewhere, reported separately).
    public func ignore(_ key: String) { handled.insert(key) }

    /// Stops reading without reporting unread keys: for a mapping already reported as wrong as a whole.
    public func abandon() { finished = true }

    /// Whether the user wrote `key` at all (even with an empty value).
    public func has(_ key: String) -> Bool { value.node[key] != nil }

    /// Reports every key that was not read, suggesting the closest valid one, and every missing required key.
    public func finish() {
        guard !finished else { return }
        finished = true
        var suggested = Set<String>()
        for pair in value.node.pairs ?? [] where !asked.contains(pair.key) && !handled.contains(pair.key) {
            let closest = Suggestions.closest(to: pair.key, among: asked)
            if let closest { suggested.insert(closest) }
            value.reader.error(
                "unknown key '\(Self.shown(pair.key))' in \(value.displayPath)", at: pair.keyLocation,
                help: closest.map { "did you mean '\($0)'?" } ?? Suggestions.help(for: pair.key, among: asked))
        }
        for (key, help) in missing where !suggested.contains(key) {
            value.reader.error("missing required key '\(key)' in \(value.displayPath)", at: value.location, help: help)
        }
    }

    /// Long keys are cut in messages.
    static func shown(_ text: String) -> String { text.count > 40 ? String(text.prefix(40)) + "…" : text }
}
