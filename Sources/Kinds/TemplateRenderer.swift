import PhotonCore

/// Where the values a template can name came from, by dotted path (`settings.logMaxSize`,
/// `settings.ignorePreflightErrors.2`, `secrets.registry`): a value that cannot be written is reported
/// there, at the blueprint line that gave it (or the kind's default).
public struct ValueOrigins: Sendable {
    public var locations: [String: SourceLocation]

    public init(_ locations: [String: SourceLocation] = [:]) { self.locations = locations }

    public subscript(path: String) -> SourceLocation? { locations[path] }
}

/// Bounds on one rendering, so a kind whose partials or sections multiply cannot hang photon.
public struct RenderBudget: Sendable, Hashable {
    /// Output of one rendering, in bytes.
    public var maxOutputBytes: Int
    /// Tags and text pieces visited by one rendering.
    public var maxSteps: Int

    public init(maxOutputBytes: Int = 8 << 20, maxSteps: Int = 2_000_000) {
        self.maxOutputBytes = maxOutputBytes
        self.maxSteps = maxSteps
    }

    public static let standard = RenderBudget()
}

/// What is being rendered, as errors name it ("template daemon.json (json)", "argument 3 of the command
/// of step 'join'"). Words are only made when an error needs them: plans render millions of arguments.
public enum RenderSubject: Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    case template(String, TemplateFormat)
    case uploadPath(template: String)
    case artifactPath(String)
    /// An argument (1-based) of a step's command; the step's name, if it has one.
    case argument(Int, step: String?, phase: Phase)
    case waitHost(step: String?, phase: Phase)
    case waitPort(step: String?, phase: Phase)
    case createsPath(step: String?, phase: Phase)
    case named(String)

    public init(stringLiteral value: String) { self = .named(value) }

    public var description: String {
        func step(_ name: String?, _ phase: Phase) -> String { name.map { "step '\($0)'" } ?? "a \(phase.rawValue) step" }
        switch self {
        case .template(let name, let format): return "template \(name) (\(format.rawValue))"
        case .uploadPath(let template): return "the path of upload \(template)"
        case .artifactPath(let name): return "the path of artifact \(name)"
        case .argument(let index, let name, let phase): return "argument \(index) of the command of \(step(name, phase))"
        case .waitHost(let name, let phase): return "the host of \(step(name, phase))"
        case .waitPort(let name, let phase): return "the port of \(step(name, phase))"
        case .createsPath(let name, let phase): return "the 'creates' path of \(step(name, phase))"
        case .named(let text): return text
        }
    }
}

/// How one rendering writes its values.
public struct RenderOptions: Sendable {
    /// Where the output lands, which decides how each value is encoded.
    public var target: RenderTarget
    public var origins: ValueOrigins
    public var budget: RenderBudget
    public var subject: RenderSubject

    public init(
        target: RenderTarget = .file(.multiline), origins: ValueOrigins = ValueOrigins(), budget: RenderBudget = .standard,
        subject: RenderSubject = "the template"
    ) {
        self.target = target
        self.origins = origins
        self.budget = budget
        self.subject = subject
    }
}

extension Template {
    /// Renders with `context` as the root of every lookup.
    public func render(
        _ context: TemplateValue, partials: PartialLibrary = PartialLibrary(), options: RenderOptions = RenderOptions()
    ) throws(DiagnosticsError) -> RenderedText {
        try render([context], partials: partials, options: options)
    }

    /// Renders with a stack of contexts; names are looked up from the last one to the first. Every value
    /// is encoded for `options.target`, or refused with the position it came from.
    public func render(
        _ contexts: [TemplateValue], partials: PartialLibrary = PartialLibrary(), options: RenderOptions = RenderOptions()
    ) throws(DiagnosticsError) -> RenderedText {
        // A constant path was checked when its kind loaded.
        if let constantText { return RenderedText(text: constantText) }
        var renderer = Renderer(partials: partials, options: options, rootCount: contexts.count)
        var stack = contexts
        try renderer.render(nodes, stack: &stack, indent: "", depth: 0)
        if options.target == .path { try renderer.checkPath(template: self) }
        return RenderedText(text: renderer.output, isUnknown: renderer.unknown, isSensitive: renderer.sensitive)
    }
}

struct Renderer {
    /// Where a context on the stack came from: the section that pushed it (its path, looked up in the
    /// frame `parent`) and, for a list, the item's position. Root contexts have no parent.
    struct Frame {
        var parent: Int
        var path: [String]
        var item: Int?
    }

    let partials: PartialLibrary
    let options: RenderOptions
    var output = ""
    var unknown = false
    var sensitive = false
    var scanner: FormatScanner?
    /// The root contexts are the first `rootCount` of the stack; `frames` describes the ones sections push.
    let rootCount: Int
    var frames: [Frame] = []
    var steps = 0
    /// The first value written (its dotted path and origin), for errors about the whole output (paths).
    var firstValue: (path: String, location: SourceLocation)?

    init(partials: PartialLibrary, options: RenderOptions, rootCount: Int) {
        self.partials = partials
        self.options = options
        if case .file(let format) = options.target, FormatScanner.needsScanning(format) { scanner = FormatScanner(format: format) }
        self.rootCount = rootCount
    }

    mutating func render(_ nodes: [TemplateNode], stack: inout [TemplateValue], indent: String, depth: Int) throws(DiagnosticsError) {
        for node in nodes {
            switch node {
            case .text(let text):
                if indent.isEmpty { appendLiteral(text) } else { appendIndented(text, indent: indent) }
            case .variable(let path, let location):
                try spend(at: location)
                // Inside an indented standalone partial, a value that starts a line is indented too
                // (its own inner lines are not: the spec indents the partial's lines, not the data).
                if !indent.isEmpty, output.isEmpty || output.hasSuffix("\n") { appendLiteral(indent) }
                let (value, frame) = try Renderer.lookup(path, stack, location)
                try append(value, path: path, frame: frame, at: location)
            case .section(let path, let inverted, let children, let location):
                try spend(at: location)
                let (value, frame) = try Renderer.lookup(path, stack, location)
                if case .unknown = value {
                    unknown = true
                    if !inverted { try descend(children, into: value, from: frame, path: path, item: nil, stack: &stack, indent: indent, depth: depth) }
                    continue
                }
                if inverted {
                    if !value.isTruthy { try render(children, stack: &stack, indent: indent, depth: depth) }
                    continue
                }
                guard value.isTruthy else { continue }
                if case .list(let items) = value {
                    for (position, item) in items.enumerated() {
                        try descend(children, into: item, from: frame, path: path, item: position, stack: &stack, indent: indent, depth: depth)
                    }
                } else {
                    try descend(children, into: value, from: frame, path: path, item: nil, stack: &stack, indent: indent, depth: depth)
                }
            case .partial(let name, let partialIndent, let location):
                try spend(at: location)
                guard let partial = partials.templates[name] else {
                    throw DiagnosticsError(
                        Diagnostic(
                            "partial '\(name)' does not exist", at: location,
                            help: Suggestions.closest(to: name, among: partials.templates.keys).map { "did you mean '\($0)'?" }))
                }
                guard depth < 16 else {
                    throw DiagnosticsError(
                        Diagnostic("partials include each other more than 16 levels deep", at: location, help: "a partial probably includes itself"))
                }
                if !partialIndent.isEmpty, !output.isEmpty, !output.hasSuffix("\n") { appendLiteral(partialIndent) }
                try render(partial.nodes, stack: &stack, indent: indent + partialIndent, depth: depth + 1)
            }
        }
    }

    mutating func descend(
        _ children: [TemplateNode], into value: TemplateValue, from frame: Int, path: [String], item: Int?,
        stack: inout [TemplateValue], indent: String, depth: Int
    ) throws(DiagnosticsError) {
        stack.append(value)
        frames.append(Frame(parent: frame, path: path, item: item))
        defer {
            stack.removeLast()
            frames.removeLast()
        }
        try render(children, stack: &stack, indent: indent, depth: depth)
    }

    /// One unit of work; refuses to go on past the budget (a kind whose partials fan out would otherwise
    /// take hours, or all memory).
    mutating func spend(at location: SourceLocation) throws(DiagnosticsError) {
        steps += 1
        if steps > options.budget.maxSteps {
            throw DiagnosticsError(
                Diagnostic(
                    "rendering \(options.subject) takes more than \(options.budget.maxSteps) steps", at: location,
                    help: "its partials or sections multiply (a partial that includes another several times, level after level); render less"))
        }
        if output.utf8.count > options.budget.maxOutputBytes {
            throw DiagnosticsError(
                Diagnostic(
                    "rendering \(options.subject) produces more than \(options.budget.maxOutputBytes >> 20) MiB", at: location,
                    help: "its partials or sections multiply, or a list it goes through is very long; render less"))
        }
    }

    mutating func appendLiteral(_ text: String) {
        output += text
        scanner?.consume(text)
    }

    /// Text inside an indented standalone partial: every line it starts gets the indent.
    mutating func appendIndented(_ text: String, indent: String) {
        var atLineStart = output.isEmpty || output.hasSuffix("\n")
        var piece = ""
        for character in text {
            if atLineStart, character != "\n" { piece += indent }
            piece.append(character)
            atLineStart = character == "\n"
        }
        appendLiteral(piece)
    }

    mutating func append(_ value: TemplateValue, path: [String], frame: Int, at location: SourceLocation) throws(DiagnosticsError) {
        let text: String
        var isSensitive = false
        switch value {
        case .text(let plain): text = plain
        case .bool(let flag): text = flag ? "true" : "false"
        case .sensitive(let secret):
            text = secret
            isSensitive = true
            sensitive = true
        case .unknown:
            // Rendered again with the real value at apply, and encoded then.
            unknown = true
            output += RenderedText.unknownPlaceholder
            scanner?.valueWritten(nonEmpty: true)
            return
        case .list, .object:
            throw DiagnosticsError(
                Diagnostic(
                    "a \(value.shapeName) cannot be written as text", at: location,
                    help: "use a section ({{#name}}…{{/name}}) to go through it"))
        }
        let slot = ValueEncoding.slot(options.target, scanner: scanner, outputIsEmpty: output.isEmpty)
        do {
            output += try ValueEncoding.encode(text, at: slot, sensitive: isSensitive)
        } catch {
            throw refusal(error, path: absolutePath(path, frame: frame), at: location)
        }
        if options.target == .path, firstValue == nil {
            let dotted = absolutePath(path, frame: frame)
            firstValue = (dotted, options.origins[dotted] ?? location)
        }
        scanner?.valueWritten(nonEmpty: !text.isEmpty)
    }

    /// The refusal at the value's origin when it is known (the blueprint line), else at the tag.
    func refusal(_ refusal: ValueRefusal, path: String, at tag: SourceLocation) -> DiagnosticsError {
        let origin = options.origins[path]
        let what = Self.describe(path)
        var help = refusal.help ?? ""
        if origin != nil { help += (help.isEmpty ? "" : "; ") + "the template writes it at \(tag)" }
        return DiagnosticsError(
            Diagnostic(
                "\(what) cannot be written into \(options.subject): \(refusal.reason)", at: origin ?? tag,
                help: help.isEmpty ? nil : help))
    }

    /// `settings.logMaxSize`, or `the value captured as workerToken`.
    static func describe(_ path: String) -> String {
        if path.hasPrefix("captured.") { return "the value captured as \(path.dropFirst("captured.".count))" }
        return path.isEmpty ? "the value" : path
    }

    /// The dotted path of a name looked up in `frame`, through the sections that pushed it.
    func absolutePath(_ path: [String], frame: Int) -> String {
        var parts = path
        var current = frame
        while current >= rootCount, current - rootCount < frames.count {
            let entry = frames[current - rootCount]
            parts = entry.path + (entry.item.map { [String($0)] } ?? []) + parts
            current = entry.parent
        }
        return parts.joined(separator: ".")
    }

    /// A rendered path must be absolute and normalised: no `.`, `..` or empty parts.
    func checkPath(template: Template) throws(DiagnosticsError) {
        guard !unknown else { return }
        guard let problem = ValueShapes.pathProblem(output) else { return }
        if let first = firstValue {
            throw DiagnosticsError(
                Diagnostic(
                    "\(Self.describe(first.path)) makes \(options.subject) '\(output.prefix(200))' \(problem)", at: first.location,
                    help: "give an absolute path without '.', '..', '//' or a trailing '/'"))
        }
        throw DiagnosticsError(
            Diagnostic(
                "\(options.subject) '\(output.prefix(200))' \(problem)", at: template.origin,
                help: "write an absolute path without '.', '..', '//' or a trailing '/'"))
    }

    /// Mustache lookup: the first part of a dotted name is searched from the innermost context outwards;
    /// the rest must exist inside what it found. Also returns the stack position it was found at.
    static func lookup(_ path: [String], _ stack: [TemplateValue], _ location: SourceLocation) throws(DiagnosticsError) -> (TemplateValue, Int) {
        guard let first = path.first else { return (stack[stack.count - 1], stack.count - 1) }
        var found: TemplateValue?
        var frame = -1
        for position in stack.indices.reversed() {
            if let value = stack[position][first] {
                found = value
                frame = position
                break
            }
        }
        guard var value = found else {
            let known = stack.reversed().flatMap { context -> [String] in
                if case .object(let object) = context { return Array(object.keys) } else { return [] }
            }
            throw DiagnosticsError(
                Diagnostic(
                    "'\(path.joined(separator: "."))' does not exist", at: location,
                    help: Suggestions.closest(to: first, among: known).map { "did you mean '\($0)'?" }))
        }
        for (index, part) in path.dropFirst().enumerated() {
            if case .unknown = value { return (value, frame) }
            guard let next = value[part] else {
                let parent = path[...index].joined(separator: ".")
                var help: String?
                if case .object(let object) = value { help = Suggestions.help(for: part, among: object.keys.sorted(), noun: "name") }
                throw DiagnosticsError(Diagnostic("'\(path.joined(separator: "."))' does not exist: '\(parent)' has no '\(part)'", at: location, help: help))
            }
            value = next
        }
        return (value, frame)
    }
}

extension TemplateValue {
    /// Looks `path` up the way templates do, innermost context last in `contexts`.
    public static func lookup(_ path: [String], in contexts: [TemplateValue], at location: SourceLocation) throws(DiagnosticsError) -> TemplateValue {
        try Renderer.lookup(path, contexts, location).0
    }

    var shapeName: String {
        switch self {
        case .list: return "list"
        case .object: return "mapping"
        default: return "value"
        }
    }
}
