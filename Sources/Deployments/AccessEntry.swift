import Blueprints
import Crypto
import Engine
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// How to reach a cluster: an ssh line to one of its machines, running its kind's `access` command.
package struct AccessEntry {
    package var title: String
    package var machine: String
    package var address: String
    package var user: String
    package var port: Int
    package var command: String

    /// The two lines `apply` prints, with the key and the known hosts of the state in `stateDirectory`.
    package func lines(blueprint: Blueprint, stateDirectory: String) -> [String] {
        // Every argument quoted for a POSIX shell: the line is meant to be pasted, and its parts come from the
        // blueprint, the state and (through the plane) the network.
        [
            TerminalText.visible("\(title): \(machine) at \(address)"),
            TerminalText.visible("  " + ShellQuoting.join(arguments(blueprint: blueprint, stateDirectory: stateDirectory))),
        ]
    }

    /// The ssh command line that runs the kind's access command on the machine.
    package func arguments(blueprint: Blueprint, stateDirectory: String) -> [String] {
        var ssh = ["ssh"]
        switch blueprint.ssh.key?.value {
        case .file(let path)?: ssh += ["-i", path]
        case .environment?: break
        default: ssh += ["-i", stateDirectory + "/id_ed25519"]
        }
        let knownHosts = stateDirectory + "/machines/known_hosts"
        if FileManager.default.fileExists(atPath: knownHosts) {
            ssh += ["-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + knownHosts]
        }
        if port != 22 { ssh += ["-p", String(port)] }
        return ssh + ["\(user)@\(address)", command]
    }

    package var event: RunEvent { .access(title: title, machine: machine, address: address, user: user, port: port, command: command) }

}

extension AccessEntry {
    package init?(event: RunEvent) {
        guard case .access(let title, let machine, let address, let user, let port, let command) = event else { return nil }
        self.init(title: title, machine: machine, address: address, user: user, port: port, command: command)
    }
}
