import Drivers
import Foundation
import MachineAccess
import PhotonCore
import SSH

/// Machines made outside photon (LXC, under the project's hosts/) that a blueprint then lists as static
/// machines, with the key photon is given for them in the project's id_ed25519.
struct StaticHosts {
    let driver: LocalDriver
    /// Where the machines' roots are.
    let directory: String
    let subnet: String
    /// The key photon is given (and the machines authorize).
    let key: DeploymentKey
    var bridge: String { driver.bridge }

    /// The driver and the key; no machine yet (so the caller's cleanup is in place before any exists).
    init(in project: LocalDriverCLITests.Project, subnet: String, comment: String) throws {
        directory = project.directory.appendingPathComponent("hosts").path
        self.subnet = subnet
        key = DeploymentKey.generate(comment: comment)
        let keyFile = project.directory.appendingPathComponent("id_ed25519")
        try Data(key.privateKey.utf8).write(to: keyFile)
        chmod(keyFile.path, 0o600)
        driver = LocalDriver(
            LocalDriver.Configuration(
                deployment: "hosts", network: IPv4Network("\(subnet).0/24")!, machinesDirectory: directory,
                hiddenPaths: [HiddenPath(project.directory.path, reason: .state)], authorizedKey: key.publicKey))
    }

    /// Machines foreign-1… at SUBNET.11, .12, …
    func make(_ count: Int) async throws -> [MachineHandle] {
        var made: [MachineHandle] = []
        for index in 1...count {
            made.append(
                try await driver.create(
                    MachineSpec(
                        name: "foreign-\(index)", group: "hosts", kind: "none", role: "host", index: index,
                        flavor: .builtIn["small"]!, address: "\(subnet).\(10 + index)", needs: [])))
        }
        return made
    }
}
