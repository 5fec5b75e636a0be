import Blueprints
import Crypto
import Engine
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// The digest and serial a saved plan (a ``PlanDocument`` on disk) was made against, and what it planned.
package struct SavedPlan {
    package var blueprintFile: String
    package var blueprintDigest: String
    package var stateSerial: Int
    package var actionIDs: [String]
    package var fileDigests: [String: String]
    /// Every action as saved (its command, guards, files, dependencies), to compare with what runs.
    package var actions: [PlanDocument.Action] = []

    package static func read(_ path: String) throws -> SavedPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PhotonError("cannot read the plan file '\(path)'")
        }
        guard let document = try? JSONDecoder().decode(PlanDocument.self, from: data), document.formatVersion == Plan.formatVersion else {
            throw PhotonError(
                "'\(path)' is not a photon plan (format version \(Plan.formatVersion))", help: "make one with 'photon plan -f BLUEPRINT -o \(path)'")
        }
        var digests: [String: String] = [:]
        for action in document.actions {
            if let sha = action.file?.sha256 { digests[action.id] = sha }
        }
        return SavedPlan(
            blueprintFile: document.blueprint.file, blueprintDigest: String(document.blueprint.digest.dropFirst("sha256:".count)),
            stateSerial: document.stateSerial, actionIDs: document.actions.map(\.id), fileDigests: digests, actions: document.actions)
    }

    /// Refuses a plan made against another blueprint or another recorded state, or that plans something else now.
    package func check(against plan: Plan, serial: Int) throws {
        guard blueprintDigest == plan.blueprintDigest else {
            throw PhotonError(
                "the saved plan was made from another version of \(blueprintFile) (sha256:\(blueprintDigest.prefix(12)), now sha256:\(plan.blueprintDigest.prefix(12)))",
                help: "make a new plan with 'photon plan -f \(blueprintFile) -o PLAN'")
        }
        guard stateSerial == serial else {
            throw PhotonError(
                "the saved plan is stale: it was made at state serial \(stateSerial), the recorded state is now at \(serial)",
                help: "something was applied since; make a new plan with 'photon plan -f \(blueprintFile) -o PLAN'")
        }
        let digests = Dictionary(
            plan.actions.compactMap { action -> (String, String)? in
                if case .upload(let file) = action.detail, let sha = file.sha256 { return (action.id, sha) }
                return nil
            }, uniquingKeysWith: { a, _ in a })
        guard actionIDs == plan.actions.map(\.id), digests == fileDigests else {
            throw PhotonError(
                "the saved plan no longer matches what this blueprint and state plan (the kinds or the photon version changed)",
                help: "make a new plan with 'photon plan -f \(blueprintFile) -o PLAN'")
        }
        // What runs is what was saved, action by action: a command, guard or file changed in the file since
        // (by hand, or by anything else) refuses the plan.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let current = PlanDocument(plan, photonVersion: PhotonVersion.current).actions
        for (saved, now) in zip(actions, current) where (try? encoder.encode(saved)) != (try? encoder.encode(now)) {
            throw PhotonError(
                "the saved plan's action \(TerminalText.visible(saved.id)) is not what this blueprint and state plan for it: the plan file was changed",
                help: "apply only plans as 'photon plan -o' wrote them; make a new one with 'photon plan -f \(blueprintFile) -o PLAN'")
        }
    }
}

extension SavedPlan {
    /// `photon show PLAN.json`: a saved plan as people read it, by cluster, role and machine.
    package static func text(_ path: String, color: Bool) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let document = try? JSONDecoder().decode(PlanDocument.self, from: data) else {
            throw PhotonError(
                "'\(path)' is not a photon plan (format version \(Plan.formatVersion))", help: "make one with 'photon plan -f BLUEPRINT -o \(path)'")
        }
        let renderer = PlanTextRenderer(color: color)
        var out = [
            "Saved plan of deployment \(document.deployment): blueprint \(document.blueprint.file) (\(document.blueprint.digest.prefix(19))), state serial \(document.stateSerial), driver \(document.driver), photon \(document.photonVersion)"
        ]
        let actions = Dictionary(document.actions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for group in document.groups {
            out.append("")
            out.append(renderer.bold("cluster \(group.name) (\(group.kind))"))
            for role in group.roles {
                let machines = document.machines.filter { $0.group == group.name && $0.role == role.name && $0.change != .unchanged }
                out.append("  \(role.name): \(role.count) machine\(role.count == 1 ? "" : "s")\(machines.isEmpty ? " (unchanged)" : "")")
                for machine in machines {
                    out.append(renderer.paint("  \(machine.change.symbol) \(machine.name)  \(machine.address ?? "address known after apply")", machine.change))
                    for id in machine.actions {
                        if let action = actions[id] { out.append(renderer.paint("      \(action.change.symbol) \(action.summary)", action.change)) }
                    }
                }
            }
        }
        let summary = document.summary
        out.append("")
        out.append(
            "Plan: \(summary.create) machines to create, \(summary.update) to change, \(summary.delete) to delete, \(summary.unchanged) unchanged; \(summary.actions) actions."
        )
        return out.joined(separator: "\n")
    }
}
