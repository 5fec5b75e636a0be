import Blueprints
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning
import StateStore

/// What reaches one cluster from outside: the ssh line `apply` prints, its kind's service URLs, the
/// variables that point a client at it, and whether `photon kubeconfig` can fetch admin credentials.
package struct ClusterAccess: Encodable, Sendable {
    package struct Endpoint: Encodable, Sendable {
        package var name: String
        package var machine: String
        package var url: String
    }

    package var cluster: String
    package var kind: String
    /// The machine the ssh line and the variables reach.
    package var machine: String
    package var address: String
    package var ssh: [String]
    package var endpoints: [Endpoint]
    package var environment: [String: String]
    package var kubeconfig: Bool
    /// Where the ssh configuration the variables need is (`Include` it at the top of ~/.ssh/config).
    package var sshConfig: String?
}

/// Access to a deployment's clusters, from the recorded machines (the installer's state, or the
/// management plane's when it runs the clusters).
package struct AccessReport: Sendable {
    package var clusters: [ClusterAccess]
    package var stateDirectory: String

    /// Also writes `<state>/ssh_config` (0600): a Host block per access machine with photon's key and
    /// pinned host keys, for `ssh NAME` and `DOCKER_HOST=ssh://NAME`.
    package static func make(
        blueprintPath: String, templates: String?, state: StateLocation, cluster: String?, writingSSHConfig: Bool = true
    ) async throws -> AccessReport {
        let workspace = try Workspace(templates: templates)
        let blueprint = try workspace.loadBlueprint(blueprintPath)
        let deployment = blueprint.name.value
        let directory = state.directory(for: deployment)
        let machines = try await recordedMachines(deployment: deployment, directory: directory, state: state)
        if let cluster, !blueprint.clusters.contains(where: { $0.name.value == cluster }) {
            throw PhotonError(
                "the blueprint has no cluster '\(cluster)'", help: Suggestions.help(for: cluster, among: blueprint.clusters.map(\.name.value), noun: "cluster"))
        }
        var clusters: [ClusterAccess] = []
        var hosts: [(alias: String, address: String, user: String, port: Int)] = []
        for spec in blueprint.clusters where cluster == nil || spec.name.value == cluster {
            guard let kind = workspace.catalog.kinds[spec.kind.value], let access = kind.access,
                let role = access.role ?? kind.roles.first?.name,
                let machine = machines.filter({ $0.group == spec.name.value && $0.role == role }).min(by: { $0.index < $1.index })
            else { continue }
            let (user, port) = sshTarget(blueprint, address: machine.address)
            let entry = AccessEntry(title: "", machine: machine.name, address: machine.address, user: user, port: port, command: access.command)
            let endpoints = access.endpoints.flatMap { endpoint in
                machines.filter { $0.group == spec.name.value && $0.role == endpoint.role }.sorted { $0.index < $1.index }.map {
                    ClusterAccess.Endpoint(name: endpoint.name, machine: $0.name, url: endpoint.url(address: $0.address))
                }
            }
            let environment = access.environment.mapValues { $0.replacingOccurrences(of: "{ssh}", with: machine.name) }
            if !environment.isEmpty { hosts.append((machine.name, machine.address, user, port)) }
            clusters.append(
                ClusterAccess(
                    cluster: spec.name.value, kind: kind.name, machine: machine.name, address: machine.address,
                    ssh: entry.arguments(blueprint: blueprint, stateDirectory: directory), endpoints: endpoints, environment: environment,
                    kubeconfig: access.kubeconfig != nil, sshConfig: nil))
        }
        if cluster != nil, clusters.isEmpty {
            throw PhotonError("cluster \(cluster ?? "") has no machines recorded", help: "'photon apply -f \(blueprintPath)' makes them")
        }
        if !hosts.isEmpty {
            let path = URL(fileURLWithPath: directory).standardizedFileURL.path + "/ssh_config"
            if writingSSHConfig { try writeSSHConfig(hosts, blueprint: blueprint, directory: directory, to: path) }
            for index in clusters.indices where !clusters[index].environment.isEmpty { clusters[index].sshConfig = path }
        }
        return AccessReport(clusters: clusters, stateDirectory: directory)
    }

    /// A recorded machine as its driver finds it now, and the shell that reaches it.
    static func reach(_ machine: String, blueprint: Blueprint, directory: String) async throws -> (MachineHandle, any RemoteShell) {
        let context = try backendContext(directory: directory, deployment: blueprint.name.value)
        guard let handle = try await Backends.current.current.driver(blueprint, context).lookup(name: machine) else {
            throw PhotonError("machine \(machine) is not there", help: "'photon apply -f \(blueprint.file)' makes it again")
        }
        return (handle, try Backends.current.current.shell(blueprint, context))
    }

    /// What the drivers need to find recorded machines (static ones are known by their recorded handles).
    static func backendContext(directory: String, deployment: String) throws -> BackendContext {
        let database = directory + "/" + SQLiteStateStore.databaseFileName
        guard PlaneEnvironment.current == nil, FileManager.default.fileExists(atPath: database) else { return BackendContext(stateDirectory: directory) }
        let store = try SQLiteStateStore.open(directory: directory, deployment: deployment)
        defer { try? store.close() }
        return BackendContext(stateDirectory: directory, recordedHandles: try store.machineHandles())
    }

    static func sshTarget(_ blueprint: Blueprint, address: String) -> (user: String, port: Int) {
        switch blueprint.controlPlane {
        case .local: return ("root", 22)
        case .static(let plane):
            let listed = plane.machines.first { $0.address.value == address }
            return (listed?.user ?? blueprint.ssh.user, listed?.port ?? 22)
        }
    }

    /// The machines recorded for the deployment: in the management plane when it runs the clusters.
    static func recordedMachines(deployment: String, directory: String, state: StateLocation) async throws -> [StatusReport.Machine] {
        if !state.local, PlaneEnvironment.current == nil, let context = try PlaneContext.load(stateDirectory: directory) {
            return try await StatusReport.planeReport(context, directory: directory).machines
        }
        guard FileManager.default.fileExists(atPath: directory + "/" + SQLiteStateStore.databaseFileName) else {
            throw PhotonError("deployment \(deployment) has no recorded state in \(directory)", help: "'photon apply -f BLUEPRINT' creates it")
        }
        let recorded = try SQLiteStateStore.open(directory: directory, deployment: deployment).readRecordedState()
        return recorded.machines.map {
            StatusReport.Machine(
                name: $0.name, group: $0.group, kind: $0.kind, role: $0.role, index: $0.index, address: $0.address, lifecycle: $0.lifecycle.rawValue,
                running: nil, sshAnswers: nil)
        }
    }

    /// Host blocks for ssh (and docker's ssh:// transport, which runs ssh): photon's key, the pinned
    /// host keys, nothing else. Every value is a machine name, an address or a path photon chose.
    static func writeSSHConfig(
        _ hosts: [(alias: String, address: String, user: String, port: Int)], blueprint: Blueprint, directory: String, to path: String
    ) throws {
        let state = URL(fileURLWithPath: directory).standardizedFileURL.path
        var key: String?
        switch blueprint.ssh.key?.value {
        case .file(let file)?: key = InstallerPaths.resolve(file, in: URL(fileURLWithPath: blueprint.file).standardizedFileURL.deletingLastPathComponent().path)
        case .environment?: key = nil
        default: key = state + "/id_ed25519"
        }
        func quoted(_ value: String) -> String { "\"" + value + "\"" }
        var lines = ["# Written by photon access for deployment \(blueprint.name.value): Include it at the top of ~/.ssh/config."]
        for host in hosts {
            lines += ["Host \(host.alias)", "  HostName \(host.address)", "  User \(host.user)", "  Port \(host.port)"]
            if let key { lines += ["  IdentityFile \(quoted(key))", "  IdentitiesOnly yes"] }
            // Local machines' keys are in known_hosts; static ones are pinned in the blueprint, which ssh cannot read.
            if FileManager.default.fileExists(atPath: state + "/machines/known_hosts") {
                lines += ["  UserKnownHostsFile \(quoted(state + "/machines/known_hosts"))", "  StrictHostKeyChecking yes"]
            }
        }
        for value in [key, state].compactMap({ $0 }) where value.contains("\"") || value.contains("\n") {
            throw PhotonError("cannot write an ssh configuration naming \(TerminalText.visible(value)): quotes and line breaks do not fit in it")
        }
        try PrivateFile.write(lines.joined(separator: "\n") + "\n", to: path)
    }
}
