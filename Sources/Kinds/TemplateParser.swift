import PhotonCore

/// Turns Mustache source into ``TemplateNode``s, applying the spec's rules for standalone lines
/// (a line holding only a section, comment, partial or delimiter tag disappears from the output).
struct TemplateParser {
    let source: [Unicode.Scalar]
    let origin: TextOrigin
    /// Index of the first scalar of each line.
    let lineStarts: [Int]

    init(source: String, origin: TextOrigin) {
        self.source = Array(source.unicodeScalars)
        self.origin = origin
        var starts = [0]
        for (index, scalar) in self.source.enumerated() where scalar == "\n" { starts.append(index + 1) }
        lineStarts = starts
    }

    func location(_ index: Int) -> SourceLocation {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= index { low = middle } else { high = middle - 1 }
        }
        return origin.location(lineOffset: low, column: index - lineStarts[low] + 1)
    }

    func error(_ message: String, at index: Int, help: String? = nil) -> DiagnosticsError {
        DiagnosticsError(Diagnostic(message, at: location(index), help: help))
    }

    private struct OpenSection {
        var path: [String]
        var name: String
        var inverted: Bool
        var children: [TemplateNode]
        var start: Int
    }

    // One loop over the tags with its stack of open sections: split, the stack would be passed around.
    mutating func parse() throws(DiagnosticsError) -> [TemplateNode] {
        var open: [Unicode.Scalar] = ["{", "{"]
        var close: [Unicode.Scalar] = ["}", "}"]
        var sections: [OpenSection] = [OpenSection(path: [], name: "", inverted: false, children: [], start: 0)]
        var position = 0
        var text = ""

        func flushText() {
            if !text.isEmpty {
                sections[sections.count - 1].children.append(.text(text))
                text = ""
            }
        }

        while position < source.count {
            guard let tagStart = find(open, from: position) else {
                text.unicodeScalars.append(contentsOf: source[position...])
                break
            }
            text.unicodeScalars.append(contentsOf: source[position..<tagStart])
            var cursor = tagStart + open.count
            guard cursor <= source.count else { throw error("unclosed tag", at: tagStart) }
            let sigil: Unicode.Scalar? = cursor < source.count ? source[cursor] : nil
            var kind: Unicode.Scalar = " "
            if let sigil, "#^/!>=&{".unicodeScalars.contains(sigil) {
                kind = sigil
                cursor += 1
            }
            if kind == "{", open != ["{", "{"] {
                kind = " "
                cursor -= 1
            }
            let terminator: [Unicode.Scalar] = kind == "{" ? ["}"] + close : (kind == "=" ? ["="] + close : close)
            guard let contentEnd = find(terminator, from: cursor) else {
                throw error(
                    "unclosed tag: '\(String(String.UnicodeScalarView(open)))' without a matching '\(String(String.UnicodeScalarView(close)))'", at: tagStart)
            }
            let content = String(String.UnicodeScalarView(source[cursor..<contentEnd])).trimmingSpaces
            var tagEnd = contentEnd + terminator.count

            // Standalone: only spaces or tabs around the tag on its line.
            var indent = ""
            if kind != " " && kind != "&" && kind != "{", let span = standaloneSpan(tagStart, tagEnd) {
                indent = String(String.UnicodeScalarView(source[span.lineStart..<tagStart]))
                text.unicodeScalars.removeLast(tagStart - span.lineStart)
                tagEnd = span.lineEnd
            }
            flushText()
            let tagLocation = location(tagStart)
            switch kind {
            case "!":
                break
            case "=":
                let parts = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard parts.count == 2, !parts[0].contains("="), !parts[1].contains("=") else {
                    throw error("a delimiter change is written {{=OPEN CLOSE=}}, for example {{=<% %>=}}", at: tagStart)
                }
                open = Array(parts[0].unicodeScalars)
                close = Array(parts[1].unicodeScalars)
            case "#", "^":
                let path = try names(content, at: tagStart)
                sections.append(OpenSection(path: path, name: content, inverted: kind == "^", children: [], start: tagStart))
            case "/":
                guard sections.count > 1 else {
                    throw error("closing tag '\(content)' has no open section", at: tagStart)
                }
                let section = sections.removeLast()
                guard section.name == content else {
                    throw error(
                        "closing tag '\(content)' does not match the open section '\(section.name)'", at: tagStart,
                        help: "the section '\(section.name)' opens at line \(location(section.start).line)")
                }
                sections[sections.count - 1].children.append(.section(section.path, inverted: section.inverted, section.children, location(section.start)))
            case ">":
                guard !content.isEmpty else { throw error("a partial tag needs a name", at: tagStart) }
                sections[sections.count - 1].children.append(.partial(content, indent: indent, tagLocation))
            default:
                sections[sections.count - 1].children.append(.variable(try names(content, at: tagStart), tagLocation))
            }
            position = tagEnd
        }
        flushText()
        if sections.count > 1, let unclosed = sections.last {
            throw error("section '\(unclosed.name)' is never closed", at: unclosed.start, help: "add {{/\(unclosed.name)}}")
        }
        return sections[0].children
    }

    func names(_ content: String, at index: Int) throws(DiagnosticsError) -> [String] {
        if content == "." { return [] }
        let parts = content.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !content.isEmpty, parts.allSatisfy({ !$0.isEmpty && !$0.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) }) else {
            throw error("'\(content)' is not a name", at: index, help: "names are words joined by dots, like machine.address")
        }
        return parts
    }

    func find(_ needle: [Unicode.Scalar], from start: Int) -> Int? {
        guard !needle.isEmpty, source.count >= needle.count else { return nil }
        var index = start
        while index <= source.count - needle.count {
            if source[index] == needle[0] {
                var matched = 1
                while matched < needle.count, source[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }

    /// The whole line around a tag when nothing but spaces and tabs share it.
    func standaloneSpan(_ start: Int, _ end: Int) -> (lineStart: Int, lineEnd: Int)? {
        var before = start
        while before > 0, source[before - 1] == " " || source[before - 1] == "\t" { before -= 1 }
        guard before == 0 || source[before - 1] == "\n" else { return nil }
        var after = end
        while after < source.count, source[after] == " " || source[after] == "\t" { after += 1 }
        if after == source.count { return (before, after) }
        if source[after] == "\n" { return (before, after + 1) }
        if source[after] == "\r", after + 1 < source.count, source[after + 1] == "\n" { return (before, after + 2) }
        return nil
    }
}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
