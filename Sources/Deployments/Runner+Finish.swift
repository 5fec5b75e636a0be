import Blueprints
import Crypto
import Engine
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning
import StateStore

extension Runner {
    /// After a converged run: what the goal leaves recorded.
    package func finish(_ goal: Goal, _ resolved: ResolvedDeployment, recorded: RecordedState, printingAccess: Bool) async throws {
        switch goal {
        case .apply:
            try await finishApply(resolved, recorded: recorded)
            if printingAccess { try await printAccess(resolved) }
        case .applyManagement:
            if printingAccess { try await printAccess(resolved) }
        case .destroy:
            try await removeLeftoverMachines()
            try await removeState()
        case .destroyClusters:
            break
        }
    }

    /// Local machines of this deployment that the installer's state does not record (a management
    /// plane made them, and is gone or was bypassed with --local): destroy leaves none behind, nor what
    /// the host holds for them.
    package func removeLeftoverMachines() async throws {
        guard case .local = blueprint.controlPlane, !state.inPlane else { return }
        let driver = try Backends.current.current.driver(blueprint, try await backendContext())
        for machine in try await driver.list() {
            Output.error("removing \(machine.name), a machine of \(blueprint.name.value) this installer's state did not record (its management plane made it)")
            try await driver.delete(name: machine.name)
        }
        try await driver.releaseIfUnused()
    }

    /// After a converged apply: the blueprint becomes the last applied, and scaled counts the blueprint has
    /// overridden since (or whose cluster or role is gone) are forgotten.
    package func finishApply(_ resolved: ResolvedDeployment, recorded: RecordedState) async throws {
        try await store.recordApplied(blueprint: try blueprintBytes(), digest: blueprint.digest)
        // The versions the clusters now run: the next plan refuses moves their software does not allow.
        var versions: [String: String] = [:]
        for group in resolved.groups {
            for declaration in group.kind.settings where declaration.upgrade != nil {
                if case .text(let value)? = group.settings[declaration.name] {
                    versions[Resolver.appliedVersionKey(group: group.name, setting: declaration.name)] = value
                }
            }
        }
        if !versions.isEmpty { try await store.storeGeneratedSecrets(versions) }
        var inForce = Set<String>()
        for group in resolved.groups { for role in group.roles where role.countSource == .scaled { inForce.insert("\(group.name)/\(role.name)") } }
        try await store.forgetScaledCounts(recorded.scaledCounts.keys.filter { !inForce.contains($0) }.sorted())
    }

    /// How to reach each cluster: its kind's `access` command as an ssh line with photon's key and, for
    /// local machines, their pinned host keys.
    package func printAccess(_ resolved: ResolvedDeployment) async throws {
        let entries = try await accessEntries(resolved)
        if options.format == .json {
            // Inside the plane: the client builds the lines with its own key and known hosts.
            for entry in entries { Output.result(RunEventLine(entry.event).json) }
        } else if !entries.isEmpty {
            Output.result(
                (["", "Reach the clusters:"] + entries.flatMap { $0.lines(blueprint: blueprint, stateDirectory: stateDirectory) }).joined(separator: "\n"))
        }
    }

    /// Where to reach each group: its kind's `access` command on the first machine of its access role.
    package func accessEntries(_ resolved: ResolvedDeployment) async throws -> [AccessEntry] {
        let recorded = try await store.recordedState()
        var entries: [AccessEntry] = []
        for group in resolved.groups {
            guard let access = group.kind.access, let role = access.role ?? group.roles.first?.name,
                let machine = recorded.machines.filter({ $0.group == group.name && $0.role == role }).min(by: { $0.index < $1.index })
            else { continue }
            var user = blueprint.ssh.user
            var port = 22
            if case .local = blueprint.controlPlane { user = "root" }
            if case .static(let plane) = blueprint.controlPlane, let listed = plane.machines.first(where: { $0.address.value == machine.address }) {
                user = listed.user ?? user
                port = listed.port
            }
            entries.append(
                AccessEntry(
                    title: "\(group.isManagement ? "management plane" : "cluster \(group.name)") (\(group.kind.name))", machine: machine.name,
                    address: machine.address, user: user, port: port, command: access.command))
        }
        return entries
    }
}
