import Foundation
import MachineAccess
import PhotonCore
import SSH

#if canImport(Glibc)
import Glibc
#endif

/// Finding machines by their folders, the names they may have, and the hosts file for people.
extension LocalDriver {
    func lookupBlocking(name: String) throws -> MachineHandle? {
        let layout = self.layout(name)
        guard let config = try? String(contentsOfFile: layout.config, encoding: .utf8) else { return nil }
        guard let address = MachineLayout.address(inConfig: config),
            let publicKey = try? String(contentsOfFile: layout.publicHostKey, encoding: .utf8),
            let fingerprint = SSHPublicKey.fingerprint(ofPublicKeyLine: publicKey)
        else {
            throw DriverError(
                machine: name, operation: "lookup", "the machine's files in \(layout.directory) are damaged (no address or host key)",
                help: "delete the machine with 'photon destroy' and apply again")
        }
        return MachineHandle(name: name, address: address.description, port: 22, user: "root", hostKeyFingerprint: fingerprint, driverID: "lxc:\(name)")
    }

    /// `<machines>/known_hosts`: every machine's pinned key, for people who ssh in by hand
    /// (`ssh -o UserKnownHostsFile=…`). Best effort: photon itself checks fingerprints, not this file.
    /// Drops the line of `address` and adds the machine of `layout`, if given. Called under `hostLock`.
    func updateKnownHosts(adding layout: MachineLayout?, removing address: IPv4Address) {
        let path = configuration.machinesDirectory + "/known_hosts"
        var lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("\(address) ") }
        if let layout, let key = try? String(contentsOfFile: layout.publicHostKey, encoding: .utf8) {
            let fields = key.split(separator: " ")
            if fields.count >= 2 { lines.append("\(address) \(fields[0]) \(fields[1])") }
        }
        let temporary = path + ".new"
        // Written in place under a name of our own, then renamed: Foundation's atomic writes leave
        // temporary files of their own behind when the process is killed.
        if (try? Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: temporary))) != nil {
            chmod(temporary, 0o644)
            rename(temporary, path)
        }
    }

    func machineNames() throws -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: configuration.machinesDirectory) else { return [] }
        return entries.filter { !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: configuration.machinesDirectory + "/" + $0 + "/config") }.sorted()
    }

    /// A machine's name becomes a folder of the host (`<machines>/<name>`) and LXC's container name: only
    /// a host name label gets that far, never `..` or a slash, whoever asks (the agent serves this driver).
    func checkName(_ name: String, operation: String) throws {
        if let problem = Hostname.problem(withLabel: name) {
            throw DriverError(machine: String(reflecting: name), operation: operation, "not a machine name: \(problem)")
        }
    }

    func layout(_ name: String) -> MachineLayout {
        MachineLayout(directory: configuration.machinesDirectory + "/" + name, name: name)
    }
}
