import Blueprints
import Foundation
import Kinds
import PhotonCore

/// Lays out and wires the action graph from the diffed renders.
///
/// Actions get slots in an order that already respects every dependency in the usual case:
/// group by group (the management plane first), role by role, a role's canaries, then its canary gate,
/// then its other machines, then the role's ready gate. Machines fill their slots in parallel. Only
/// actions added afterwards (re-captures, removals) can break the order; ``finish(_:)`` then sorts.
struct PlanBuilder {
    /// What the builder remembers about each action for wiring.
    struct StepMeta: Sendable {
        /// Nil for create-machine, delete-machine and gates.
        var phase: Phase?
        var runsOn: Int?
        var captured: [String]
        /// The desired machine the action belongs to, if any.
        var machine: Int?

        static let none = StepMeta(phase: nil, runsOn: nil, captured: [], machine: nil)
    }

    struct GateSlot {
        var index: Int
        var name: String
        var summary: String
    }

    let desired: DesiredState
    let recorded: RecordedState
    let artifacts: [String: Artifact]
    var renders: [MachineRender]

    var actions: [PlanAction] = []
    var metas: [StepMeta] = []
    /// Slots of each desired machine's actions, in order.
    var machineSlots: [Range<Int>]
    /// Actions added to a machine after layout (re-captures).
    var machineExtras: [Int: [Int]] = [:]
    /// Per group: the action that captures each value in this plan.
    var producers: [[String: Int]]
    var readyGates: [[Int?]]
    var canaryGates: [[Int?]]
    var managementGate: Int?

    init(desired: DesiredState, renders: [MachineRender], recorded: RecordedState, artifacts: [String: Artifact]) {
        self.desired = desired
        self.renders = renders
        self.recorded = recorded
        self.artifacts = artifacts
        machineSlots = Array(repeating: 0..<0, count: desired.machines.count)
        producers = Array(repeating: [:], count: desired.groups.count)
        readyGates = desired.groups.map { Array(repeating: nil, count: $0.roleMachines.count) }
        canaryGates = readyGates
    }

    mutating func build() throws(DiagnosticsError) -> Plan {
        let gates = layOut()
        fill(gates)
        var planMachines: [PlanMachine] = []
        planMachines.reserveCapacity(desired.machines.count)
        for (position, machine) in desired.machines.enumerated() {
            let group = desired.groups[machine.group]
            let role = group.resolved.roles[machine.role]
            planMachines.append(PlanMachine(name: machine.name, group: group.resolved.name, role: role.name, index: machine.index,
                                            address: machine.address, flavor: role.flavor, change: renders[position].change, actions: [],
                                            needs: role.declaration.needs, healthPorts: renders[position].healthPorts))
        }
        renders = []
        registerProducers()
        try addMissingCaptures()
        wireCaptures()
        for group in desired.groups.indices { wireGroup(group) }
        wireManagementFirst()
        let removed = try addRemovals()
        planMachines.append(contentsOf: removed)
        return try finish(planMachines)
    }

    // MARK: Layout

    /// Assigns every machine its slots and places the gates between them.
    /// What the create-machine action of a machine brought back says it does.
    static func restartLabel(unanswered: [Int]) -> String {
        guard !unanswered.isEmpty else { return "start the stopped machine" }
        let services = unanswered.filter { $0 != 22 }.map(String.init).joined(separator: ", ")
        let ssh = unanswered.contains(22) ? "start sshd again on the running machine" : ""
        if services.isEmpty { return ssh }
        return (ssh.isEmpty ? "" : ssh + "; ") + "nothing answers on port \(services): configure and check the machine again"
    }

    mutating func layOut() -> [GateSlot] {
        var cursor = 0
        var gates: [GateSlot] = []
        for (groupIndex, group) in desired.groups.enumerated() {
            let groupName = group.resolved.name
            var groupActive = false
            for (roleIndex, role) in group.resolved.roles.enumerated() {
                let members = group.roleMachines[roleIndex]
                let active = members.filter { renders[$0].actionCount > 0 }
                // Canaries protect machines that already run: a role coming up for the first time (a quorum
                // group bootstrapping all its members together) has nothing to protect and would deadlock.
                let roleExists = members.contains { renders[$0].change != .create }
                    || recorded.machines.contains { $0.group == groupName && $0.role == role.name }
                func place(_ machine: Int) {
                    let count = renders[machine].actionCount
                    machineSlots[machine] = cursor..<(cursor + count)
                    cursor += count
                }
                for member in members where renders[member].actionCount == 0 { machineSlots[member] = cursor..<cursor }
                guard !active.isEmpty else { continue }
                groupActive = true
                if roleExists, role.canaries > 0, active.count > role.canaries {
                    active.prefix(role.canaries).forEach(place)
                    canaryGates[groupIndex][roleIndex] = cursor
                    gates.append(GateSlot(index: cursor, name: "\(groupName)/\(role.name)/canaries",
                                          summary: "canaries of \(role.name) in \(groupName) succeeded (\(role.canaries) of \(active.count))"))
                    cursor += 1
                    active.dropFirst(role.canaries).forEach(place)
                } else {
                    active.forEach(place)
                }
                readyGates[groupIndex][roleIndex] = cursor
                gates.append(GateSlot(index: cursor, name: "\(groupName)/\(role.name)/ready", summary: "\(role.name) of \(groupName) ready"))
                cursor += 1
            }
            if group.resolved.isManagement, groupActive {
                managementGate = cursor
                gates.append(GateSlot(index: cursor, name: "management/ready", summary: "management plane ready"))
                cursor += 1
            }
        }
        return gates
    }

    /// Writes every action into its slot: machines in parallel, then the gates.
    mutating func fill(_ gates: [GateSlot]) {
        let total = gates.count + renders.reduce(0) { $0 + $1.actionCount }
        let spare = 8 * recorded.machines.count + 64
        let machineCount = desired.machines.count
        let slots = machineSlots
        // Taken out of self, so moving the steps out of it does not copy the array.
        nonisolated(unsafe) var source: [MachineRender] = []
        swap(&source, &renders)
        let desired = self.desired
        var newMetas = [StepMeta](repeating: .none, count: total)
        actions = [PlanAction](unsafeUninitializedCapacity: total + spare) { buffer, initialized in
            newMetas.withUnsafeMutableBufferPointer { metaBuffer in
                nonisolated(unsafe) let output = buffer
                nonisolated(unsafe) let metaOutput = metaBuffer
                source.withUnsafeMutableBufferPointer { renderBuffer in
                    nonisolated(unsafe) let inputs = renderBuffer
                    let chunk = 512
                    DispatchQueue.concurrentPerform(iterations: (machineCount + chunk - 1) / chunk) { part in
                        for position in (part * chunk)..<min(machineCount, (part + 1) * chunk) {
                            var slot = slots[position].lowerBound
                            let machine = desired.machines[position]
                            if inputs[position].createsMachine {
                                let role = desired.groups[machine.group].resolved.roles[machine.role]
                                let restarts = inputs[position].restarts
                                let label = Self.restartLabel(unanswered: inputs[position].unanswered)
                                (output.baseAddress! + slot).initialize(to: PlanAction(
                                    type: .createMachine, machine: machine.name, change: restarts ? .update : .create,
                                    detail: .createMachine(flavor: role.flavor, address: machine.address, needs: role.declaration.needs),
                                    options: restarts ? StepOptions(label: label, unless: nil, creates: nil, timeout: nil, retry: nil) : nil))
                                metaOutput[slot] = StepMeta(phase: nil, runsOn: nil, captured: [], machine: position)
                                slot += 1
                            }
                            var steps: [RenderedStep] = []
                            swap(&steps, &inputs[position].steps)
                            for step in steps {
                                var action = step.action
                                if slot > slots[position].lowerBound { action.dependsOn = [slot - 1] }
                                (output.baseAddress! + slot).initialize(to: action)
                                metaOutput[slot] = StepMeta(phase: step.phase, runsOn: step.runsOn, captured: step.capturedReferences, machine: position)
                                slot += 1
                            }
                        }
                    }
                }
            }
            for gate in gates {
                (buffer.baseAddress! + gate.index).initialize(to: PlanAction(type: .gate, machine: gate.name, change: .unchanged, detail: .gate,
                                                                            options: StepOptions(label: gate.summary)))
            }
            initialized = total
        }
        metas = newMetas
        renders = source
    }

    /// Adds an action after layout; a machine's extra action follows the machine's last one.
    mutating func append(_ action: consuming PlanAction, meta: StepMeta) -> Int {
        if let machine = meta.machine, let last = lastAction(of: machine) { action.dependsOn.append(last) }
        actions.append(action)
        metas.append(meta)
        let index = actions.count - 1
        if let machine = meta.machine { machineExtras[machine, default: []].append(index) }
        return index
    }

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
                                  let producer = group.roleMachines[roleIndex].first else { continue }
                            let machine = desired.machines[producer]
                            let scope: TemplateValue = .object(TemplateObject(["machine": machine.value, "role": group.roleValues[roleIndex]]))
                            var renderer = StepRenderer(state: desired, group: group, contexts: [group.context, scope], subject: machine.name,
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
            // A role joins once every earlier role is ready.
            if let previousGate {
                for member in active {
                    if let join = firstAction(of: member, from: .join) { depend(join, on: previousGate) }
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

    // MARK: Removals

    /// Recorded machines the blueprint no longer asks for: drain (via a surviving machine), leave, delete.
    /// The highest-numbered go first; quorum roles lose one machine at a time.
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
                    let machineValue = DesiredState.machineValue(name: record.name, address: record.address, index: record.index,
                                                                 role: record.role, count: role.count, flavor: role.flavor)
                    let scope: TemplateValue = .object(TemplateObject(["machine": machineValue, "role": group.roleValues[roleIndex]]))
                    var renderer = StepRenderer(state: desired, group: group, contexts: [group.context, scope], subject: record.name,
                                                subjectAddress: record.address, artifacts: artifacts)
                    renderer.excluded = removedNames
                    for phase in Phase.tearDown {
                        for (ordinal, step) in role.declaration.steps(in: phase).enumerated() {
                            // Draining through a role with no survivor is pointless: the cluster is going away.
                            if let via = step.via, let viaIndex = group.resolved.roles.firstIndex(where: { $0.name == via }),
                               group.roleMachines[viaIndex].isEmpty { continue }
                            guard let rendered = try renderer.render(step, phase: phase, ordinal: ordinal, facts: nil),
                                  !record.completedActions.contains(rendered.action.id) else { continue }
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
            result.append(PlanMachine(name: record.name, group: record.group, role: record.role, index: record.index, address: record.address,
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
            throw DiagnosticsError(Diagnostic("the kinds' steps wait for each other in a circle (around \(stuck))",
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
            PlanGroup(name: group.resolved.name, kind: group.resolved.kind.name, isManagement: group.resolved.isManagement,
                      roles: group.resolved.roles.map { role in
                          PlanRole(name: role.name, count: role.count,
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
                PlanRole(name: role, count: 0, previousCount: machines.count, countSource: .blueprint, blueprintCount: nil, flavor: "", flavorSummary: "",
                         canaries: 0, maxInFlight: "1", needs: [])
            }
            groups.append(PlanGroup(name: name, kind: members[0].kind, isManagement: false, roles: roles, settings: []))
        }
        return Plan(deployment: blueprint.name.value, blueprintFile: blueprint.file, blueprintDigest: blueprint.digest,
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
