import Foundation
import PhotonCore

/// What a command writes its results in.
package enum OutputFormat: String, CaseIterable, Sendable {
    case text, json
}

/// Where output goes: results to stdout, everything else to stderr. No control character reaches the
/// terminal except the colours and redraws photon writes itself (and none of those without colour): a
/// value's ESC, BEL or CR shows as `\x1b`, `\x07`, `\x0d`.
package enum Output {
    package static func result(_ text: String) {
        let safe = TerminalText.sanitized(text, keepingStyles: stdoutColor)
        FileHandle.standardOutput.write(Data((safe.hasSuffix("\n") ? safe : safe + "\n").utf8))
    }

    package static func error(_ text: String, newline: Bool = true) {
        let safe = TerminalText.sanitized(text, keepingStyles: stderrColor)
        FileHandle.standardError.write(Data((safe.hasSuffix("\n") || !newline ? safe : safe + "\n").utf8))
    }

    /// Set by `--no-color`, anywhere on the command line.
    package static let colorTurnedOff = Locked(false)

    /// Colour only on a terminal, and never with --no-color or a NO_COLOR that is set and not empty (no-color.org).
    package static func wantsColor(_ descriptor: Int32) -> Bool {
        let environment = ProcessInfo.processInfo.environment
        return isatty(descriptor) == 1 && !colorTurnedOff.withLock { $0 } && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    package static var stdoutColor: Bool { wantsColor(STDOUT_FILENO) }
    package static var stderrColor: Bool { wantsColor(STDERR_FILENO) }
}
