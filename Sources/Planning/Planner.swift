import Blueprints
import Foundation
import Kinds
import PhotonCore

/// A file photon supplies itself rather than renders (its own executable, for the management plane).
public struct Artifact: Sendable {
    public var path: String
    public var sha256: String
    /// How plans name it; the artifact's name when nil.
    public var label: String?

    public init(path: String, sha256: String, label: String? = nil) {
        self.path = path
        self.sha256 = sha256
        self.label = label
    }
}

/// Turns a blueprint and the recorded state into a ``Plan``. It never calls a driver and never opens a
/// connection: everything it needs is in its inputs.
public struct Planner: Sendable {
    public var catalog: KindCatalog
    public var secrets: SecretSource
    public var artifacts: [String: Artifact]
    public var photonVersion: String
    /// Where the kinds' binaries come from and where the installer keeps them.
    public var binaries = BinarySupply()

    public init(catalog: KindCatalog, secrets: SecretSource = SecretSource(), artifacts: [String: Artifact] = [:], photonVersion: String) {
        self.catalog = catalog
        self.secrets = secrets
        self.artifacts = artifacts
        self.photonVersion = photonVersion
    }

    /// Checks the blueprint against the kinds and plans it.
    public func plan(_ blueprint: Blueprint, recorded: RecordedState = .empty) throws(DiagnosticsError) -> Plan {
        let resolved = try Resolver(catalog: catalog, secrets: secrets, recorded: recorded).resolve(blueprint)
        return try plan(resolved, recorded: recorded)
    }

    public func plan(_ deployment: ResolvedDeployment, recorded: RecordedState) throws(DiagnosticsError) -> Plan {
        var times = PhaseTimes()
        return try plan(deployment, recorded: recorded, times: &times)
    }

    /// Where planning spends its time, for the benchmark.
    public struct PhaseTimes: Sendable {
        public var expand: Duration = .zero
        public var render: Duration = .zero
        public var build: Duration = .zero
        public init() {}
        init(expand: Duration, render: Duration, build: Duration) {
            self.expand = expand
            self.render = render
            self.build = build
        }
    }

    /// The plan and what can render its actions again once captured values exist (for the engine).
    public func planForApply(_ deployment: ResolvedDeployment, recorded: RecordedState) throws(DiagnosticsError) -> (plan: Plan, renderer: ActionRenderer) {
        var times = PhaseTimes()
        return try planAndRenderer(deployment, recorded: recorded, times: &times)
    }

    public func plan(_ deployment: ResolvedDeployment, recorded: RecordedState, times: inout PhaseTimes) throws(DiagnosticsError) -> Plan {
        try planAndRenderer(deployment, recorded: recorded, times: &times).plan
    }

    /// Expand, render (with the diff) and build: the one path every plan takes.
    func planAndRenderer(
        _ deployment: ResolvedDeployment, recorded: RecordedState, times: inout PhaseTimes
    ) throws(DiagnosticsError) -> (plan: Plan, renderer: ActionRenderer) {
        let clock = ContinuousClock()
        let start = clock.now
        let desired = try DesiredState.expand(deployment, recorded: recorded, secrets: secrets, photonVersion: photonVersion)
        let expanded = clock.now
        let recordedByName = Dictionary(recorded.machines.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let artifacts = self.artifacts.merging(try binaries.artifacts(for: deployment, catalog: catalog)) { $1 }
        let renders = try desired.render(artifacts: artifacts, recorded: recordedByName)
        let rendered = clock.now
        var builder = PlanBuilder(desired: desired, renders: renders, recorded: recorded, artifacts: artifacts)
        let plan = try builder.build()
        times = PhaseTimes(expand: expanded - start, render: rendered - expanded, build: clock.now - rendered)
        return (plan, ActionRenderer(desired: desired, artifacts: artifacts))
    }
}

// MARK: - Desired state

/// Every machine the blueprint asks for, named, addressed and with its template context.
struct DesiredState: Sendable {
    var deployment: ResolvedDeployment
    var groups: [DesiredGroup]
    var machines: [DesiredMachine]
    var indexByName: [String: Int]

}

struct DesiredGroup: Sendable {
    var resolved: ResolvedGroup
    /// Shared by every machine of the group: deployment, cluster, settings, secrets, services, roles, captured.
    var context: TemplateValue
    /// Machine indices (into ``DesiredState/machines``) of each role, in the kind's order.
    var roleMachines: [[Int]]
    var roleValues: [TemplateValue]
    /// Where the values its templates can name were written, for errors about them.
    var origins = ValueOrigins()
}

struct DesiredMachine: Sendable {
    var name: String
    var group: Int
    var role: Int
    /// 1-based position in the role.
    var index: Int
    var address: String?
    var value: TemplateValue
}

extension DesiredState {
    static func machineName(_ deployment: String, _ group: String, _ role: String, _ index: Int) -> String {
        "\(deployment)-\(group)-\(role)-\(index)"
    }

    // One function: machines, their facts and their steps expanded in one pass over the groups, which a
    // 10,000-machine plan makes once (photon-bench measures it).
    static func expand(
        _ deployment: ResolvedDeployment, recorded: RecordedState, secrets: SecretSource, photonVersion: String
    ) throws(DiagnosticsError) -> DesiredState {
        let blueprint = deployment.blueprint
        let name = blueprint.name.value
        var machines: [DesiredMachine] = []
        machines.reserveCapacity(deployment.machineCount)
        var indexByName: [String: Int] = [:]
        indexByName.reserveCapacity(deployment.machineCount)
        for (groupIndex, group) in deployment.groups.enumerated() {
            for (roleIndex, role) in group.roles.enumerated() where role.count > 0 {
                for index in 1...role.count {
                    let machineName = machineName(name, group.name, role.name, index)
                    indexByName[machineName] = machines.count
                    machines.append(DesiredMachine(name: machineName, group: groupIndex, role: roleIndex, index: index, address: nil, value: .bool(false)))
                }
            }
        }
        try assignAddresses(&machines, blueprint: blueprint, recorded: recorded)

        let namedSecrets = Dictionary(blueprint.secrets.map { ($0.name.value, $0.reference.value) }, uniquingKeysWith: { a, _ in a })
        var secretValues = TemplateObject()
        for secret in blueprint.secrets {
            secretValues[secret.name.value] = secrets.value(
                of: secret.reference.value, generated: recorded.generatedSecrets["secrets.\(secret.name.value)"], named: namedSecrets)
        }

        var groups: [DesiredGroup] = []
        var roleMachinesByGroup: [[[Int]]] = deployment.groups.map { $0.roles.map { _ in [] } }
        for (position, machine) in machines.enumerated() { roleMachinesByGroup[machine.group][machine.role].append(position) }

        let book = CertificateBook(recorded: recorded.generatedSecrets, now: Date())
        let ready = Set(recorded.machines.lazy.filter { $0.lifecycle == .ready }.map(\.name))
        for (groupIndex, group) in deployment.groups.enumerated() {
            var roleValues: [TemplateValue] = []
            var rolesObject = TemplateObject()
            for (roleIndex, role) in group.roles.enumerated() {
                let members = roleMachinesByGroup[groupIndex][roleIndex]
                var memberValues: [TemplateValue] = []
                memberValues.reserveCapacity(members.count)
                for member in members {
                    var value = machineValue(machines[member], role: role, count: members.count, existing: ready.contains(machines[member].name))
                    if !group.kind.certificates.isEmpty, case .object(var fields) = value,
                        let certificates = leafValues(group, role: role.name, machine: machines[member].name, address: machines[member].address, book: book)
                    {
                        fields["certificates"] = certificates
                        value = .object(fields)
                    }
                    machines[member].value = value
                    memberValues.append(value)
                }
                let addresses = members.map { machines[$0].address ?? RenderedText.unknownPlaceholder }.joined(separator: ",")
                let roleValue: TemplateValue = .object(
                    TemplateObject([
                        "name": .text(role.name),
                        "count": .number(role.count),
                        "quorum": .number(role.count / 2 + 1),
                        "first": memberValues.first ?? .bool(false),
                        "machines": .list(memberValues),
                        "addresses": .text(addresses),
                    ]))
                roleValues.append(roleValue)
                rolesObject[role.name] = roleValue
            }
            var captured = TemplateObject()
            for role in group.kind.roles {
                for step in role.steps.values.joined() {
                    guard case .capture(let captureName, _, let secret) = step.action else { continue }
                    if let value = recorded.captured["\(group.name)/\(captureName)"] {
                        captured[captureName] = secret || value.secret ? .sensitive(value.value) : .text(value.value)
                    } else {
                        captured[captureName] = .unknown("captured \(captureName)")
                    }
                }
            }
            let context: TemplateValue = .object(
                TemplateObject([
                    "deployment": ["name": .text(name)],
                    "cluster": ["name": .text(group.name), "kind": .text(group.kind.name)],
                    "settings": .object(TemplateObject(group.settings)),
                    "secrets": .object(secretValues),
                    "services": .object(TemplateObject(group.services.mapValues { .bool($0) })),
                    "photon": ["version": .text(photonVersion)],
                    "roles": .object(rolesObject),
                    "captured": .object(captured),
                    "certificates": authorityValues(group, book: book),
                ]))
            groups.append(
                DesiredGroup(
                    resolved: group, context: context, roleMachines: roleMachinesByGroup[groupIndex], roleValues: roleValues,
                    origins: ValueOrigins.of(group, in: blueprint)))
        }
        return DesiredState(deployment: deployment, groups: groups, machines: machines, indexByName: indexByName)
    }

    static func machineValue(_ machine: DesiredMachine, role: ResolvedRole, count: Int, existing: Bool) -> TemplateValue {
        machineValue(
            name: machine.name, address: machine.address, index: machine.index, role: role.name, count: count, flavor: role.flavor, existing: existing)
    }

    /// `existing`: the machine was ready before this plan (a change rolls through a running cluster);
    /// false while it is being brought up.
    static func machineValue(name: String, address: String?, index: Int, role: String, count: Int, flavor: Flavor, existing: Bool) -> TemplateValue {
        .object(
            TemplateObject([
                "name": .text(name),
                "hostname": .text(name),
                "address": address.map(TemplateValue.text) ?? .unknown("address of \(name)"),
                "index": .number(index),
                "role": .text(role),
                "first": .bool(index == 1),
                "last": .bool(index == count),
                "flavor": .text(flavor.name),
                "cpus": .number(max(1, (flavor.milliCPU + 999) / 1000)),
                "memoryMiB": .number(Int(flavor.memory.bytes >> 20)),
                "diskGiB": .number(Int(flavor.disk.bytes >> 30)),
                "existing": .bool(existing),
            ]))
    }

    /// Recorded machines keep their address; new ones take the lowest free address (local) or the next
    /// unused listed machine (static), in the order management, clusters, roles, index.
    static func assignAddresses(_ machines: inout [DesiredMachine], blueprint: Blueprint, recorded: RecordedState) throws(DiagnosticsError) {
        var recordedAddress: [String: String] = [:]
        for machine in recorded.machines { recordedAddress[machine.name] = machine.address }
        // Every recorded address stays taken: a machine being deleted still holds its address during apply.
        let taken = Set(recorded.machines.map(\.address)).union(recorded.reservedAddresses)
        switch blueprint.controlPlane {
        case .local(let local):
            guard let hosts = local.network.value.usableHosts else { return }
            var next = hosts.lowerBound + 1  // the first usable address is the installer host's
            for position in machines.indices {
                if let address = recordedAddress[machines[position].name] {
                    machines[position].address = address
                    continue
                }
                while next <= hosts.upperBound, taken.contains(IPv4Address(next).description) { next += 1 }
                guard next <= hosts.upperBound else {
                    throw DiagnosticsError(
                        Diagnostic(
                            "network \(local.network.value) has no free address left for \(machines[position].name)",
                            at: local.network.location, help: "use a larger network"))
                }
                machines[position].address = IPv4Address(next).description
                next += 1
            }
        case .static(let plane):
            var pool = plane.machines.map(\.address.value).makeIterator()
            for position in machines.indices {
                if let address = recordedAddress[machines[position].name] {
                    machines[position].address = address
                    continue
                }
                var candidate = pool.next()
                while let address = candidate, taken.contains(address) { candidate = pool.next() }
                guard let address = candidate else {
                    throw DiagnosticsError(
                        Diagnostic(
                            "the static control plane has no machine left for \(machines[position].name)",
                            at: plane.location, help: "list more machines"))
                }
                machines[position].address = address
            }
        }
    }
}
