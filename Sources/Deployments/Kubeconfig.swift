import Blueprints
import Foundation
import Kinds
import MachineAccess
import PhotonCore

/// `photon kubeconfig`: the admin client configuration of a cluster whose kind names one (kubeadm's
/// admin.conf), read from the first machine of its access role over photon's SSH, with a loopback
/// server address replaced by the machine's.
package enum Kubeconfig {
    package static func fetch(blueprintPath: String, templates: String?, state: StateLocation, cluster: String) async throws -> String {
        let workspace = try Workspace(templates: templates)
        let blueprint = try workspace.loadBlueprint(blueprintPath)
        guard let spec = blueprint.clusters.first(where: { $0.name.value == cluster }) else {
            throw PhotonError(
                "the blueprint has no cluster '\(cluster)'", help: Suggestions.help(for: cluster, among: blueprint.clusters.map(\.name.value), noun: "cluster"))
        }
        guard let kind = workspace.catalog.kinds[spec.kind.value], let access = kind.access, let path = access.kubeconfig else {
            throw PhotonError(
                "cluster \(cluster) is of kind \(spec.kind.value), which has no kubeconfig",
                help: "'photon access -f \(blueprintPath) \(cluster)' shows how to reach it")
        }
        let directory = state.directory(for: blueprint.name.value)
        let machines = try await AccessReport.recordedMachines(deployment: blueprint.name.value, directory: directory, state: state)
        let role = access.role ?? kind.roles.first?.name
        guard let machine = machines.filter({ $0.group == cluster && $0.role == role }).min(by: { $0.index < $1.index }) else {
            throw PhotonError("cluster \(cluster) has no \(role ?? "") machine recorded", help: "'photon apply -f \(blueprintPath)' makes it")
        }
        let (handle, shell) = try await AccessReport.reach(machine.name, blueprint: blueprint, directory: directory)
        // Closed before returning, not in a detached task: a session freed while the process exits
        // races OpenSSL's own teardown (a crash seen at exit).
        let output: CommandOutput
        do {
            output = try await shell.execute("cat " + ShellQuoting.quote(path), on: handle, timeout: .seconds(30))
        } catch {
            await shell.closeAll()
            throw error
        }
        await shell.closeAll()
        guard output.succeeded, !output.stdout.isEmpty else {
            throw PhotonError(
                "cannot read \(path) on \(machine.name) (\(machine.address)): \(TerminalText.visible(String(output.stderr.suffix(300))))",
                help: "the cluster may not be initialised yet: 'photon apply -f \(blueprintPath)' finishes it")
        }
        return pointed(output.stdout, at: machine.address)
    }

    /// The configuration with `server: https://127.0.0.1:PORT` (or localhost) pointing at `address`.
    static func pointed(_ text: String, at address: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("server: ") else { return String(line) }
            let indent = line.prefix(line.count - trimmed.count)
            var server = String(trimmed.dropFirst("server: ".count))
            for loopback in ["https://127.0.0.1:", "https://localhost:", "https://[::1]:"] where server.hasPrefix(loopback) {
                server = "https://\(address):" + server.dropFirst(loopback.count)
            }
            return indent + "server: " + server
        }.joined(separator: "\n")
    }
}
