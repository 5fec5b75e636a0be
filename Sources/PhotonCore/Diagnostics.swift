/// A position in a user's file: the `where` of every blueprint and template error.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The file as the user named it (kept relative when they gave a relative path).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem found in a user's input: what went wrong, where, and what to do about it.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String
    /// What to do about it ("did you mean 'flavor'?", "set REGISTRY_TOKEN or use generate").
    public var help: String?

    public init(_ message: String, at location: SourceLocation? = nil, help: String? = nil) {
        self.location = location
        self.message = message
        self.help = help
    }

    /// `file:line:column: error: message` followed by `help:` when there is one.
    public var description: String {
        var text = location.map { "\($0): error: \(message)" } ?? "error: \(message)"
        if let help { text += "\n  help: \(help)" }
        return text
    }
}

/// Every problem found in one run, sorted by position, thrown together so the user can fix them all at once.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = DiagnosticsError.sorted(diagnostics)
    }

    public init(_ diagnostic: Diagnostic) {
        self.diagnostics = [diagnostic]
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }

    /// Sorted by file, line and column; problems without a location come last; duplicates removed.
    static func sorted(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        let unique = diagnostics.filter { seen.insert($0).inserted }
        return unique.enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case let (l?, r?): return l != r ? l < r : a.offset < b.offset
            case (.some, .none): return true
            case (.none, .some): return false
            case (.none, .none): return a.offset < b.offset
            }
        }.map(\.element)
    }
}

/// Collects diagnostics while a whole input is checked, so that one run reports every problem.
public struct DiagnosticCollector: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var isEmpty: Bool { diagnostics.isEmpty }

    public mutating func error(_ message: String, at location: SourceLocation?, help: String? = nil) {
        diagnostics.append(Diagnostic(message, at: location, help: help))
    }

    public mutating func append(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }

    public mutating func append(contentsOf other: [Diagnostic]) { diagnostics.append(contentsOf: other) }

    /// Throws every collected diagnostic at once, if there is any.
    public func throwIfAny() throws(DiagnosticsError) {
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
    }
}

/// The one user-facing error shape for problems that are not tied to a position in a file:
/// what went wrong, and what to do about it.
public struct PhotonError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var help: String?

    public init(_ message: String, help: String? = nil) {
        self.message = message
        self.help = help
    }

    public var description: String {
        var text = "error: \(message)"
        if let help { text += "\n  help: \(help)" }
        return text
    }
}

/// Where the characters of a text taken from a file came from, so a position inside the text (a
/// template tag in a YAML string) maps back to the file. Quoted strings shift columns by their quote
/// and escapes; block scalars (`|`) start on the next line, indented.
public struct TextOrigin: Sendable, Hashable {
    /// The position of the text's first character.
    public var start: SourceLocation
    /// The column every line after the first starts at, for block scalars; nil when lines start at column 1.
    public var continuationColumn: Int?
    /// For a one-line string with escapes: the file column of each character of the text.
    public var columns: [Int]?

    public init(_ start: SourceLocation, continuationColumn: Int? = nil, columns: [Int]? = nil) {
        self.start = start
        self.continuationColumn = continuationColumn
        self.columns = columns
    }

    /// The file position of the text's line `lineOffset` (0-based), column `column` (1-based).
    public func location(lineOffset: Int, column: Int) -> SourceLocation {
        if lineOffset == 0 {
            if let columns, column >= 1, column <= columns.count { return SourceLocation(file: start.file, line: start.line, column: columns[column - 1]) }
            return SourceLocation(file: start.file, line: start.line, column: start.column + column - 1)
        }
        return SourceLocation(file: start.file, line: start.line + lineOffset, column: (continuationColumn ?? 1) + column - 1)
    }
}
