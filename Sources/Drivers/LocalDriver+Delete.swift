import Foundation
import PhotonCore

extension LocalDriver {
    /// Stops the machine, waits until LXC has let go of it (its monitor ended, its cgroups gone), then
    /// removes its folder; with the last machine, the bridge and the rest of what the host holds for it.
    func deleteBlocking(name: String) throws {
        let layout = self.layout(name)
        let address = (try? String(contentsOfFile: layout.config, encoding: .utf8)).flatMap(MachineLayout.address(inConfig:))
        let partial = configuration.machinesDirectory + "/.partial-" + name
        if FileManager.default.fileExists(atPath: layout.directory) {
            let stop = try HostCommand.runBlocking(["lxc-stop", "-P", configuration.machinesDirectory, "-n", name, "-k"])
            if !stop.succeeded, let state = state(name), state != "STOPPED" {
                throw DriverError(machine: name, operation: "delete", "lxc-stop failed with the machine \(state): \(stop.diagnostic)", transient: true)
            }
            try MachineRemains(machinesDirectory: configuration.machinesDirectory, name: name).awaitGone()
        }
        try hostLock.withLock {
            for path in [layout.directory, partial] where FileManager.default.fileExists(atPath: path) {
                do { try FileManager.default.removeItem(atPath: path) } catch {
                    throw DriverError(machine: name, operation: "delete", "cannot remove \(path): \(error.localizedDescription)")
                }
            }
            if try machineNames().isEmpty { try releaseHost() } else if let address { updateKnownHosts(adding: nil, removing: address) }
        }
    }
}
