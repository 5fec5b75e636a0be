internal import CYAML
import Foundation
import PhotonCore

/// Guards that keep hostile input from exhausting memory or time.
public struct YAMLLimits: Sendable {
    /// Largest input accepted, in bytes.
    public var maxBytes: Int
    /// Deepest nesting of lists and mappings.
    public var maxDepth: Int
    /// Most nodes the document may have once every alias is expanded (stops "billion laughs").
    public var maxNodes: Int

    public init(maxBytes: Int = 8 << 20, maxDepth: Int = 64, maxNodes: Int = 4_000_000) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }
}

/// Reads one YAML document into ``YAMLNode``s, reporting every problem with its file, line and column.
///
/// Built on libyaml's event parser rather than a tree loader so photon decides what aliases may cost,
/// how deep documents may nest, and where a duplicate key is reported (at the duplicate, naming the first).
public enum YAMLParser {
    /// Parses `bytes` (UTF-8) as a single document; nil for an empty document.
    /// - Throws: ``DiagnosticsError`` with every syntax or structure problem found.
    public static func parse(_ bytes: [UInt8], file: String, limits: YAMLLimits = YAMLLimits()) throws(DiagnosticsError) -> YAMLNode? {
        // A UTF-8 byte-order mark sits before column 1; libyaml, told the encoding, would take it for content.
        var bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard bytes.count <= limits.maxBytes else {
            throw DiagnosticsError(
                Diagnostic(
                    "file is \(ByteSize(bytes: UInt64(bytes.count)).approximate), larger than the \(ByteSize(bytes: UInt64(limits.maxBytes)).approximate) photon reads",
                    at: SourceLocation(file: file, line: 1, column: 1),
                    help: "split the deployment into several blueprints"))
        }
        if let position = firstInvalidUTF8(bytes) {
            throw DiagnosticsError(
                Diagnostic(
                    "invalid UTF-8 byte 0x\(String(bytes[position.offset], radix: 16, uppercase: true))",
                    at: SourceLocation(file: file, line: position.line, column: position.column),
                    help: "save the file as UTF-8"))
        }
        let events = EventStream(bytes: bytes, file: file)
        var composer = Composer(file: file, limits: limits)
        return try composer.compose(events)
    }

    /// Offset, line and column of the first byte that is not valid UTF-8.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> (offset: Int, line: Int, column: Int)? {
        var line = 1, column = 1, index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let width: Int
            switch byte {
            case 0x00...0x7F: width = 1
            case 0xC2...0xDF: width = 2
            case 0xE0...0xEF: width = 3
            case 0xF0...0xF4: width = 4
            default: return (index, line, column)
            }
            guard index + width <= bytes.count else { return (index, line, column) }
            for continuation in bytes[(index + 1)..<(index + width)] where continuation & 0xC0 != 0x80 {
                return (index, line, column)
            }
            if width > 1, String(validating: bytes[index..<(index + width)], as: UTF8.self) == nil { return (index, line, column) }
            if byte == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += width
        }
        return nil
    }
}

extension ByteSize {
    /// "10.0 MiB": for messages about sizes that are not round.
    var approximate: String {
        let mib = Double(bytes) / Double(1 << 20)
        if mib >= 1 { return String(format: "%.1f MiB", mib) }
        return "\(bytes) bytes"
    }
}

/// Owns one libyaml parser and the input it reads; yields events one at a time.
final class EventStream {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let count: Int
    let file: String

    init(bytes: [UInt8], file: String) {
        self.file = file
        count = bytes.count
        parser = .allocate(capacity: 1)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        yaml_parser_initialize(parser)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event, copied out of libyaml's buffers.
    func next() throws(DiagnosticsError) -> Event {
        var raw = yaml_event_t()
        guard yaml_parser_parse(parser, &raw) == 1 else { throw DiagnosticsError(libraryError()) }
        defer { yaml_event_delete(&raw) }
        return Event(raw, file: file)
    }

    /// libyaml's own message for the error it stopped on, at its position, with where the construct it
    /// was reading started.
    private func libraryError() -> Diagnostic {
        let problem = parser.pointee.problem.map { String(cString: $0) } ?? "malformed YAML"
        let mark = parser.pointee.problem_mark
        var location = SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        var offset = Int(mark.index)
        // Reader errors (bad characters) carry only a byte offset.
        if parser.pointee.error == YAML_READER_ERROR {
            offset = Int(parser.pointee.problem_offset)
            location = position(ofByte: offset)
        }
        var message = problem
        var help: String?
        if parser.pointee.error == YAML_READER_ERROR, offset < count {
            // Name the character, not the first byte of its encoding.
            let length = min(4, count - offset)
            let bytes = Array(UnsafeBufferPointer(start: input.baseAddress! + offset, count: length))
            if input[offset] >= 0x80, let scalar = String(decoding: bytes, as: UTF8.self).unicodeScalars.first, scalar != "\u{FFFD}" {
                message = "control character U+\(String(format: "%04X", scalar.value)) is not allowed"
            } else {
                message = "control character 0x\(String(format: "%02X", input[offset])) is not allowed"
            }
            help = "remove it, or write it as an escape inside a double-quoted string"
        } else if problem.contains("tab character") {
            help = "YAML indentation must use spaces, not tabs"
        } else if problem.contains("cannot start any token") {
            if offset < count, input[offset] == UInt8(ascii: "\t") {
                help = "YAML indentation must use spaces, not tabs"
            } else if offset < count, let scalar = Unicode.Scalar(UInt32(input[offset])), input[offset] < 0x80 {
                help = "'\(Character(scalar))' is reserved in YAML; put the value in quotes"
            }
        }
        if let context = parser.pointee.context.map({ String(cString: $0) }) {
            let start = parser.pointee.context_mark
            help = help ?? "\(context) that starts at line \(start.line + 1), column \(start.column + 1)"
        }
        return Diagnostic(message, at: location, help: help)
    }

    /// Where a scalar's text starts and how its columns map to the file, when that is not simply its position.
    func textOrigin(of event: Event) -> TextOrigin? {
        guard event.kind == .scalar, event.startIndex < count, event.endIndex <= count else { return nil }
        let raw = Array(UnsafeBufferPointer(start: input.baseAddress! + event.startIndex, count: event.endIndex - event.startIndex))
        switch event.rawStyle {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE, YAML_DOUBLE_QUOTED_SCALAR_STYLE:
            var start = event.location
            start.column += 1
            let inner = raw.dropFirst().dropLast()
            let double = event.rawStyle == YAML_DOUBLE_QUOTED_SCALAR_STYLE
            guard !inner.contains(0x0A), inner.contains(double ? UInt8(ascii: "\\") : UInt8(ascii: "'")) else { return TextOrigin(start) }
            // One column per character of the value, following the escapes that made it.
            let scalars = Array(String(decoding: inner, as: UTF8.self).unicodeScalars)
            var columns: [Int] = []
            var index = 0
            while index < scalars.count {
                columns.append(start.column + index)
                if double, scalars[index] == "\\", index + 1 < scalars.count {
                    switch scalars[index + 1] {
                    case "x": index += 4
                    case "u": index += 6
                    case "U": index += 10
                    default: index += 2
                    }
                } else if !double, scalars[index] == "'", index + 1 < scalars.count, scalars[index + 1] == "'" {
                    index += 2
                } else {
                    index += 1
                }
            }
            return TextOrigin(start, columns: columns)
        case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE:
            // The content starts on the line after the indicator, at the first content line's indentation.
            guard let newline = raw.firstIndex(of: 0x0A) else { return nil }
            var indent = 0
            var position = newline + 1
            while position < raw.count {
                var spaces = 0
                while position + spaces < raw.count, raw[position + spaces] == UInt8(ascii: " ") { spaces += 1 }
                if position + spaces < raw.count, raw[position + spaces] != 0x0A {
                    indent = spaces
                    break
                }
                guard let next = raw[position...].firstIndex(of: 0x0A) else { break }
                position = next + 1
            }
            let start = SourceLocation(file: file, line: event.location.line + 1, column: indent + 1)
            return TextOrigin(start, continuationColumn: indent + 1)
        default:
            return nil
        }
    }

    /// Line and column (in characters) of a byte offset.
    private func position(ofByte offset: Int) -> SourceLocation {
        var line = 1, column = 1
        for index in 0..<min(offset, count) {
            let byte = input[index]
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    struct Event {
        enum Kind { case streamStart, streamEnd, documentStart, documentEnd, alias, scalar, sequenceStart, sequenceEnd, mappingStart, mappingEnd, none }
        var kind: Kind
        var location: SourceLocation
        var anchor: String?
        var tag: String?
        var value: String = ""
        var style: YAMLNode.ScalarStyle = .plain
        /// libyaml's own style, to find where the text starts in the file.
        var rawStyle: yaml_scalar_style_t = YAML_ANY_SCALAR_STYLE
        /// Byte offsets of the event in the input.
        var startIndex = 0
        var endIndex = 0

        init(_ raw: yaml_event_t, file: String) {
            location = SourceLocation(file: file, line: Int(raw.start_mark.line) + 1, column: Int(raw.start_mark.column) + 1)
            startIndex = Int(raw.start_mark.index)
            endIndex = Int(raw.end_mark.index)
            switch raw.type {
            case YAML_STREAM_START_EVENT: kind = .streamStart
            case YAML_STREAM_END_EVENT: kind = .streamEnd
            case YAML_DOCUMENT_START_EVENT: kind = .documentStart
            case YAML_DOCUMENT_END_EVENT: kind = .documentEnd
            case YAML_ALIAS_EVENT:
                kind = .alias
                anchor = raw.data.alias.anchor.map { String(cString: $0) }
            case YAML_SCALAR_EVENT:
                kind = .scalar
                let scalar = raw.data.scalar
                anchor = scalar.anchor.map { String(cString: $0) }
                tag = scalar.tag.map { String(cString: $0) }
                value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                style = scalar.style == YAML_PLAIN_SCALAR_STYLE ? .plain : .quoted
                rawStyle = scalar.style
            case YAML_SEQUENCE_START_EVENT:
                kind = .sequenceStart
                anchor = raw.data.sequence_start.anchor.map { String(cString: $0) }
                tag = raw.data.sequence_start.tag.map { String(cString: $0) }
            case YAML_SEQUENCE_END_EVENT: kind = .sequenceEnd
            case YAML_MAPPING_START_EVENT:
                kind = .mappingStart
                anchor = raw.data.mapping_start.anchor.map { String(cString: $0) }
                tag = raw.data.mapping_start.tag.map { String(cString: $0) }
            case YAML_MAPPING_END_EVENT: kind = .mappingEnd
            default: kind = .none
            }
        }
    }
}
