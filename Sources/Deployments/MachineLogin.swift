import Blueprints
import Foundation
import MachineAccess
import PhotonCore
import SSH
import StateStore

/// `photon ssh`: the OpenSSH command line that logs in to (or runs a command on) a machine of the
/// deployment with photon's key, trusting only the host key photon pinned for that machine.
///
/// The host key comes from photon's own connection, which checks it against the recorded fingerprint
/// (local machines) or the blueprint's (static ones), and is written to `<state>/ssh_known_hosts`.
package enum MachineLogin {
    package static func arguments(
        blueprintPath: String, templates: String?, state: StateLocation, machine name: String, command: [String]
    ) async throws
        -> [String]
    {
        let workspace = try Workspace(templates: templates)
        let blueprint = try workspace.loadBlueprint(blueprintPath)
        let directory = state.directory(for: blueprint.name.value)
        let machines = try await AccessReport.recordedMachines(deployment: blueprint.name.value, directory: directory, state: state)
        let machine = try choose(name, among: machines.map(\.name), deployment: blueprint.name.value, blueprintPath: blueprintPath)
        let (handle, shell) = try await AccessReport.reach(machine, blueprint: blueprint, directory: directory)
        guard let transport = shell as? SSHTransport else {
            throw PhotonError("photon ssh needs photon's SSH transport")
        }
        let connection = try await transport.connection(to: handle)
        guard let hostKey = connection.hostKey else { throw PhotonError("\(machine) presented a host key of a type photon does not pin") }
        await transport.closeAll()
        let knownHosts = URL(fileURLWithPath: directory).standardizedFileURL.path + "/ssh_known_hosts"
        let pattern = handle.port == 22 ? handle.address : "[\(handle.address)]:\(handle.port)"
        try PrivateFile.write(pattern + " " + hostKey + "\n", to: knownHosts)

        var ssh = ["ssh"]
        switch blueprint.ssh.key?.value {
        case .file(let path)?:
            ssh += ["-i", InstallerPaths.resolve(path, in: URL(fileURLWithPath: blueprint.file).standardizedFileURL.deletingLastPathComponent().path)]
        case .environment?: break  // the agent or ssh's own keys: a key in an environment variable has no file to give
        default: ssh += ["-i", URL(fileURLWithPath: directory).standardizedFileURL.path + "/id_ed25519"]
        }
        ssh += [
            "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + knownHosts,
            "-o", "GlobalKnownHostsFile=/dev/null", "-p", String(handle.port), "\(handle.user ?? blueprint.ssh.user)@\(handle.address)",
        ]
        // ssh joins its remaining arguments with spaces for the remote shell: each is quoted to arrive whole.
        if !command.isEmpty { ssh.append(ShellQuoting.join(command)) }
        return ssh
    }

    /// The machine named, or the only one whose name ends with `-NAME` (`web-managers-1`).
    static func choose(_ name: String, among names: [String], deployment: String, blueprintPath: String) throws -> String {
        if names.contains(name) { return name }
        let ending = names.filter { $0.hasSuffix("-" + name) }
        if ending.count == 1 { return ending[0] }
        if names.isEmpty {
            throw PhotonError("the deployment has no machines recorded", help: "'photon apply -f \(blueprintPath)' makes them")
        }
        if ending.count > 1 {
            throw PhotonError("'\(name)' names \(ending.count) machines: \(ending.joined(separator: ", "))", help: "give the whole name")
        }
        // Names without the deployment's prefix, as people type them, are compared too.
        let prefix = deployment + "-"
        let short = Dictionary(names.map { ($0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0, $0) }, uniquingKeysWith: { a, _ in a })
        let close = Suggestions.closest(to: name, among: names) ?? Suggestions.closest(to: name, among: short.keys).flatMap { short[$0] }
        throw PhotonError(
            "the deployment has no machine '\(name)'",
            help: close.map { "did you mean '\($0)'?" } ?? "its machines: \(names.sorted().joined(separator: ", "))")
    }

    /// Machine names for shell completion: read from the installer's state of the blueprint after -f.
    package static func completions(_ words: [String]) -> [String] {
        guard let flag = words.firstIndex(where: { $0 == "-f" || $0 == "--file" }), flag + 1 < words.count,
            let blueprint = try? Workspace(templates: nil).loadBlueprint(words[flag + 1])
        else { return [] }
        let directory = StateLocation(directory: nil, local: true).directory(for: blueprint.name.value)
        guard FileManager.default.fileExists(atPath: directory + "/" + SQLiteStateStore.databaseFileName),
            let store = try? SQLiteStateStore.open(directory: directory, deployment: blueprint.name.value)
        else { return [] }
        defer { try? store.close() }
        return ((try? store.readRecordedState())?.machines.map(\.name) ?? []).sorted()
    }
}
