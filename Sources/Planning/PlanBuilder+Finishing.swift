import Blueprints
import Foundation
import Kinds
import PhotonCore

extension PlanBuilder {
    // MARK: Removals

    /// Recorded machines the blueprint no longer asks for: drain (via a surviving machine), leave, delete.
    /// The highest-numbered go first; quorum roles lose one machine at a time.
    // One function: drains, leaves and deletes are wired in the order quorum roles need, which splitting would hide.
    mutating func addRemovals() throws(DiagnosticsError) -> [PlanMachine] {
        let gone = recorded.machines.filter { desired.indexByName[$0.name] == nil }
        guard !gone.isEmpty else { return [] }
        let groupOrder = Dictionary(desired.groups.enumerated().map { ($1.resolved.name, $0) }, uniquingKeysWith: { a, _ in a })
        let sorted = gone.sorted { a, b in
            let ga = groupOrder[a.group] ?? Int.max, gb = groupOrder[b.group] ?? Int.max
            if ga != gb { return ga < gb }
            if a.group != b.group { return a.group < b.group }
            if a.role != b.role { return a.role < b.role }
            return a.index > b.index
        }
        let removedNames = Set(gone.map(\.name))
        var previousInRole: [String: Int] = [:]
        var result: [PlanMachine] = []
        for record in sorted {
            var chain: [Int] = []
            func append(_ builder: inout PlanBuilder, _ action: PlanAction) -> Int {
                var action = action
                if let last = chain.last { action.dependsOn.append(last) }
                let index = builder.append(action, meta: .none)
                chain.append(index)
                return index
            }
            var flavor = Flavor.builtIn["small"]!
            var quorumRole = false
            if let groupIndex = groupOrder[record.group] {
                let group = desired.groups[groupIndex]
                if let roleIndex = group.resolved.roles.firstIndex(where: { $0.name == record.role }) {
                    let role = group.resolved.roles[roleIndex]
                    flavor = role.flavor
                    quorumRole = role.declaration.count.odd
                    let machineValue = DesiredState.machineValue(
                        name: record.name, address: record.address, index: record.index,
                        role: record.role, count: role.count, flavor: role.flavor, existing: true)
                    let scope: TemplateValue = .object(TemplateObject(["machine": machineValue, "role": group.roleValues[roleIndex]]))
                    var renderer = StepRenderer(
                        state: desired, group: group, contexts: [group.context, scope], subject: record.name,
                        subjectAddress: record.address, artifacts: artifacts)
                    renderer.excluded = removedNames
                    for phase in Phase.tearDown {
                        for (ordinal, step) in role.declaration.steps(in: phase).enumerated() {
                            // Draining through a role with no survivor is pointless: the cluster is going away.
                            if let via = step.via, let viaIndex = group.resolved.roles.firstIndex(where: { $0.name == via }),
                                group.roleMachines[viaIndex].isEmpty
                            {
                                continue
                            }
                            guard let rendered = try renderer.render(step, phase: phase, ordinal: ordinal, facts: nil),
                                !record.completedActions.contains(rendered.action.id)
                            else { continue }
                            var action = rendered.action
                            action.change = .delete
                            _ = append(&self, action)
                        }
                    }
                }
            }
            let first = chain.first
            let delete = append(&self, PlanAction(type: .deleteMachine, machine: record.name, change: .delete, detail: .deleteMachine))
            if quorumRole, let previous = previousInRole["\(record.group)/\(record.role)"] { depend(first ?? delete, on: previous) }
            previousInRole["\(record.group)/\(record.role)"] = delete
            result.append(
                PlanMachine(
                    name: record.name, group: record.group, role: record.role, index: record.index, address: record.address,
                    flavor: flavor, change: .delete, actions: chain, needs: []))
        }
        return result
    }

    // MARK: Finishing

    /// Orders actions so every one comes after what it depends on, and fills in the groups.
    mutating func finish(_ machines: [PlanMachine]) throws(DiagnosticsError) -> Plan {
        for index in actions.indices where actions[index].dependsOn.count > 1 { actions[index].dependsOn.sort() }
        // The layout is already in dependency order unless actions were added after it.
        let ordered = actions.withUnsafeBufferPointer { buffer in
            (0..<buffer.count).allSatisfy { index in buffer[index].dependsOn.allSatisfy { $0 < index } }
        }
        if ordered { return assemble(machines, newIndex: nil) }
        return try assemble(machines, newIndex: sortTopologically())
    }

    /// A dependency order for the actions (old index → new index), or an error naming an action on a cycle.
    // One function: Kahn's order and, when it stops short, the search for the cycle it names.
    mutating func sortTopologically() throws(DiagnosticsError) -> [Int] {
        // Dependents in one flat array (compressed rows), built without copying any action.
        let count = actions.count
        var indegree = [Int32](repeating: 0, count: count)
        var rowStart = [Int](repeating: 0, count: count + 1)
        var dependents: [Int] = []
        // Through a buffer pointer, reading a field does not copy the whole action.
        actions.withUnsafeBufferPointer { buffer in
            for index in 0..<count {
                indegree[index] = Int32(buffer[index].dependsOn.count)
                for dependency in buffer[index].dependsOn { rowStart[dependency + 1] += 1 }
            }
            for index in 0..<count { rowStart[index + 1] += rowStart[index] }
            var fill = rowStart
            dependents = [Int](repeating: 0, count: rowStart[count])
            for index in 0..<count {
                for dependency in buffer[index].dependsOn {
                    dependents[fill[dependency]] = index
                    fill[dependency] += 1
                }
            }
        }
        // Kahn's algorithm with a min-heap keeps the original order wherever dependencies allow.
        var ready = Heap((0..<count).filter { indegree[$0] == 0 })
        var order: [Int] = []
        order.reserveCapacity(count)
        while let next = ready.pop() {
            order.append(next)
            for slot in rowStart[next]..<rowStart[next + 1] {
                let dependent = dependents[slot]
                indegree[dependent] -= 1
                if indegree[dependent] == 0 { ready.push(dependent) }
            }
        }
        if order.count != actions.count {
            let stuck = actions.indices.first { indegree[$0] > 0 }.map { actions[$0].id } ?? "?"
            throw DiagnosticsError(
                Diagnostic(
                    "the kinds' steps wait for each other in a circle (around \(stuck))",
                    help: "check 'via' steps: a step can only run via a role that comes up before its own"))
        }
        var newIndex = [Int](repeating: 0, count: count)
        for (position, old) in order.enumerated() { newIndex[old] = position }
        // Move every action to its place without copying the array, following each cycle of the
        // permutation: position j receives the action that was at order[j].
        var visited = [Bool](repeating: false, count: count)
        actions.withUnsafeMutableBufferPointer { buffer in
            for start in 0..<count where !visited[start] {
                var position = start
                while true {
                    visited[position] = true
                    let source = order[position]
                    if source == start { break }
                    buffer.swapAt(position, source)
                    position = source
                }
            }
            for position in 0..<count {
                for slot in buffer[position].dependsOn.indices {
                    buffer[position].dependsOn[slot] = newIndex[buffer[position].dependsOn[slot]]
                }
                if buffer[position].dependsOn.count > 1 { buffer[position].dependsOn.sort() }
            }
        }

        return newIndex
    }

    /// The final value; `newIndex` maps old to new action positions when actions were reordered.
    mutating func assemble(_ machines: [PlanMachine], newIndex: [Int]?) -> Plan {
        let newIndex = newIndex ?? Array(actions.indices)
        // Desired machines come first, in the same order as machineActions; removed ones carry their own actions.
        var finalMachines = machines
        for position in finalMachines.indices {
            let source = position < desired.machines.count ? actionIndices(of: position) : finalMachines[position].actions
            finalMachines[position].actions = source.map { newIndex[$0] }
        }
        let blueprint = desired.deployment.blueprint
        var previousCounts: [String: Int] = [:]
        for machine in recorded.machines { previousCounts["\(machine.group)/\(machine.role)", default: 0] += 1 }
        var groups = desired.groups.map { group -> PlanGroup in
            PlanGroup(
                name: group.resolved.name, kind: group.resolved.kind.name, isManagement: group.resolved.isManagement,
                roles: group.resolved.roles.map { role in
                    PlanRole(
                        name: role.name, count: role.count,
                        previousCount: previousCounts["\(group.resolved.name)/\(role.name)", default: 0],
                        countSource: role.countSource, blueprintCount: role.blueprintCount, flavor: role.flavor.name, flavorSummary: role.flavor.summary,
                        canaries: role.canaries, maxInFlight: role.maxInFlight.description, needs: role.declaration.needs)
                },
                settings: group.resolved.settingsDisplay)
        }
        // Clusters dropped from the blueprint still appear, with their machines going away.
        let known = Set(groups.map(\.name))
        var dropped: [String: [RecordedMachine]] = [:]
        for machine in recorded.machines where !known.contains(machine.group) { dropped[machine.group, default: []].append(machine) }
        for (name, members) in dropped.sorted(by: { $0.key < $1.key }) {
            let roles = Dictionary(grouping: members, by: \.role).sorted { $0.key < $1.key }.map { role, machines in
                PlanRole(
                    name: role, count: 0, previousCount: machines.count, countSource: .blueprint, blueprintCount: nil, flavor: "", flavorSummary: "",
                    canaries: 0, maxInFlight: "1", needs: [])
            }
            groups.append(PlanGroup(name: name, kind: members[0].kind, isManagement: false, roles: roles, settings: []))
        }
        return Plan(
            deployment: blueprint.name.value, blueprintFile: blueprint.file, blueprintDigest: blueprint.digest,
            stateSerial: recorded.serial, driver: blueprint.controlPlane.driverName, groups: groups,
            machines: finalMachines, actions: actions)
    }
}

/// A binary min-heap of action indices.
struct Heap {
    var items: [Int]

    init(_ items: [Int]) {
        self.items = items.sorted()
    }

    mutating func push(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
