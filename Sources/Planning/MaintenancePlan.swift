import Blueprints
import Foundation
import Kinds
import PhotonCore

/// What a backup or restore plan is for, besides its actions.
public struct MaintenanceTarget: Sendable {
    public var backup: BackupDeclaration
    /// The machine whose backup steps leave the file (for a backup), or every machine that gets it (restore).
    public var machines: [PlanMachine]
    public var kind: String
    /// The cluster's `version` setting, when its kind has one.
    public var version: String?
}

extension Planner {
    /// A plan of a cluster's `backup` steps (on the first machine of the backup role) or `restore` steps
    /// (stage by stage across the machines of every role that has some, then the health steps of every
    /// machine of the cluster). Every machine involved must be recorded and ready: a store is saved from, and restored
    /// into, a cluster that is up.
    public func maintenancePlan(
        _ deployment: ResolvedDeployment, recorded: RecordedState, cluster: String, phase: Phase
    ) throws(DiagnosticsError) -> (plan: Plan, renderer: ActionRenderer, target: MaintenanceTarget) {
        precondition(phase == .backup || phase == .restore, "maintenance plans are backups and restores")
        let desired = try DesiredState.expand(deployment, recorded: recorded, secrets: secrets, photonVersion: photonVersion)
        let artifacts = self.artifacts.merging(try binaries.artifacts(for: deployment, catalog: catalog)) { $1 }
        guard let groupIndex = desired.groups.firstIndex(where: { $0.resolved.name == cluster }) else {
            let names = desired.groups.map(\.resolved.name)
            throw DiagnosticsError(Diagnostic("the blueprint has no cluster '\(cluster)'", help: Suggestions.help(for: cluster, among: names, noun: "cluster")))
        }
        let group = desired.groups[groupIndex]
        let kind = group.resolved.kind
        guard let backup = kind.backup else {
            throw DiagnosticsError(
                Diagnostic(
                    "cluster \(cluster) is of kind \(kind.name), which says nothing about backups",
                    help: "a kind declares 'backup:' with the steps that save and restore its store"))
        }
        let ready = Dictionary(recorded.machines.map { ($0.name, $0.lifecycle) }, uniquingKeysWith: { a, _ in a })
        func checkedReady(_ position: Int) throws(DiagnosticsError) -> Int {
            let name = desired.machines[position].name
            guard let lifecycle = ready[name] else {
                throw DiagnosticsError(Diagnostic("machine \(name) of cluster \(cluster) does not exist yet", help: "'photon apply' makes it first"))
            }
            guard lifecycle == .ready else {
                throw DiagnosticsError(
                    Diagnostic("machine \(name) of cluster \(cluster) is \(lifecycle.rawValue), not ready", help: "'photon apply' finishes it first"))
            }
            return position
        }
        let facts = desired.stepFacts
        var layout = MaintenanceLayout()
        if phase == .backup {
            guard let roleIndex = group.resolved.roles.firstIndex(where: { $0.name == backup.role }),
                let first = group.roleMachines[roleIndex].first
            else {
                throw DiagnosticsError(Diagnostic("cluster \(cluster) has no \(backup.role) machine to take the backup on"))
            }
            let render = try desired.renderMachine(try checkedReady(first), phases: [.backup], facts: facts, artifacts: artifacts)
            layout.chain(render.steps.map(\.action), after: [])
        } else {
            let roles = group.resolved.roles.indices.filter { !group.resolved.roles[$0].declaration.steps(in: .restore).isEmpty }
            var stageEnd: [Int] = []
            for roleIndex in roles {
                var byOrdinal: [Int: [PlanAction]] = [:]
                for position in group.roleMachines[roleIndex] {
                    for step in try desired.renderMachine(position, phases: [.restore], facts: facts, artifacts: artifacts).steps {
                        byOrdinal[step.action.ordinal, default: []].append(step.action)
                    }
                }
                for ordinal in byOrdinal.keys.sorted() {
                    let stage = byOrdinal[ordinal] ?? []
                    let started = stage.map { layout.add($0, after: stageEnd) }
                    let label = stage.first?.label ?? "restore step \(ordinal)"
                    stageEnd = [
                        layout.gate(
                            "\(cluster)/restore/\(group.resolved.roles[roleIndex].name)/\(ordinal)", label: "\(label): done on every machine", after: started)
                    ]
                }
            }
            // Every machine of the cluster healthy again (the other roles depend on the store). Not its join steps:
            // those capture values (a new bootstrap token) that a restore must not change; a kind's restore
            // steps rejoin what must rejoin.
            var everyone: [Int] = []
            for roleMachines in group.roleMachines { for position in roleMachines { everyone.append(try checkedReady(position)) } }
            for position in everyone {
                let again = try desired.renderMachine(position, phases: [.health], facts: facts, artifacts: artifacts)
                layout.chain(again.steps.map(\.action), after: stageEnd)
            }
        }
        var machines: [PlanMachine] = []
        for (name, indices) in layout.machineActions.sorted(by: { $0.key < $1.key }) {
            guard let position = desired.indexByName[name] else { continue }
            let machine = desired.machines[position]
            let role = group.resolved.roles[machine.role]
            machines.append(
                PlanMachine(
                    name: name, group: cluster, role: role.name, index: machine.index, address: machine.address, flavor: role.flavor,
                    change: .update, actions: indices, needs: role.declaration.needs))
        }
        let planGroup = PlanGroup(
            name: cluster, kind: kind.name, isManagement: group.resolved.isManagement,
            roles: group.resolved.roles.map { role in
                // Every machine of a stage runs it before any runs the next: no limit between them.
                PlanRole(
                    name: role.name, count: role.count, previousCount: role.count, countSource: role.countSource, blueprintCount: role.blueprintCount,
                    flavor: role.flavor.name, flavorSummary: role.flavor.summary, canaries: 0, maxInFlight: "100%", needs: role.declaration.needs)
            },
            settings: group.resolved.settingsDisplay)
        let blueprint = deployment.blueprint
        let plan = Plan(
            deployment: blueprint.name.value, blueprintFile: blueprint.file, blueprintDigest: blueprint.digest, stateSerial: recorded.serial,
            driver: blueprint.controlPlane.driverName, groups: [planGroup], machines: machines, actions: layout.actions)
        let version = group.resolved.settingsDisplay.first { $0.name == "version" }?.value
        let storeRoles = Set(group.resolved.roles.filter { !$0.declaration.steps(in: phase).isEmpty }.map(\.name))
        let targetMachines = phase == .backup ? machines.filter { $0.role == backup.role } : machines.filter { storeRoles.contains($0.role) }
        return (
            plan, ActionRenderer(desired: desired, artifacts: artifacts),
            MaintenanceTarget(backup: backup, machines: targetMachines, kind: kind.name, version: version)
        )
    }
}

/// The actions of a maintenance plan, in an order that respects their dependencies.
struct MaintenanceLayout {
    var actions: [PlanAction] = []
    var machineActions: [String: [Int]] = [:]

    /// Adds an action that waits for `after`.
    mutating func add(_ action: PlanAction, after: [Int]) -> Int {
        var action = action
        action.change = .update
        action.dependsOn = after
        actions.append(action)
        machineActions[action.machine, default: []].append(actions.count - 1)
        return actions.count - 1
    }

    /// Adds actions one after the other, the first waiting for `after`.
    mutating func chain(_ steps: [PlanAction], after: [Int]) {
        var previous = after
        for step in steps { previous = [add(step, after: previous)] }
    }

    mutating func gate(_ name: String, label: String, after: [Int]) -> Int {
        actions.append(PlanAction(type: .gate, machine: name, change: .unchanged, dependsOn: after, detail: .gate, options: StepOptions(label: label)))
        return actions.count - 1
    }
}
