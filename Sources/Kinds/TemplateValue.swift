/// A value templates can name. Besides plain data it can be *sensitive* (rendered into files and
/// commands, never shown) or *unknown* (only known after apply, like a captured join token).
public enum TemplateValue: Sendable {
    case text(String)
    case bool(Bool)
    case list([TemplateValue])
    case object(TemplateObject)
    /// The real value, used when rendering; shown as `(sensitive)`.
    case sensitive(String)
    /// Known after apply; the string says what it is ("captured workerToken").
    case unknown(String)

    public static func number(_ value: Int) -> TemplateValue { .text(String(value)) }

    /// Mustache truthiness: false, empty lists and empty text do not render a section.
    var isTruthy: Bool {
        switch self {
        case .bool(let value): return value
        case .list(let items): return !items.isEmpty
        case .text(let text), .sensitive(let text): return !text.isEmpty
        case .object, .unknown: return true
        }
    }

    public subscript(key: String) -> TemplateValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }
}

/// Named values: a small ordered dictionary (templates iterate rarely, look up often).
public struct TemplateObject: Sendable {
    public private(set) var storage: [String: TemplateValue]

    public init(_ storage: [String: TemplateValue] = [:]) { self.storage = storage }

    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set { storage[key] = newValue }
    }

    public var keys: Dictionary<String, TemplateValue>.Keys { storage.keys }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .object(TemplateObject(Dictionary(elements, uniquingKeysWith: { $1 })))
    }
}
