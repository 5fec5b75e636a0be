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
    /// Desired machines that exist and change in this plan (a roll), by position.
    var updating: Set<Int> = []

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
            planMachines.append(
                PlanMachine(
                    name: machine.name, group: group.resolved.name, role: role.name, index: machine.index,
                    address: machine.address, flavor: role.flavor, change: renders[position].change, actions: [],
                    needs: role.declaration.needs, healthPorts: renders[position].healthPorts))
        }
        updating = Set(renders.indices.filter { renders[$0].change == .update })
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
                let roleExists =
                    members.contains { renders[$0].change != .create }
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
                    gates.append(
                        GateSlot(
                            index: cursor, name: "\(groupName)/\(role.name)/canaries",
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
                                (output.baseAddress! + slot).initialize(
                                    to: PlanAction(
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
                (buffer.baseAddress! + gate.index).initialize(
                    to: PlanAction(
                        type: .gate, machine: gate.name, change: .unchanged, detail: .gate,
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
}
