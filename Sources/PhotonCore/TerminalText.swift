/// Text for a terminal: control characters that came from values (a blueprint, a machine's output, a
/// captured value) are shown, never obeyed. ESC, BEL, CR, the other C0 and C1 controls, DEL and the
/// Unicode line and paragraph separators become visible escapes such as `\x1b` and `\u{2028}`.
public enum TerminalText {
    /// `text` with every control character but line feed and tab made visible.
    public static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 8)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) { out += escape(scalar) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// Like ``visible(_:)``, but keeps the escape sequences photon itself writes to colour a terminal and
    /// redraw its progress view (`ESC [ digits/semicolons m|F|J`); every other control is made visible.
    /// Used where output is written, after values were made visible where they were put.
    public static func sanitized(_ text: String, keepingStyles: Bool) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = ""
        out.unicodeScalars.reserveCapacity(scalars.count + 8)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if keepingStyles, scalar == "\u{1B}", let end = styleEnd(scalars, from: index) {
                out.unicodeScalars.append(contentsOf: scalars[index...end])
                index = end + 1
                continue
            }
            if needsEscape(scalar) { out += escape(scalar) } else { out.unicodeScalars.append(scalar) }
            index += 1
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: return false
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: return true
        default: return false
        }
    }

    static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar.value {
        case 0x2028, 0x2029: return "\\u{\(String(scalar.value, radix: 16))}"
        default:
            let digits = String(scalar.value, radix: 16)
            return "\\x" + (digits.count < 2 ? "0" : "") + digits
        }
    }

    /// The index of the final byte of a CSI sequence photon writes, starting at `start` (an ESC).
    static func styleEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
        guard start + 2 < scalars.count, scalars[start + 1] == "[" else { return nil }
        var index = start + 2
        while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == ";" { index += 1 }
        guard index < scalars.count, index - start <= 16, ["m", "F", "J"].contains(scalars[index]) else { return nil }
        return index
    }
}
