import Foundation
import Kinds
import PhotonCore

/// `photon init`: a commented starter blueprint for one cluster of a kind, on local or static machines,
/// with the kind's roles at their default counts and its settings listed (commented) with their defaults.
package enum StarterBlueprint {
    package enum Driver: String, CaseIterable, Sendable {
        case local, `static`
    }

    package static func text(kind: Kind, driver: Driver, name: String, command: String) -> String {
        var lines = [
            "# A photon blueprint, written by `\(command)`.",
            "# See what it would do:   photon plan -f FILE",
            "# Make it so:             photon apply -f FILE",
            "# The reference is the README's \"Blueprint reference\"; `photon kinds` lists every kind's roles and settings.",
            "version: 1",
            "name: \(name)",
            "",
        ]
        let roles = kind.roles.map { ($0, $0.count.defaultCount ?? max($0.count.min, 1)) }
        switch driver {
        case .local:
            lines += [
                "controlPlane:",
                "  driver: local            # LXC machines on this host",
                "  network: 10.199.0.0/24   # their addresses; photon makes a bridge for it (pick a free range)",
            ]
        case .static:
            let total = roles.reduce(0) { $0 + $1.1 }
            lines += [
                "controlPlane:",
                "  driver: static           # machines you already have, reached over SSH",
                "  machines:                # one per machine the roles below need (\(total)); replace the examples",
            ]
            for index in 1...max(total, 1) {
                lines += [
                    "    - address: 192.0.2.\(10 + index)",
                    "      hostKey: \"SHA256:…\"   # ssh-keyscan -t ed25519 ADDRESS | ssh-keygen -lf -  (or the whole public key)",
                ]
            }
            lines += [
                "ssh:",
                "  user: root",
                "  key: file:~/.ssh/id_ed25519  # a key those machines accept (ed25519 or ECDSA)",
            ]
        }
        lines += ["", "clusters:", "  - name: \(kind.name == "swarm" ? "demo" : kind.name)", "    kind: \(kind.name)", "    roles:"]
        for (role, count) in roles {
            var rule = "\(role.count.min)–\(role.count.max == 100_000 ? "…" : String(role.count.max))"
            if role.count.odd { rule += ", odd" }
            lines.append("      \(role.name): \(count)".padding(toLength: 28, withPad: " ", startingAt: 0) + "# \(role.description) (\(rule))")
        }
        if !kind.settings.isEmpty {
            lines.append("    # settings:                # the kind's settings with their defaults; uncomment to change")
            for setting in kind.settings {
                let value = setting.defaultValue.map { yaml($0) } ?? "…   # required"
                lines.append("    #   \(setting.name): \(value)".padding(toLength: 44, withPad: " ", startingAt: 0) + "# \(setting.description)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A default as YAML writes it: plain when that reads back the same, else double-quoted.
    static func yaml(_ value: SettingDefault) -> String {
        switch value {
        case .list(let items): return "[" + items.map { yaml(.scalar($0)) }.joined(separator: ", ") + "]"
        case .scalar(let text):
            let plain = !text.isEmpty && !text.contains(where: { ":#{}[],&*!|>'\"%@`".contains($0) || $0.isWhitespace }) && !text.hasPrefix("-")
            if plain { return text }
            return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
    }
}
