/// JSON text that is safe on a terminal.
public enum JSONText {
    /// Foundation's encoder escapes C0 controls but writes DEL, C1 controls and the Unicode line
    /// separators as they are; they can only be inside strings, where `\uXXXX` means the same and no
    /// terminal obeys it.
    public static func escapingControls(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { (0x7F...0x9F).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" }) else { return json }
        var out = ""
        for scalar in json.unicodeScalars {
            if (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                out += "\\u" + ControlCharacters.hex4(scalar.value).lowercased()
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
