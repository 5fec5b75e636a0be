import PhotonCore

/// A compiled Mustache template that renders plain text (nothing is HTML-escaped) and is strict:
/// naming a value that does not exist is an error at the tag's file, line and column, never an empty string.
///
/// Supported: `{{name}}`, `{{{name}}}` and `{{& name}}` (all the same: no escaping), dotted names,
/// `{{.}}`, sections `{{#name}}…{{/name}}`, inverted sections `{{^name}}…{{/name}}`, comments
/// `{{! … }}`, partials `{{> name}}` and delimiter changes `{{=<% %>=}}`. Lambdas are not.
public struct Template: Sendable {
    public let name: String
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
                case .section(let path, _, let children, _): found.append(path); walk(children)
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

extension Template {
    /// Renders with `context` as the root of every lookup.
    public func render(_ context: TemplateValue, partials: PartialLibrary = PartialLibrary()) throws(DiagnosticsError) -> RenderedText {
        try render([context], partials: partials)
    }

    /// Renders with a stack of contexts; names are looked up from the last one to the first.
    public func render(_ contexts: [TemplateValue], partials: PartialLibrary = PartialLibrary()) throws(DiagnosticsError) -> RenderedText {
        if let constantText { return RenderedText(text: constantText) }
        var renderer = Renderer(partials: partials)
        var stack = contexts
        try renderer.render(nodes, stack: &stack, indent: "", depth: 0)
        return RenderedText(text: renderer.output, isUnknown: renderer.unknown, isSensitive: renderer.sensitive)
    }
}

struct Renderer {
    let partials: PartialLibrary
    var output = ""
    var unknown = false
    var sensitive = false

    init(partials: PartialLibrary) { self.partials = partials }

    mutating func render(_ nodes: [TemplateNode], stack: inout [TemplateValue], indent: String, depth: Int) throws(DiagnosticsError) {
        for node in nodes {
            switch node {
            case .text(let text):
                if indent.isEmpty { output += text } else { appendIndented(text, indent: indent) }
            case .variable(let path, let location):
                // Inside an indented standalone partial, a value that starts a line is indented too
                // (its own inner lines are not: the spec indents the partial's lines, not the data).
                if !indent.isEmpty, output.isEmpty || output.hasSuffix("\n") { output += indent }
                try append(Renderer.lookup(path, stack, location), at: location)
            case .section(let path, let inverted, let children, let location):
                let value = try Renderer.lookup(path, stack, location)
                if case .unknown = value {
                    unknown = true
                    if !inverted {
                        stack.append(value)
                        try render(children, stack: &stack, indent: indent, depth: depth)
                        stack.removeLast()
                    }
                    continue
                }
                if inverted {
                    if !value.isTruthy { try render(children, stack: &stack, indent: indent, depth: depth) }
                    continue
                }
                guard value.isTruthy else { continue }
                if case .list(let items) = value {
                    for item in items {
                        stack.append(item)
                        try render(children, stack: &stack, indent: indent, depth: depth)
                        stack.removeLast()
                    }
                } else {
                    stack.append(value)
                    try render(children, stack: &stack, indent: indent, depth: depth)
                    stack.removeLast()
                }
            case .partial(let name, let partialIndent, let location):
                guard let partial = partials.templates[name] else {
                    throw DiagnosticsError(Diagnostic("partial '\(name)' does not exist", at: location,
                                                      help: Suggestions.closest(to: name, among: partials.templates.keys).map { "did you mean '\($0)'?" }))
                }
                guard depth < 16 else {
                    throw DiagnosticsError(Diagnostic("partials include each other more than 16 levels deep", at: location, help: "a partial probably includes itself"))
                }
                if !partialIndent.isEmpty, !output.isEmpty, !output.hasSuffix("\n") { output += partialIndent }
                try render(partial.nodes, stack: &stack, indent: indent + partialIndent, depth: depth + 1)
            }
        }
    }

    /// Text inside an indented standalone partial: every line it starts gets the indent.
    mutating func appendIndented(_ text: String, indent: String) {
        var atLineStart = output.isEmpty || output.hasSuffix("\n")
        for character in text {
            if atLineStart, character != "\n" { output += indent }
            output.append(character)
            atLineStart = character == "\n"
        }
    }

    mutating func append(_ value: TemplateValue, at location: SourceLocation) throws(DiagnosticsError) {
        switch value {
        case .text(let text): output += text
        case .bool(let flag): output += flag ? "true" : "false"
        case .sensitive(let text): sensitive = true; output += text
        case .unknown: unknown = true; output += RenderedText.unknownPlaceholder
        case .list, .object:
            throw DiagnosticsError(Diagnostic("a \(value.shapeName) cannot be written as text", at: location,
                                              help: "use a section ({{#name}}…{{/name}}) to go through it"))
        }
    }

    /// Mustache lookup: the first part of a dotted name is searched from the innermost context outwards;
    /// the rest must exist inside what it found.
    static func lookup(_ path: [String], _ stack: [TemplateValue], _ location: SourceLocation) throws(DiagnosticsError) -> TemplateValue {
        guard let first = path.first else { return stack[stack.count - 1] }
        var found: TemplateValue?
        for context in stack.reversed() {
            if let value = context[first] { found = value; break }
        }
        guard var value = found else {
            let known = stack.reversed().flatMap { context -> [String] in
                if case .object(let object) = context { return Array(object.keys) } else { return [] }
            }
            throw DiagnosticsError(Diagnostic("'\(path.joined(separator: "."))' does not exist", at: location,
                                              help: Suggestions.closest(to: first, among: known).map { "did you mean '\($0)'?" }))
        }
        for (index, part) in path.dropFirst().enumerated() {
            if case .unknown = value { return value }
            guard let next = value[part] else {
                let parent = path[...index].joined(separator: ".")
                var help: String?
                if case .object(let object) = value { help = Suggestions.help(for: part, among: object.keys.sorted(), noun: "name") }
                throw DiagnosticsError(Diagnostic("'\(path.joined(separator: "."))' does not exist: '\(parent)' has no '\(part)'", at: location, help: help))
            }
            value = next
        }
        return value
    }
}

extension TemplateValue {
    /// Looks `path` up the way templates do, innermost context last in `contexts`.
    public static func lookup(_ path: [String], in contexts: [TemplateValue], at location: SourceLocation) throws(DiagnosticsError) -> TemplateValue {
        try Renderer.lookup(path, contexts, location)
    }

    var shapeName: String {
        switch self {
        case .list: return "list"
        case .object: return "mapping"
        default: return "value"
        }
    }
}
