import Blueprints
import Kinds
import PhotonCore

/// Diffs the rendered desired state against the recorded state and wires the action graph.
struct PlanBuilder {
    let desired: DesiredState
    let renders: [MachineRender]
    let recorded: RecordedState
    let artifacts: [String: Artifact]

    var actions: [PlanAction] = []
    /// Per desired machine: its actions in order, and its rendered steps that made them.
    var machineActions: [[Int]]
    var machineSteps: [[RenderedStep?]]
    /// Producer of each captured value in this plan, by `<group>/<name>`.
    var producers: [String: Int] = [:]

    init(desired: DesiredState, renders: [MachineRender], recorded: RecordedState, artifacts: [String: Artifact]) {
        self.desired = desired
        self.renders = renders
        self.recorded = recorded
        self.artifacts = artifacts
        machineActions = Array(repeating: [], count: desired.machines.count)
        machineSteps = Array(repeating: [], count: desired.machines.count)
    }

    mutating func add(_ action: PlanAction, step: RenderedStep? = nil, machine: Int? = nil) -> Int {
        var action = action
        if let machine, let previous = machineActions[machine].last { action.dependsOn.append(previous) }
        actions.append(action)
        let index = actions.count - 1
        if let machine {
            machineActions[machine].append(index)
            machineSteps[machine].append(step)
        }
        return index
    }

    func action(for step: RenderedStep, machine: String, change: MachineChange, detail: ActionDetail? = nil) -> PlanAction {
        PlanAction(id: "\(machine)/\(step.phase.rawValue)/\(step.ordinal + 1)", type: step.type, machine: machine,
                   runsOn: step.runsOn.map { desired.machines[$0].name }, phase: step.phase, change: change, summary: step.summary,
                   dependsOn: [], detail: detail ?? step.detail, unless: step.unless.map(RenderedText.displayCommand),
                   creates: step.creates?.display, timeout: step.step.timeout, retry: step.step.retry)
    }

    mutating func build() throws(DiagnosticsError) -> Plan {
        var planMachines: [PlanMachine] = []
        for (position, machine) in desired.machines.enumerated() {
            let group = desired.groups[machine.group]
            let role = group.resolved.roles[machine.role]
            let change = addBringUp(position)
            planMachines.append(PlanMachine(name: machine.name, group: group.resolved.name, role: role.name, index: machine.index,
                                            address: machine.address, flavor: role.flavor, change: change, actions: [],
                                            needs: role.declaration.needs))
        }
        try addMissingCaptures()
        wireCaptures()
        for group in desired.groups.indices { wireGroup(group) }
        wireManagementFirst()
        let removed = try addRemovals()
        planMachines.append(contentsOf: removed)
        return try finish(planMachines)
    }

    // MARK: Bring-up and changes

    /// Adds a machine's actions; returns how the machine changes.
    mutating func addBringUp(_ position: Int) -> MachineChange {
        let machine = desired.machines[position]
        let role = desired.groups[machine.group].resolved.roles[machine.role]
        let steps = renders[position].steps
        guard let record = recorded.machine(named: machine.name) else {
            _ = add(PlanAction(id: "\(machine.name)/create-machine", type: .createMachine, machine: machine.name, runsOn: nil, phase: nil,
                               change: .create, summary: createSummary(role: role, address: machine.address),
                               dependsOn: [], detail: .createMachine(flavor: role.flavor, address: machine.address, needs: role.declaration.needs),
                               unless: nil, creates: nil, timeout: nil, retry: nil), machine: position)
            for step in steps {
                let index = add(action(for: step, machine: machine.name, change: .create), step: step, machine: position)
                registerProducer(step, action: index, group: machine.group)
            }
            return .create
        }
        // An existing machine: push changed configuration files, then re-run what reads them.
        var changedConfigure = false
        var included: [(RenderedStep, ActionDetail)] = []
        for step in steps where step.phase == .configure {
            guard case .upload(var file) = step.detail else { continue }
            let previous = record.files[file.path]
            file.previousSHA256 = previous?.sha256
            file.previousContent = previous?.content
            if file.sha256 == nil || previous == nil || previous?.sha256 != file.sha256 || previous?.mode != file.mode {
                changedConfigure = true
                included.append((step, .upload(file)))
            }
        }
        guard changedConfigure else { return .unchanged }
        for step in steps where step.phase == .configure || step.phase == .health {
            if case .upload = step.detail { continue }
            included.append((step, step.detail))
        }
        included.sort { ($0.0.phase, $0.0.ordinal) < ($1.0.phase, $1.0.ordinal) }
        for (step, detail) in included {
            let index = add(action(for: step, machine: machine.name, change: .update, detail: detail), step: step, machine: position)
            registerProducer(step, action: index, group: machine.group)
        }
        return .update
    }

    func createSummary(role: ResolvedRole, address: String?) -> String {
        var parts = ["\(role.flavor.name): \(role.flavor.summary)", address ?? "address known after apply"]
        if !role.declaration.needs.isEmpty { parts.append("needs \(role.declaration.needs.joined(separator: ", "))") }
        return "create machine (\(parts.joined(separator: "; ")))"
    }

    mutating func registerProducer(_ step: RenderedStep, action: Int, group: Int) {
        if case .capture(let name, _, _) = step.detail { producers["\(group)/\(name)"] = action }
    }

    /// A new machine may need a value whose capture ran in an earlier apply but was never recorded (the
    /// run failed after it): capture it again on the machine that produces it.
    mutating func addMissingCaptures() throws(DiagnosticsError) {
        let needed = Set(machineSteps.enumerated().flatMap { position, steps in
            steps.compactMap { $0 }.flatMap { step in step.capturedReferences.map { "\(desired.machines[position].group)/\($0)" } }
        })
        for key in needed.sorted() where producers[key] == nil {
            let parts = key.split(separator: "/", maxSplits: 1)
            guard let groupIndex = Int(parts[0]) else { continue }
            let name = String(parts[1])
            let group = desired.groups[groupIndex]
            guard recorded.captured["\(group.resolved.name)/\(name)"] == nil else { continue }
            search: for (roleIndex, role) in group.resolved.roles.enumerated() {
                for phase in Phase.bringUp {
                    for (ordinal, step) in role.declaration.steps(in: phase).enumerated() {
                        guard case .capture(let captured, _, _) = step.action, captured == name, let producer = group.roleMachines[roleIndex].first else { continue }
                        let machine = desired.machines[producer]
                        let scope: TemplateValue = .object(TemplateObject(["machine": machine.value, "role": group.roleValues[roleIndex]]))
                        var renderer = StepRenderer(state: desired, group: group, contexts: [group.context, scope], subject: machine.name,
                                                    subjectAddress: machine.address, artifacts: artifacts)
                        guard let rendered = try renderer.render(step, phase: phase, ordinal: ordinal, facts: nil) else { continue }
                        producers[key] = add(action(for: rendered, machine: machine.name, change: .update), step: rendered, machine: producer)
                        break search
                    }
                }
            }
        }
    }

    /// Every step that uses a captured value waits for the action that captures it.
    mutating func wireCaptures() {
        for (position, steps) in machineSteps.enumerated() {
            let group = desired.machines[position].group
            for (offset, step) in steps.enumerated() {
                guard let step else { continue }
                let index = machineActions[position][offset]
                for name in step.capturedReferences {
                    if let producer = producers["\(group)/\(name)"], producer != index, !actions[index].dependsOn.contains(producer) {
                        actions[index].dependsOn.append(producer)
                    }
                }
            }
        }
    }

    /// First action of the machine at or after the join phase (or its create-machine action when `bringUp`).
    func firstAction(of machine: Int, from phase: Phase) -> Int? {
        for (offset, step) in machineSteps[machine].enumerated() {
            if let step, step.phase >= phase { return machineActions[machine][offset] }
        }
        return nil
    }

    func lastAction(of machine: Int, in phase: Phase) -> Int? {
        var found: Int?
        for (offset, step) in machineSteps[machine].enumerated() where step?.phase == phase { found = machineActions[machine][offset] }
        return found
    }

    mutating func depend(_ action: Int, on other: Int) {
        if action != other, !actions[action].dependsOn.contains(other) { actions[action].dependsOn.append(other) }
    }

    mutating func gate(_ id: String, summary: String, waitingFor: [Int]) -> Int {
        add(PlanAction(id: id, type: .gate, machine: "", runsOn: nil, phase: nil, change: .unchanged, summary: summary,
                       dependsOn: waitingFor, detail: .gate, unless: nil, creates: nil, timeout: nil, retry: nil))
    }

    /// Join order, role order, canaries and `via` inside one group.
    mutating func wireGroup(_ groupIndex: Int) {
        let group = desired.groups[groupIndex]
        var previousGate: Int?
        for (roleIndex, role) in group.resolved.roles.enumerated() {
            let members = group.roleMachines[roleIndex]
            let active = members.filter { !machineActions[$0].isEmpty }
            guard !active.isEmpty else { continue }

            // Later machines join the cluster the first one formed.
            if let first = members.first, let firstJoin = lastAction(of: first, in: .join) {
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
            if role.canaries > 0, active.count > role.canaries {
                let canaries = Array(active.prefix(role.canaries))
                let canaryGate = gate("gate/\(group.resolved.name)/\(role.name)/canaries",
                                      summary: "canaries of \(role.name) in \(group.resolved.name) succeeded (\(canaries.count) of \(active.count))",
                                      waitingFor: canaries.compactMap { machineActions[$0].last })
                for member in active.dropFirst(role.canaries) {
                    if let first = machineActions[member].first { depend(first, on: canaryGate) }
                }
            }
            // Steps that run on another machine wait until it is up.
            for member in active {
                for (offset, step) in machineSteps[member].enumerated() {
                    guard let target = step?.runsOn, target != member, let targetLast = machineActions[target].last else { continue }
                    if !reaches(targetLast, machineActions[member][offset]) { depend(machineActions[member][offset], on: targetLast) }
                }
            }
            let waitingFor = active.compactMap { machineActions[$0].last } + (previousGate.map { [$0] } ?? [])
            previousGate = gate("gate/\(group.resolved.name)/\(role.name)/ready", summary: "\(role.name) of \(group.resolved.name) ready", waitingFor: waitingFor)
        }
    }

    /// True when `from` already (transitively) depends on `to`'s dependents, i.e. adding to → from would close a cycle.
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
        guard let managementIndex = desired.groups.firstIndex(where: { $0.resolved.isManagement }) else { return }
        let managementMachines = desired.groups[managementIndex].roleMachines.joined().filter { !machineActions[$0].isEmpty }
        guard !managementMachines.isEmpty else { return }
        let ready = gate("gate/management/ready", summary: "management plane ready", waitingFor: managementMachines.compactMap { machineActions[$0].last })
        for (position, machine) in desired.machines.enumerated() where machine.group != managementIndex {
            if let first = machineActions[position].first { depend(first, on: ready) }
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
            var lastIndex: Int?
            func append(_ builder: inout PlanBuilder, _ action: PlanAction) -> Int {
                var action = action
                if let lastIndex { action.dependsOn.append(lastIndex) }
                let index = builder.add(action)
                return index
            }
            var flavor = Flavor.builtIn["small"]!
            if let groupIndex = groupOrder[record.group] {
                let group = desired.groups[groupIndex]
                if let roleIndex = group.resolved.roles.firstIndex(where: { $0.name == record.role }) {
                    let role = group.resolved.roles[roleIndex]
                    flavor = role.flavor
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
                            guard let rendered = try renderer.render(step, phase: phase, ordinal: ordinal, facts: nil) else { continue }
                            let index = append(&self, action(for: rendered, machine: record.name, change: .delete))
                            chain.append(index)
                            lastIndex = index
                        }
                    }
                    if role.declaration.count.odd, let previous = previousInRole["\(record.group)/\(record.role)"], let first = chain.first ?? nil {
                        depend(first, on: previous)
                    }
                }
            }
            let delete = append(&self, PlanAction(id: "\(record.name)/delete-machine", type: .deleteMachine, machine: record.name, runsOn: nil, phase: nil,
                                                  change: .delete, summary: "delete machine", dependsOn: [], detail: .deleteMachine,
                                                  unless: nil, creates: nil, timeout: nil, retry: nil))
            if chain.isEmpty, let previous = previousInRole["\(record.group)/\(record.role)"],
               let groupIndex = groupOrder[record.group], desired.groups[groupIndex].resolved.role(record.role)?.declaration.count.odd == true {
                depend(delete, on: previous)
            }
            chain.append(delete)
            previousInRole["\(record.group)/\(record.role)"] = delete
            result.append(PlanMachine(name: record.name, group: record.group, role: record.role, index: record.index, address: record.address,
                                      flavor: flavor, change: .delete, actions: chain, needs: []))
        }
        return result
    }

    // MARK: Finishing

    /// Orders actions so every one comes after what it depends on, and fills in the groups.
    mutating func finish(_ machines: [PlanMachine]) throws(DiagnosticsError) -> Plan {
        var indegree = [Int](repeating: 0, count: actions.count)
        var dependents = [[Int]](repeating: [], count: actions.count)
        for (index, action) in actions.enumerated() {
            indegree[index] = action.dependsOn.count
            for dependency in action.dependsOn { dependents[dependency].append(index) }
        }
        // Kahn's algorithm with a min-heap keeps the original order wherever dependencies allow.
        var ready = Heap(actions.indices.filter { indegree[$0] == 0 })
        var order: [Int] = []
        order.reserveCapacity(actions.count)
        while let next = ready.pop() {
            order.append(next)
            for dependent in dependents[next] {
                indegree[dependent] -= 1
                if indegree[dependent] == 0 { ready.push(dependent) }
            }
        }
        if order.count != actions.count {
            let stuck = actions.indices.first { indegree[$0] > 0 }.map { actions[$0].id } ?? "?"
            throw DiagnosticsError(Diagnostic("the kinds' steps wait for each other in a circle (around \(stuck))",
                                              help: "check 'via' steps: a step can only run via a role that comes up before its own"))
        }
        var newIndex = [Int](repeating: 0, count: actions.count)
        for (position, old) in order.enumerated() { newIndex[old] = position }
        let ordered = order.map { old -> PlanAction in
            var action = actions[old]
            action.dependsOn = action.dependsOn.map { newIndex[$0] }.sorted()
            return action
        }
        let byName = Dictionary(desired.machines.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let finalMachines = machines.map { machine -> PlanMachine in
            var machine = machine
            let source = byName[machine.name].map { machineActions[$0] } ?? machine.actions
            machine.actions = source.map { newIndex[$0] }
            return machine
        }
        let blueprint = desired.deployment.blueprint
        var groups = desired.groups.map { group -> PlanGroup in
            PlanGroup(name: group.resolved.name, kind: group.resolved.kind.name, isManagement: group.resolved.isManagement,
                      roles: group.resolved.roles.map { role in
                          PlanRole(name: role.name, count: role.count,
                                   previousCount: recorded.machines.filter { $0.group == group.resolved.name && $0.role == role.name }.count,
                                   countSource: role.countSource, flavor: role.flavor.name, flavorSummary: role.flavor.summary,
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
                PlanRole(name: role, count: 0, previousCount: machines.count, countSource: .blueprint, flavor: "", flavorSummary: "",
                         canaries: 0, maxInFlight: "1", needs: [])
            }
            groups.append(PlanGroup(name: name, kind: members[0].kind, isManagement: false, roles: roles, settings: []))
        }
        return Plan(deployment: blueprint.name.value, blueprintFile: blueprint.file, blueprintDigest: blueprint.digest,
                    stateSerial: recorded.serial, driver: blueprint.controlPlane.driverName, groups: groups,
                    machines: finalMachines, actions: ordered)
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
