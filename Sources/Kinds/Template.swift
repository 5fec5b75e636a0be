import PhotonCore

/// A compiled Mustache template. It is strict: naming a value that does not exist is an error at the
/// tag's file, line and column, never an empty string. Nothing is HTML-escaped; instead every value is
/// encoded for where the output lands (a JSON string, a YAML scalar, a shell word, a command argument…:
/// see ``RenderTarget``), or refused when it cannot be written there safely.
///
/// Supported: `{{name}}`, `{{{name}}}` and `{{& name}}` (all the same: encoded for the target), dotted names,
/// `{{.}}`, sections `{{#name}}…{{/name}}`, inverted sections `{{^name}}…{{/name}}`, comments
/// `{{! … }}`, partials `{{> name}}` and delimiter changes `{{=<% %>=}}`. Lambdas are not.
public struct Template: Sendable {
    public let name: String
    /// Where the template's first character is (its file, or its string in kind.yaml).
    public let origin: SourceLocation
    let nodes: [TemplateNode]
    /// The whole output when the template has no tags, so rendering it costs nothing.
    public let constantText: String?

    /// Compiles `source`; `origin` is where its first character sits (a template file, or a string inside kind.yaml).
    public init(_ source: String, name: String, origin: SourceLocation) throws(DiagnosticsError) {
        try self.init(source, name: name, origin: TextOrigin(origin))
    }

    /// Compiles `source`, mapping positions through `origin` (a YAML string with quotes, escapes or block indentation).
    public init(_ source: String, name: String, origin: TextOrigin) throws(DiagnosticsError) {
        self.name = name
        self.origin = origin.start
        var parser = TemplateParser(source: source, origin: origin)
        nodes = try parser.parse()
        if nodes.isEmpty {
            constantText = ""
        } else if nodes.count == 1, case .text(let text) = nodes[0] {
            constantText = text
        } else {
            constantText = nil
        }
    }

    /// True when the template has no tags: rendering returns the text unchanged.
    public var isConstant: Bool { nodes.allSatisfy { if case .text = $0 { return true } else { return false } } }

    /// Every name the template refers to outside any section, with its location (for static checks when a kind loads).
    public var topLevelReferences: [(path: [String], location: SourceLocation)] {
        var found: [(path: [String], location: SourceLocation)] = []
        func walk(_ nodes: [TemplateNode], inSection: Bool) {
            for node in nodes {
                switch node {
                case .text, .partial: break
                case .variable(let path, let location):
                    if !inSection { found.append((path, location)) }
                case .section(let path, _, let children, let location):
                    if !inSection { found.append((path, location)) }
                    walk(children, inSection: true)
                }
            }
        }
        walk(nodes, inSection: false)
        return found
    }

    /// Every dotted name the template refers to, in sections and in the partials it includes.
    public func allReferences(partials: PartialLibrary = PartialLibrary()) -> [[String]] {
        var found: [[String]] = []
        var visited = Set<String>()
        func walk(_ nodes: [TemplateNode]) {
            for node in nodes {
                switch node {
                case .variable(let path, _): found.append(path)
                case .section(let path, _, let children, _):
                    found.append(path)
                    walk(children)
                case .partial(let name, _, _):
                    if visited.insert(name).inserted, let partial = partials.templates[name] { walk(partial.nodes) }
                case .text: break
                }
            }
        }
        walk(nodes)
        return found
    }

    /// Names of the partials this template includes.
    public var partialNames: [(name: String, location: SourceLocation)] {
        var found: [(String, SourceLocation)] = []
        func walk(_ nodes: [TemplateNode]) {
            for node in nodes {
                switch node {
                case .partial(let name, _, let location): found.append((name, location))
                case .section(_, _, let children, _): walk(children)
                default: break
                }
            }
        }
        walk(nodes)
        return found
    }
}

/// The result of rendering: the text, and whether any unknown or sensitive value went into it.
public struct RenderedText: Sendable, Hashable {
    public var text: String
    /// Some value is only known after apply; `text` holds a placeholder where it goes.
    public var isUnknown: Bool
    /// Some secret went into `text`: never print it.
    public var isSensitive: Bool

    public init(text: String, isUnknown: Bool = false, isSensitive: Bool = false) {
        self.text = text
        self.isUnknown = isUnknown
        self.isSensitive = isSensitive
    }

    /// The text as photon may show it.
    public var display: String {
        if isSensitive { return "(sensitive)" }
        return text
    }

    public static let unknownPlaceholder = "(known after apply)"
}

indirect enum TemplateNode: Sendable {
    case text(String)
    case variable([String], SourceLocation)
    case section([String], inverted: Bool, [TemplateNode], SourceLocation)
    case partial(String, indent: String, SourceLocation)
}

/// Partials a template may include, by name.
public struct PartialLibrary: Sendable {
    public var templates: [String: Template]
    public init(_ templates: [String: Template] = [:]) { self.templates = templates }
}
