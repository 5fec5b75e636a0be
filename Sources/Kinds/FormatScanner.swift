/// Follows a file's lexical structure through the template's literal text, so that each value is written
/// for the spot it lands in: inside a JSON string, a YAML double-quoted scalar, a comment, a bare word…
///
/// Only the template's own text moves the scanner: values are encoded so that they cannot open or close
/// anything (a quote, a comment, a line), and `valueWritten()` records that a word now holds something.
struct FormatScanner: Sendable {
    enum Mode: Sendable {
        case bare, comment, doubleQuoted, singleQuoted
        /// TOML's `"""` and `'''` strings.
        case multilineBasic, multilineLiteral
        /// Java properties: before the key, in it, between it and the value, in the value.
        case lineStart, key, separator, value
        /// A systemd section header (`[Service]`).
        case header
    }

    /// What the last significant character on the line allows next (YAML: may a quote open a scalar here?).
    enum Lead: Sendable { case lineStart, indicator, pendingIndicator, other }

    let format: TemplateFormat
    private(set) var mode: Mode
    /// The previous character was a backslash that escapes the next one.
    private(set) var escapePending = false
    private var lead: Lead = .lineStart
    private var afterSpace = true
    /// YAML: a single-quoted scalar just closed; a second quote makes it `''`, an escaped quote.
    private var singleJustClosed = false
    /// Properties: the separator (`=` or `:`) between key and value was seen.
    private var separatorSeen = false
    /// Properties and systemd: nothing of the value written yet (leading spaces are dropped by readers).
    private(set) var valueEmpty = true
    /// env: the current shell word is an assignment (`NAME=`…), so a value in it is data, not a command.
    private(set) var inAssignment = false

    init(format: TemplateFormat) {
        self.format = format
        switch format {
        case .properties, .systemd: mode = .lineStart
        default: mode = .bare
        }
    }

    /// Whether the format has structure to follow at all.
    static func needsScanning(_ format: TemplateFormat) -> Bool {
        switch format {
        case .text, .multiline: return false
        default: return true
        }
    }

    /// Follows `text`, byte by byte: every character that shapes a file is ASCII, so a byte of a
    /// multi-byte character reads as an ordinary letter.
    mutating func consume(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            if format == .toml {
                // TOML looks ahead, for its triple quotes.
                var index = 0
                while index < bytes.count { index += step(bytes, at: index) }
                return
            }
            for byte in bytes {
                if escapePending {
                    escapePending = false
                    if byte == 0x0A, mode == .value { mode = .separator }  // a properties line continues
                    continue
                }
                let scalar = Unicode.Scalar(byte < 0x80 ? byte : 0x61)
                switch format {
                case .json: json(scalar)
                case .yaml: yaml(scalar)
                case .properties: properties(scalar)
                case .env: shell(scalar)
                case .haproxy: haproxy(scalar)
                case .systemd: systemd(scalar)
                case .toml, .text, .multiline: break
                }
            }
        }
    }

    /// A value was written at the current position.
    mutating func valueWritten(nonEmpty: Bool) {
        guard nonEmpty else { return }
        lead = .other
        afterSpace = false
        singleJustClosed = false
        switch mode {
        case .lineStart: mode = .key
        case .separator:
            mode = .value
            valueEmpty = false
        case .value: valueEmpty = false
        default: break
        }
    }

    /// Consumes the byte at `index` (and any it looks ahead at); returns how many it used.
    private mutating func step(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let scalar = bytes[index] < 0x80 ? Unicode.Scalar(bytes[index]) : "a"
        func ahead(_ offset: Int) -> Unicode.Scalar? { index + offset < bytes.count ? Unicode.Scalar(bytes[index + offset]) : nil }
        if escapePending {
            escapePending = false
            if scalar == "\n", mode == .value { mode = .separator }  // a properties line continues
            return 1
        }
        switch format {
        case .json: json(scalar)
        case .yaml: yaml(scalar)
        case .toml:
            if mode == .bare || mode == .multilineBasic || mode == .multilineLiteral {
                let quote: Unicode.Scalar = mode == .multilineLiteral ? "'" : "\""
                if mode != .bare, scalar == quote, ahead(1) == quote, ahead(2) == quote {
                    mode = .bare
                    return 3
                }
                if mode == .bare, scalar == "\"" || scalar == "'", ahead(1) == scalar, ahead(2) == scalar {
                    mode = scalar == "\"" ? .multilineBasic : .multilineLiteral
                    return 3
                }
            }
            toml(scalar)
        case .properties: properties(scalar)
        case .env: shell(scalar)
        case .haproxy: haproxy(scalar)
        case .systemd: systemd(scalar)
        case .text, .multiline: break
        }
        return 1
    }

    private mutating func json(_ scalar: Unicode.Scalar) {
        switch mode {
        case .doubleQuoted:
            if scalar == "\\" { escapePending = true } else if scalar == "\"" { mode = .bare }
        default:
            if scalar == "\"" { mode = .doubleQuoted }
        }
    }

    private mutating func yaml(_ scalar: Unicode.Scalar) {
        let reopens = singleJustClosed && scalar == "'"
        singleJustClosed = false
        switch mode {
        case .comment:
            if scalar == "\n" {
                mode = .bare
                lead = .lineStart
                afterSpace = true
            }
        case .doubleQuoted:
            if scalar == "\\" {
                escapePending = true
            } else if scalar == "\"" {
                mode = .bare
                lead = .other
                afterSpace = false
            }
        case .singleQuoted:
            if scalar == "'" {
                mode = .bare
                singleJustClosed = true
                lead = .other
                afterSpace = false
            }
        default:
            if reopens {
                mode = .singleQuoted
                return
            }
            switch scalar {
            case "\n":
                lead = .lineStart
                afterSpace = true
            case " ", "\t":
                if lead == .pendingIndicator { lead = .indicator }
                afterSpace = true
            case "#" where afterSpace:
                mode = .comment
            case "\"" where lead == .lineStart || lead == .indicator:
                mode = .doubleQuoted
            case "'" where lead == .lineStart || lead == .indicator:
                mode = .singleQuoted
            case ":", "-", "?":
                lead = lead == .lineStart || lead == .indicator || scalar == ":" ? .pendingIndicator : .other
                afterSpace = false
            case "[", "{", ",":
                lead = .indicator
                afterSpace = false
            default:
                lead = .other
                afterSpace = false
            }
        }
    }

    private mutating func toml(_ scalar: Unicode.Scalar) {
        switch mode {
        case .comment: if scalar == "\n" { mode = .bare }
        case .doubleQuoted:
            if scalar == "\\" { escapePending = true } else if scalar == "\"" { mode = .bare }
        case .multilineBasic: if scalar == "\\" { escapePending = true }
        case .singleQuoted: if scalar == "'" { mode = .bare }
        case .multilineLiteral: break
        default:
            switch scalar {
            case "#": mode = .comment
            case "\"": mode = .doubleQuoted
            case "'": mode = .singleQuoted
            default: break
            }
        }
    }

    private mutating func properties(_ scalar: Unicode.Scalar) {
        let space = scalar == " " || scalar == "\t" || scalar == "\u{0C}"
        if scalar == "\n" {
            mode = .lineStart
            return
        }
        switch mode {
        case .comment: break
        case .lineStart:
            if space { break }
            if scalar == "#" || scalar == "!" {
                mode = .comment
                break
            }
            separatorSeen = false
            if scalar == "=" || scalar == ":" {
                separatorSeen = true
                mode = .separator
                valueEmpty = true
                break
            }
            mode = .key
            if scalar == "\\" { escapePending = true }
        case .key:
            if scalar == "\\" {
                escapePending = true
            } else if scalar == "=" || scalar == ":" {
                separatorSeen = true
                mode = .separator
                valueEmpty = true
            } else if space {
                mode = .separator
                valueEmpty = true
            }
        case .separator:
            if space { break }
            if !separatorSeen, scalar == "=" || scalar == ":" {
                separatorSeen = true
                break
            }
            mode = .value
            valueEmpty = false
            if scalar == "\\" { escapePending = true }
        default:
            if scalar == "\\" { escapePending = true }
            valueEmpty = false
        }
    }

    private mutating func shell(_ scalar: Unicode.Scalar) {
        switch mode {
        case .comment:
            if scalar == "\n" {
                mode = .bare
                afterSpace = true
                inAssignment = false
            }
        case .doubleQuoted:
            if scalar == "\\" {
                escapePending = true
            } else if scalar == "\"" {
                mode = .bare
                afterSpace = false
            }
        case .singleQuoted:
            if scalar == "'" {
                mode = .bare
                afterSpace = false
            }
        default:
            switch scalar {
            case "\n", " ", "\t", ";", "&", "|":
                afterSpace = true
                inAssignment = false
            case "#" where afterSpace: mode = .comment
            case "\"": mode = .doubleQuoted
            case "'": mode = .singleQuoted
            case "\\":
                escapePending = true
                afterSpace = false
            case "=":
                inAssignment = inAssignment || !afterSpace
                afterSpace = false
            default: afterSpace = false
            }
        }
    }

    private mutating func haproxy(_ scalar: Unicode.Scalar) {
        // HAProxy's parse_line: a line ends at a line break even inside quotes; '#' outside quotes starts a comment anywhere.
        if scalar == "\n" || scalar == "\r" {
            mode = .bare
            return
        }
        switch mode {
        case .comment: break
        case .doubleQuoted:
            if scalar == "\\" { escapePending = true } else if scalar == "\"" { mode = .bare }
        case .singleQuoted: if scalar == "'" { mode = .bare }
        default:
            switch scalar {
            case "#": mode = .comment
            case "\"": mode = .doubleQuoted
            case "'": mode = .singleQuoted
            case "\\": escapePending = true
            default: break
            }
        }
    }

    private mutating func systemd(_ scalar: Unicode.Scalar) {
        if scalar == "\n" {
            // A value ending in a backslash continues on the next line; photon's values never end in one.
            mode = .lineStart
            return
        }
        switch mode {
        case .lineStart:
            if scalar == " " || scalar == "\t" { break }
            if scalar == "#" || scalar == ";" {
                mode = .comment
            } else if scalar == "[" {
                mode = .header
            } else if scalar == "=" {
                mode = .separator
                valueEmpty = true
            } else {
                mode = .key
            }
        case .key:
            if scalar == "=" {
                mode = .separator
                valueEmpty = true
            }
        case .separator:
            if scalar != " " && scalar != "\t" {
                mode = .value
                valueEmpty = false
            }
        case .value:
            valueEmpty = false
        default:
            break
        }
    }
}
