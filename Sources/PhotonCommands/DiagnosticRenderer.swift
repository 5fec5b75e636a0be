import Deployments
import Foundation
import PhotonCore

/// Prints diagnostics the way compilers do: `file:line:column: error: message`, the source line with a
/// caret under the column, then what to do about it.
struct DiagnosticRenderer {
    var color: Bool
    private var sources: [String: [Substring]] = [:]

    init(color: Bool) { self.color = color }

    /// Messages quote values from blueprints and machines: their control characters are shown, not obeyed.
    func paint(_ text: String, _ code: String) -> String {
        let text = TerminalText.visible(text)
        return color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    mutating func render(_ diagnostics: [Diagnostic]) -> String {
        var out: [String] = []
        for diagnostic in diagnostics { out.append(render(diagnostic)) }
        if diagnostics.count > 1 { out.append("\(diagnostics.count) errors") }
        return out.joined(separator: "\n")
    }

    /// A problem that does not stop the command (a plan previews the rest), painted yellow.
    mutating func renderWarning(_ diagnostic: Diagnostic) -> String { render(diagnostic, label: paint("warning:", "1;33")) }

    mutating func render(_ diagnostic: Diagnostic) -> String { render(diagnostic, label: paint("error:", "1;31")) }

    mutating func render(_ diagnostic: Diagnostic, label: String) -> String {
        var lines: [String] = []
        let head = label + " " + paint(diagnostic.message, "1")
        guard let location = diagnostic.location else {
            lines.append(head)
            if let help = diagnostic.help { lines.append("  " + paint("help:", "36") + " " + TerminalText.visible(help)) }
            return lines.joined(separator: "\n")
        }
        lines.append(TerminalText.visible("\(location)") + ": " + head)
        if let line = sourceLine(location.file, location.line) {
            let number = String(location.line)
            let gutter = String(repeating: " ", count: number.count)
            // Tabs would shift the caret; show them as single spaces.
            let shown = TerminalText.visible(line.replacingOccurrences(of: "\t", with: " "))
            let clipped = shown.count > 160 ? String(shown.prefix(160)) + "…" : shown
            lines.append(" \(number) | \(clipped)")
            let caretColumn = min(max(location.column - 1, 0), clipped.count)
            lines.append(" \(gutter) | " + String(repeating: " ", count: caretColumn) + paint("^", "1;32"))
        }
        if let help = diagnostic.help { lines.append("  " + paint("help:", "36") + " " + TerminalText.visible(help)) }
        return lines.joined(separator: "\n")
    }

    func render(_ error: PhotonError) -> String {
        var text = paint("error:", "1;31") + " " + paint(error.message, "1")
        if let help = error.help { text += "\n  " + paint("help:", "36") + " " + TerminalText.visible(help) }
        return text
    }

    private mutating func sourceLine(_ file: String, _ number: Int) -> String? {
        if sources[file] == nil {
            guard let data = FileManager.default.contents(atPath: file), data.count <= 16 << 20,
                let text = String(data: data, encoding: .utf8)
            else { return nil }
            sources[file] = text.split(separator: "\n", omittingEmptySubsequences: false)
        }
        guard let lines = sources[file], number >= 1, number <= lines.count else { return nil }
        return String(lines[number - 1]).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
    }
}
