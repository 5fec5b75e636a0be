import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning

/// `photon plan` as people read it: grouped by cluster and role, `+` create, `~` change, `-` delete,
/// a summary line at the end; colour only on a terminal.
package struct PlanTextRenderer {
    package static let artifactDescriptions = [
        "photon": "photon's own executable", "plane-certificate": "the plane's certificate", "plane-key": "the plane's private key",
        "state-key": "the key that seals the state's secrets", "ssh-key": "the deployment's SSH key",
    ]

    package var color: Bool

    package init(color: Bool) { self.color = color }

    /// Values in a plan (settings, file contents, addresses) may hold control characters: they are shown
    /// visibly, and only photon's own colours are written as escape sequences.
    package func paint(_ text: String, _ change: MachineChange) -> String {
        let text = TerminalText.visible(text)
        guard color else { return text }
        switch change {
        case .create: return "\u{1B}[32m\(text)\u{1B}[0m"
        case .update: return "\u{1B}[33m\(text)\u{1B}[0m"
        case .delete: return "\u{1B}[31m\(text)\u{1B}[0m"
        case .unchanged: return text
        }
    }

    package func bold(_ text: String) -> String {
        let text = TerminalText.visible(text)
        return color ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }

    package func render(_ plan: Plan) -> String {
        var out: [String] = []
        out.append(
            TerminalText.visible(
                "Deployment \(plan.deployment): blueprint \(plan.blueprintFile) (sha256:\(plan.blueprintDigest.prefix(12))), state serial \(plan.stateSerial), driver \(plan.driver)"
            ))
        let machinesByGroup = Dictionary(grouping: plan.machines, by: \.group)
        for group in plan.groups {
            let members = machinesByGroup[group.name] ?? []
            out.append("")
            out.append(bold(group.isManagement ? "management plane (\(group.kind))" : "cluster \(group.name) (\(group.kind))"))
            if !group.settings.isEmpty {
                out.append(TerminalText.visible("  settings: " + group.settings.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")))
            }
            for role in group.roles {
                let roleMachines = members.filter { $0.role == role.name }
                var line = "  \(role.name): \(role.count) machine\(role.count == 1 ? "" : "s")"
                if role.previousCount != role.count, role.previousCount > 0 || role.count == 0 { line += " (was \(role.previousCount))" }
                if role.countSource == .kindDefault { line += " (kind default)" }
                if role.countSource == .scaled { line += " (set by photon scale; the blueprint says \(role.blueprintCount.map(String.init) ?? "?"))" }
                if !role.flavor.isEmpty {
                    line += ", flavor \(role.flavor) (\(role.flavorSummary)), canaries \(role.canaries), maxInFlight \(role.maxInFlight)"
                }
                out.append(TerminalText.visible(line))
                let changed = roleMachines.filter { $0.change != .unchanged }
                for machine in changed {
                    out.append(
                        paint("  \(machine.change.symbol) \(machine.name)", machine.change) + TerminalText.visible(machine.address.map { "  \($0)" } ?? ""))
                    for index in machine.actions {
                        let action = plan.actions[index]
                        out.append(paint("      \(action.change.symbol) \(describe(action))", action.change))
                        out.append(contentsOf: details(action).map { "          " + $0 })
                    }
                }
                let unchanged = roleMachines.count - changed.count
                if unchanged > 0 { out.append("    (\(unchanged) unchanged)") }
            }
        }
        let summary = plan.summary
        out.append("")
        if plan.hasChanges {
            out.append(
                bold("Plan:")
                    + " \(summary.create) machine\(summary.create == 1 ? "" : "s") to create, \(summary.update) to change, \(summary.delete) to delete, \(summary.unchanged) unchanged; \(summary.actions) action\(summary.actions == 1 ? "" : "s")."
            )
        } else {
            out.append(bold("No changes.") + " \(summary.unchanged) machine\(summary.unchanged == 1 ? "" : "s") match the blueprint.")
        }
        return out.joined(separator: "\n")
    }

    package func describe(_ action: PlanAction) -> String {
        var text = action.summary
        switch action.detail {
        case .upload(let file):
            var facts = [String(format: "%04o", file.mode)]
            if file.isArtifact { facts.append(Self.artifactDescriptions[file.source] ?? file.source) }
            if file.content.isSensitive { facts.append("sensitive") }
            if let sha = file.sha256 {
                if let previous = file.previousSHA256, previous != sha {
                    facts.append("sha256:\(previous.prefix(12)) → \(sha.prefix(12))")
                } else {
                    facts.append("sha256:\(sha.prefix(12))")
                }
            } else {
                facts.append("content known after apply")
            }
            text += " (\(facts.joined(separator: ", ")))"
        default:
            break
        }
        var extras: [String] = []
        if let timeout = action.timeout { extras.append("timeout \(timeout)") }
        if let retry = action.retry { extras.append("retry \(retry.attempts)×") }
        if !extras.isEmpty { text += " [\(extras.joined(separator: ", "))]" }
        return text
    }

    /// The lines that changed in a file photon pushed before, when it may be shown.
    package func details(_ action: PlanAction) -> [String] {
        guard case .upload(let file) = action.detail, !file.content.isSensitive, !file.content.isUnknown,
            let previous = file.previousContent, previous != file.content.text
        else { return [] }
        return LineDiff.unified(old: previous, new: file.content.text, limit: 40).map { line in
            line.hasPrefix("+") ? paint(line, .create) : line.hasPrefix("-") ? paint(line, .delete) : TerminalText.visible(line)
        }
    }
}

/// The machine-readable plan: a versioned document with the blueprint digest and the state serial,
/// never file contents or secret values.
package enum PlanJSONRenderer {
    package static func render(_ plan: Plan, photonVersion: String) -> String {
        JSONOutput.encode(PlanDocument(plan, photonVersion: photonVersion))
    }
}

/// The action graph for Graphviz: one box per action, grouped by machine, gates as diamonds.
package enum PlanDOTRenderer {
    package static func render(_ plan: Plan) -> String {
        var out = [
            "digraph plan {", "  rankdir=LR;", "  node [shape=box, fontname=\"monospace\", fontsize=10];",
            "  label=\(quote("photon plan: \(plan.deployment)"));",
        ]
        var machineOf: [Int: String] = [:]
        for machine in plan.machines { for action in machine.actions { machineOf[action] = machine.name } }
        var byMachine: [String: [Int]] = [:]
        var order: [String] = []
        for index in plan.actions.indices {
            let key = machineOf[index] ?? ""
            if byMachine[key] == nil { order.append(key) }
            byMachine[key, default: []].append(index)
        }
        for (position, machine) in order.enumerated() {
            let indices = byMachine[machine] ?? []
            if machine.isEmpty {
                for index in indices { out.append("  \(node(plan.actions[index]))") }
                continue
            }
            out.append("  subgraph cluster_\(position) {")
            out.append("    label=\(quote(machine));")
            for index in indices { out.append("    \(node(plan.actions[index]))") }
            out.append("  }")
        }
        for action in plan.actions {
            for dependency in action.dependsOn {
                out.append("  \(quote(plan.actions[dependency].id)) -> \(quote(action.id));")
            }
        }
        out.append("}")
        return out.joined(separator: "\n")
    }

    package static func node(_ action: PlanAction) -> String {
        var label = "\(action.change.symbol) \(action.summary)"
        if label.count > 72 { label = String(label.prefix(71)) + "…" }
        var attributes = ["label=\(quote(label))"]
        switch action.type {
        case .gate: attributes.append("shape=diamond")
        case .createMachine, .deleteMachine: attributes.append("style=bold")
        default: break
        }
        switch action.change {
        case .create: attributes.append("color=darkgreen")
        case .update: attributes.append("color=darkorange")
        case .delete: attributes.append("color=red")
        case .unchanged: break
        }
        return "\(quote(action.id)) [\(attributes.joined(separator: ", "))];"
    }

    package static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
