import Blueprints
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning

extension Runner {
    /// Preflight that needs nothing but this host: binaries photon cannot bring and, for local machines
    /// (this host's kernel and programs under the blueprint's layers), the kinds' requirements. Apply
    /// refuses to start with any of them; plan shows them as warnings.
    /// What a valid blueprint probably did not mean: nothing to make.
    package static func blueprintWarnings(_ blueprint: Blueprint) -> [Diagnostic] {
        guard blueprint.clusters.isEmpty, blueprint.management == nil else { return [] }
        return [
            Diagnostic(
                "the blueprint has no clusters and no management plane: apply makes no machine", at: SourceLocation(file: blueprint.file, line: 1, column: 1),
                help: "add a cluster under 'clusters:' ('photon init' writes a starter blueprint)")
        ]
    }

    package static func localPreflight(_ resolved: ResolvedDeployment, planner: Planner, catalog: KindCatalog, inPlane: Bool) throws -> [Diagnostic] {
        var problems = try planner.binaries.missing(for: resolved, catalog: catalog)
        if !inPlane, case .local(let local) = resolved.blueprint.controlPlane {
            problems += Preflight.local(resolved, layers: local.layers.map(\.value))
        }
        return problems
    }

    /// Preflight of the static machines this run takes into the deployment: each is reached over SSH
    /// (its pinned host key checked) and asked for its role's requirements, all at once, before the
    /// first step runs anywhere. One error per requirement, naming every machine that lacks it.
    func staticPreflight(_ prepared: PreparedRun, driver: any MachineDriver, shell: any RemoteShell) async throws {
        guard case .static = blueprint.controlPlane else { return }
        let needs = Preflight.needs(prepared.resolved)
        guard !needs.isEmpty else { return }
        let kinds = Dictionary(prepared.resolved.groups.map { ($0.name, $0.kind.name) }, uniquingKeysWith: { first, _ in first })
        let created = prepared.plan.machines.filter { $0.change == .create }
        let found = try await withThrowingTaskGroup(of: [(need: Int, machine: String, detail: String)].self) { group in
            for machine in created {
                let mine = needs.indices.filter { needs[$0].group.name == machine.group && needs[$0].requirement.applies(to: machine.role) }
                guard !mine.isEmpty else { continue }
                group.addTask {
                    let spec = MachineSpec(
                        name: machine.name, group: machine.group, kind: kinds[machine.group] ?? "", role: machine.role, index: machine.index,
                        flavor: machine.flavor, address: machine.address, needs: machine.needs)
                    let handle = try await driver.create(spec)
                    let output = try await shell.execute(
                        Preflight.script(mine.map { needs[$0].requirement }), on: handle, timeout: .seconds(60))
                    guard output.exitStatus == 0 else {
                        throw PhotonError("preflight on \(machine.name) (\(handle.address)) failed: \(output.stderr.suffix(400))")
                    }
                    return Preflight.failures(in: output.stdout).compactMap { failure in
                        mine.indices.contains(failure.index) ? (mine[failure.index], "\(machine.name) (\(handle.address))", failure.detail) : nil
                    }
                }
            }
            var all: [(need: Int, machine: String, detail: String)] = []
            for try await part in group { all += part }
            return all
        }
        guard !found.isEmpty else { return }
        let problems = Dictionary(grouping: found, by: \.need).sorted { $0.key < $1.key }.map { need, misses in
            let details = Set(misses.map(\.detail)).subtracting(["", "not on PATH", "no such file", "not loaded"])
            return Preflight.problem(
                needs[need], machines: misses.map(\.machine).sorted().joined(separator: ", "),
                found: details.isEmpty ? nil : details.sorted().joined(separator: "; "), deployment: prepared.resolved)
        }
        throw DiagnosticsError(problems)
    }
}
