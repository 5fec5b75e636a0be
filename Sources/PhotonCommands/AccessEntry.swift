import ArgumentParser
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
struct AccessEntry {
    var title: String
    var machine: String
    var address: String
    var user: String
    var port: Int
    var command: String

    /// The two lines `apply` prints, with the key and the known hosts of the state in `stateDirectory`.
    func lines(blueprint: Blueprint, stateDirectory: String) -> [String] {
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
        ssh += ["\(user)@\(address)", command]
        // Every argument quoted for a POSIX shell: the line is meant to be pasted, and its parts come from the
        // blueprint, the state and (through the plane) the network.
        return [TerminalText.visible("\(title): \(machine) at \(address)"), TerminalText.visible("  " + ShellQuoting.join(ssh))]
    }

    var event: RunEvent { .access(title: title, machine: machine, address: address, user: user, port: port, command: command) }

}

extension AccessEntry {
    init?(event: RunEvent) {
        guard case .access(let title, let machine, let address, let user, let port, let command) = event else { return nil }
        self.init(title: title, machine: machine, address: address, user: user, port: port, command: command)
    }
}
