import PhotonCore

/// Why a value cannot be written where a template puts it, and what to do about it.
public struct ValueRefusal: Error, Sendable, Hashable {
    public var reason: String
    public var help: String?

    public init(_ reason: String, help: String? = nil) {
        self.reason = reason
        self.help = help
    }
}

/// Writes one value into rendered output: encoded for the spot it lands in, or refused when it cannot
/// be represented there safely. A value can never change the structure around it.
enum ValueEncoding {
    /// The spot in the output a value lands in.
    enum Slot: Equatable {
        /// Inside double quotes; `style` says which escapes the reader knows.
        case doubleQuoted(QuoteStyle)
        /// Inside single quotes: YAML doubles the quote, the others cannot write one at all.
        case singleQuoted(TemplateFormat)
        /// Outside any quotes: only words that need no quoting.
        case bare(TemplateFormat)
        case comment
        case propertiesValue(atStart: Bool)
        case systemdValue(atStart: Bool)
        case raw(allowsLineBreaks: Bool)
        case argument(startsArgument: Bool, isCommandName: Bool)
        case path
        /// The template escapes the character before the value (`\{{x}}`): nothing can be written safely.
        case afterEscape
        /// An env file outside `NAME=…`: where sh reads a command.
        case shellCommand
    }

    enum QuoteStyle: Equatable {
        /// JSON, YAML and TOML: `\"`, `\\`, `\n`, `\t`, `\uXXXX`.
        case jsonLike
        /// POSIX shell and systemd's EnvironmentFile: `\` before `\ " $ \``.
        case shell
        /// HAProxy: `\` before `\ " $`.
        case haproxy
    }

    static func slot(_ target: RenderTarget, scanner: FormatScanner?, outputIsEmpty: Bool) -> Slot {
        switch target {
        case .argument(let isCommandName): return .argument(startsArgument: outputIsEmpty, isCommandName: isCommandName)
        case .path: return .path
        case .file(let format):
            guard let scanner else { return .raw(allowsLineBreaks: format == .multiline) }
            if scanner.escapePending { return .afterEscape }
            // A sourced file runs what is not an assignment: a value may only be an assignment's value.
            if format == .env, scanner.mode != .comment, !scanner.inAssignment { return .shellCommand }
            switch (format, scanner.mode) {
            case (_, .comment): return .comment
            case (.properties, .separator): return .propertiesValue(atStart: true)
            case (.properties, .value): return .propertiesValue(atStart: false)
            case (.properties, _): return .bare(.properties)
            case (.systemd, .separator): return .systemdValue(atStart: true)
            case (.systemd, .value): return .systemdValue(atStart: scanner.valueEmpty)
            case (.systemd, _): return .bare(.systemd)
            case (.env, .doubleQuoted): return .doubleQuoted(.shell)
            case (.haproxy, .doubleQuoted): return .doubleQuoted(.haproxy)
            case (_, .doubleQuoted), (_, .multilineBasic): return .doubleQuoted(.jsonLike)
            case (_, .singleQuoted), (_, .multilineLiteral): return .singleQuoted(format)
            default: return .bare(format)
            }
        }
    }

    /// `value` as it must appear at `slot`, or why it cannot.
    static func encode(_ value: String, at slot: Slot, sensitive: Bool) throws(ValueRefusal) -> String {
        if case .afterEscape = slot {
            throw ValueRefusal(
                "the template puts a backslash right before it, which would escape its first character",
                help: "remove the backslash before the tag in the template")
        }
        if case .shellCommand = slot {
            throw ValueRefusal(
                "the template puts it where sh reads a command, not an assignment's value",
                help: "in an env file, the kind's template should write values as NAME=\"{{…}}\"")
        }
        try checkCharacters(value, at: slot)
        switch slot {
        case .doubleQuoted(.haproxy), .singleQuoted(.haproxy):
            // Many HAProxy arguments are log-format strings, where % starts a directive (%[src], %ci).
            if value.unicodeScalars.contains("%") {
                throw ValueRefusal(
                    "it contains '%', which HAProxy reads as a log-format directive in many places",
                    help: "give a value without '%'")
            }
        default:
            break
        }
        switch slot {
        case .doubleQuoted(let style): return escaped(value, style)
        case .singleQuoted(let format):
            if value.unicodeScalars.contains("'") {
                if format == .yaml { return value.replacingOccurrences(of: "'", with: "''") }
                throw ValueRefusal(
                    "it contains a single quote, which cannot be written inside single quotes here",
                    help: "put the tag inside double quotes in the template")
            }
            return value
        case .bare(let format):
            try checkBare(value, format)
            return value
        case .comment, .raw: return value
        case .propertiesValue: return propertiesEscaped(value)
        case .systemdValue: return value.replacingOccurrences(of: "%", with: "%%")
        case .argument(let starts, let isCommandName):
            if sensitive {
                throw ValueRefusal(
                    isCommandName
                        ? "it is a secret, and a secret never names a command"
                        : "it is a secret, and a command's arguments are visible to every process on the machine (ps)",
                    help: "upload the secret in a file (mode 0600) and give the command the file's path")
            }
            if starts, value.hasPrefix("-") {
                throw ValueRefusal(
                    "it starts with '-', so the command would read it as an option",
                    help: "values that start a command argument must not start with '-'")
            }
            return value
        case .path:
            if sensitive { throw ValueRefusal("it is a secret, and a secret never becomes part of a path", help: "paths are shown in plans and logs") }
            return value
        case .afterEscape, .shellCommand: return value
        }
    }

    // MARK: Characters

    /// Control characters are refused everywhere; line breaks, tabs and Unicode line separators only
    /// where the slot can hold or escape them.
    static func checkCharacters(_ value: String, at slot: Slot) throws(ValueRefusal) {
        // Most values are short printable ASCII (addresses, names, numbers): nothing to look for.
        if !value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { try checkControls(value, at: slot) }
        switch slot {
        case .propertiesValue:
            if let first = value.unicodeScalars.first, first == " " || first == "\t" { throw leadingOrTrailingSpace }
            if let last = value.unicodeScalars.last, last == " " || last == "\t" { throw leadingOrTrailingSpace }
        case .systemdValue(let atStart):
            if let bad = value.unicodeScalars.first(where: { $0 == "\\" || $0 == "\"" || $0 == "'" }) {
                throw ValueRefusal(
                    "it contains \(bad == "\\" ? "a backslash" : "a quote"), which systemd reads as quoting or an escape",
                    help: "give a value without quotes or backslashes")
            }
            if let last = value.unicodeScalars.last, last == " " { throw ValueRefusal("it ends with a space, which systemd drops", help: "remove the space") }
            if atStart, let first = value.unicodeScalars.first, first == " " {
                throw ValueRefusal("it starts with a space, which systemd drops", help: "remove the space")
            }
        default:
            break
        }
    }

    /// Control characters, line breaks, tabs and line separators, where the slot cannot hold them.
    static func checkControls(_ value: String, at slot: Slot) throws(ValueRefusal) {
        let lineBreaks: Bool, tabs: Bool, separators: Bool
        switch slot {
        case .doubleQuoted(let style):
            lineBreaks = style == .jsonLike
            tabs = true
            separators = style == .jsonLike
        case .singleQuoted(let format):
            lineBreaks = false
            tabs = true
            separators = format != .yaml
        case .propertiesValue, .argument:
            lineBreaks = true
            tabs = true
            separators = true
        case .raw(let allows):
            lineBreaks = allows
            tabs = true
            separators = allows
        case .systemdValue, .path, .comment, .bare, .afterEscape, .shellCommand:
            lineBreaks = false
            tabs = false
            separators = false
        }
        for (offset, scalar) in value.unicodeScalars.enumerated() {
            var position: String { "at character \(offset + 1)" }
            if let name = controlName(scalar) {
                if scalar == "\n" {
                    if lineBreaks { continue }
                    throw ValueRefusal(
                        "it contains a line break (\(position)), which would end the line it is written on",
                        help: "give a value on one line")
                }
                if scalar == "\t" {
                    if tabs { continue }
                    throw ValueRefusal("it contains a tab (\(position)), which would separate words here", help: "replace the tab with a space, or remove it")
                }
                throw ValueRefusal(
                    "it contains the control character \(name) (\(position))",
                    help: "control characters are never written into files or commands; remove it")
            }
            if scalar == "\u{2028}" || scalar == "\u{2029}", !separators {
                throw ValueRefusal(
                    "it contains the Unicode \(scalar == "\u{2028}" ? "line" : "paragraph") separator U+\(hex(scalar.value)) (\(position)), which some readers take as a line break",
                    help: "remove it")
            }
        }
    }

    static let leadingOrTrailingSpace = ValueRefusal(
        "it starts or ends with a space, which the reader of this file drops (ZooKeeper trims its properties)",
        help: "remove the space")

    static func controlName(_ scalar: Unicode.Scalar) -> String? { ControlCharacters.name(of: scalar) }

    static func hex(_ value: UInt32) -> String { ControlCharacters.hex4(value) }

    // MARK: Escaping

    static func escaped(_ value: String, _ style: QuoteStyle) -> String {
        let special: [UInt8]
        switch style {
        case .jsonLike: special = [UInt8(ascii: "\""), UInt8(ascii: "\\")]
        case .shell: special = [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"), UInt8(ascii: "`")]
        case .haproxy: special = [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$")]
        }
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && !special.contains($0) }) { return value }
        var out = ""
        out.unicodeScalars.reserveCapacity(value.unicodeScalars.count + 8)
        for scalar in value.unicodeScalars {
            switch style {
            case .jsonLike:
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                // Line separators, the byte-order mark and the two non-characters PyYAML refuses: escaped, read back the same.
                case "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{FFFE}", "\u{FFFF}": out += "\\u" + hex(scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            case .shell:
                if scalar == "\\" || scalar == "\"" || scalar == "$" || scalar == "`" { out += "\\" }
                out.unicodeScalars.append(scalar)
            case .haproxy:
                if scalar == "\\" || scalar == "\"" || scalar == "$" { out += "\\" }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// java.util.Properties: backslash escapes; anything beyond ASCII as `\uXXXX`, since `load`
    /// reads ISO 8859-1.
    static func propertiesEscaped(_ value: String) -> String {
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) { return value }
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.isASCII {
                    out.unicodeScalars.append(scalar)
                } else {
                    for unit in String(scalar).utf16 { out += "\\u" + hex(UInt32(unit)) }
                }
            }
        }
        return out
    }

    // MARK: Bare words

    static func checkBare(_ value: String, _ format: TemplateFormat) throws(ValueRefusal) {
        let scalars = Array(value.unicodeScalars)
        func word(_ extra: String) -> Bool {
            let allowed = Array(extra.utf8)
            return value.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || allowed.contains(byte)
            }
        }
        let fits: Bool
        let quoting: String
        switch format {
        case .json:
            fits = value == "true" || value == "false" || value == "null" || isJSONNumber(value)
            quoting = "inside a JSON string (\"{{…}}\")"
        case .yaml:
            fits = scalars.isEmpty || (word("_./@+:-") && !"-:?@".unicodeScalars.contains(scalars[0]) && scalars.last != ":")
            quoting = "inside a double-quoted scalar (\"{{…}}\")"
        case .toml:
            fits = word("_-") || isJSONNumber(value)
            quoting = "inside a TOML string (\"{{…}}\")"
        case .env:
            fits = word("_./:@%+,-") && scalars.first != "~"
            quoting = "inside double quotes (\"{{…}}\")"
        case .haproxy:
            fits = word("_./:@+,=-")
            quoting = "inside double quotes (\"{{…}}\")"
        case .properties, .systemd:
            fits = !scalars.isEmpty && word("_.-")
            quoting = "after the '=' of a line (it is a key or a section name here)"
        case .text, .multiline:
            fits = true
            quoting = ""
        }
        if !fits {
            throw ValueRefusal(
                "it cannot be written as a bare word in a \(format.rawValue) file (only letters, digits and a few of _ . / : @ + - are)",
                help: "the kind's template should put the tag \(quoting); for a blueprint value, give a simpler one")
        }
    }

    static func isJSONNumber(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "-" { scalars = scalars.dropFirst() }
        let integer = scalars.prefix { ("0"..."9").contains($0) }
        guard !integer.isEmpty, integer.count == 1 || integer.first != "0" else { return false }
        scalars = scalars.dropFirst(integer.count)
        if scalars.first == "." {
            let fraction = scalars.dropFirst().prefix { ("0"..."9").contains($0) }
            guard !fraction.isEmpty else { return false }
            scalars = scalars.dropFirst(1 + fraction.count)
        }
        if scalars.first == "e" || scalars.first == "E" {
            scalars = scalars.dropFirst()
            if scalars.first == "+" || scalars.first == "-" { scalars = scalars.dropFirst() }
            let exponent = scalars.prefix { ("0"..."9").contains($0) }
            guard !exponent.isEmpty else { return false }
            scalars = scalars.dropFirst(exponent.count)
        }
        return scalars.isEmpty
    }
}
