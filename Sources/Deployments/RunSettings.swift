import Foundation

/// How a run goes, however it was asked for (photon's flags, or a typed request).
package struct RunSettings: Sendable {
    /// Do not ask before changing anything.
    package var yes = false
    /// Actions at once; nil for the blueprint's `ssh.parallelism`.
    package var parallelism: Int?
    package var format: OutputFormat = .text
    /// Through a plane: fail on a busy deployment instead of waiting for it.
    package var noWait = false

    package init(yes: Bool = false, parallelism: Int? = nil, format: OutputFormat = .text, noWait: Bool = false) {
        self.yes = yes
        self.parallelism = parallelism
        self.format = format
        self.noWait = noWait
    }
}
