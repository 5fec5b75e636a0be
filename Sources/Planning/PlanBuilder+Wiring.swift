import Blueprints
import Foundation
import Kinds
import PhotonCore

extension PlanBuilder {
    // MARK: Wiring

    func actionIndices(of machine: Int) -> [Int] {
        Array(machineSlots[machine]) + (machineExtras[machine] ?? [])
    }

    func lastAction(of machine: Int) -> Int? {
        machineExtras[machine]?.last ?? (machineSlots[machine].isEmpty ? nil : machineSlots[machine].upperBound - 1)
    }

    func firstAction(of machine: Int) -> Int? {
        machineSlots[machine].isEmpty ? machineExtras[machine]?.first : machineSlots[machine].lowerBound
    }

    func hasActions(_ machine: Int) -> Bool { !machineSlots[machine].isEmpty || machineExtras[machine] != nil }

    /// First action of the machine in `phase` or a later one.
    func firstAction(of machine: Int, from phase: Phase) -> Int? {
        actionIndices(of: machine).first { metas[$0].phase.map { $0 >= phase } ?? false }
    }

    func lastAction(of machine: Int, in phase: Phase) -> Int? {
        actionIndices(of: machine).last { metas[$0].phase == phase }
    }

    mutating func depend(_ action: Int, on other: Int) {
        if action != other, !actions[action].dependsOn.contains(other) { actions[action].dependsOn.append(other) }
    }

    mutating func registerProducers() {
        actions.withUnsafeBufferPointer { buffer in
            for (position, machine) in desired.machines.enumerated() {
                for index in machineSlots[position] {
                    if case .capture(let name, _, _) = buffer[index].detail { producers[machine.group][name] = index }
                }
            }
        }
    }

    /// A new machine may need a value whose capture ran in an earlier apply but was never recorded (the
    /// run failed after it): capture it again on the machine that produces it.
    mutating func addMissingCaptures() throws(DiagnosticsError) {
        var needed = [Set<String>](repeating: [], count: desired.groups.count)
        for meta in metas where !meta.captured.isEmpty {
            if let machine = meta.machine { needed[desired.machines[machine].group].formUnion(meta.captured) }
        }
        for (groupIndex, names) in needed.enumerated() {
            let group = desired.groups[groupIndex]
            for name in names.sorted() where producers[groupIndex][name] == nil && recorded.captured["\(group.resolved.name)/\(name)"] == nil {
                search: for (roleIndex, role) in group.resolved.roles.enumerated() {
                    for phase in Phase.bringUp {
                        for (ordinal, step) in role.declaration.steps(in: phase).enumerated() {
                            guard case .capture(let captured, _, _) = step.action, captured == name,
                                let producer = group.roleMachines[roleIndex].first
                            else { continue }
                            let machine = desired.machines[producer]
                            let scope: TemplateValue = .object(TemplateObject(["machine": machine.value, "role": group.roleValues[roleIndex]]))
                            var renderer = StepRenderer(
                                state: desired, group: group, contexts: [group.context, scope], subject: machine.name,
                                subjectAddress: machine.address, artifacts: artifacts)
                            guard let rendered = try renderer.render(step, phase: phase, ordinal: ordinal, facts: nil) else { continue }
                            var action = rendered.action
                            action.change = .update
                            producers[groupIndex][name] = append(action, meta: StepMeta(phase: phase, runsOn: rendered.runsOn, captured: [], machine: producer))
                            break search
                        }
                    }
                }
            }
        }
    }

    /// Every step that uses a captured value waits for the action that captures it.
    mutating func wireCaptures() {
        for index in metas.indices where !metas[index].captured.isEmpty {
            guard let machine = metas[index].machine else { continue }
            let groupProducers = producers[desired.machines[machine].group]
            for name in metas[index].captured {
                if let producer = groupProducers[name] { depend(index, on: producer) }
            }
        }
    }

    /// Join order, role order, canaries and `via` inside one group.
    mutating func wireGroup(_ groupIndex: Int) {
        let group = desired.groups[groupIndex]
        var previousGate: Int?
        for (roleIndex, role) in group.resolved.roles.enumerated() {
            let members = group.roleMachines[roleIndex]
            let active = members.filter(hasActions)
            guard !active.isEmpty else { continue }

            // Later machines join the cluster the first one formed (when the first one has steps of its own).
            let firstFormsCluster = role.declaration.steps(in: .join).contains { $0.on == .first }
            if firstFormsCluster, let first = members.first, let firstJoin = lastAction(of: first, in: .join) {
                for member in active where member != first {
                    if let join = firstAction(of: member, from: .join) { depend(join, on: firstJoin) }
                }
            }
            // A role joins once every earlier role is ready; a roll reaches a role once every earlier role has
            // rolled (kubeadm: every control-plane node before any worker).
            if let previousGate {
                for member in active {
                    if let join = firstAction(of: member, from: .join) { depend(join, on: previousGate) }
                    if updating.contains(member), let first = firstAction(of: member), !reaches(previousGate, first) { depend(first, on: previousGate) }
                }
            }
            // Canaries go first and alone; the rest wait for them.
            if let canaryGate = canaryGates[groupIndex][roleIndex] {
                actions[canaryGate].dependsOn = active.prefix(role.canaries).compactMap(lastAction(of:))
                for member in active.dropFirst(role.canaries) {
                    if let first = firstAction(of: member) { depend(first, on: canaryGate) }
                }
            }
            // Steps that run on another machine wait until it is up (unless it already waits for this one).
            for member in active {
                for index in actionIndices(of: member) {
                    guard let target = metas[index].runsOn, target != member, let targetLast = lastAction(of: target) else { continue }
                    if !reaches(targetLast, index) { depend(index, on: targetLast) }
                }
            }
            if let readyGate = readyGates[groupIndex][roleIndex] {
                actions[readyGate].dependsOn = active.compactMap(lastAction(of:)) + (previousGate.map { [$0] } ?? [])
                previousGate = readyGate
            }
        }
    }

    /// True when `start` already depends, directly or not, on `target`: a new edge target → start would close a cycle.
    func reaches(_ start: Int, _ target: Int) -> Bool {
        var stack = [start]
        var seen = Set<Int>()
        while let next = stack.popLast() {
            if next == target { return true }
            guard seen.insert(next).inserted else { continue }
            stack.append(contentsOf: actions[next].dependsOn)
        }
        return false
    }

    /// The management plane comes up before any cluster machine is created.
    mutating func wireManagementFirst() {
        guard let managementIndex = desired.groups.firstIndex(where: { $0.resolved.isManagement }), let gate = managementGate else { return }
        let managementMachines = desired.groups[managementIndex].roleMachines.joined().filter(hasActions)
        actions[gate].dependsOn = managementMachines.compactMap(lastAction(of:))
        for position in desired.machines.indices where desired.machines[position].group != managementIndex {
            if let first = firstAction(of: position) { depend(first, on: gate) }
        }
    }
}
