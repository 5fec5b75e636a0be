import Blueprints
import Drivers
import Engine
import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCore
import SSH
import Testing

/// A deployment's worth of real LXC machines for one test, under `/var/tmp/photon-drivers-…` (on the
/// host's root filesystem, as photon's state usually is, so the masks are really exercised). `destroy`
/// removes every machine, the bridge and the directory whatever state the test left them in.
final class LocalMachines: @unchecked Sendable {
    let root: String
    let stateDirectory: String
    let machinesDirectory: String
    let network: IPv4Network
    let key = DeploymentKey.generate(comment: "photon-drivers-test")
    let driver: LocalDriver

    /// `base` is the folder the fixture's own folder goes in; `hidden` adds to what the driver hides.
    init(network: String, concurrentStarts: Int = 4, base: String = "/var/tmp", hidden: [HiddenPath] = [], registry: String? = nil) throws {
        root = "\(base)/photon-drivers-\(UUID().uuidString.prefix(8))"
        stateDirectory = root + "/.photon/test"
        machinesDirectory = stateDirectory + "/machines"
        self.network = IPv4Network(network)!
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A stand-in for the deployment's private key, which no machine may read.
        _ = FileManager.default.createFile(atPath: stateDirectory + "/id_ed25519", contents: Data(key.privateKey.utf8), attributes: [.posixPermissions: 0o600])
        var configuration = LocalDriver.Configuration(
            deployment: "test", network: self.network, machinesDirectory: machinesDirectory,
            hiddenPaths: [HiddenPath(root + "/.photon", reason: .state)] + hidden, authorizedKey: key.publicKey,
            concurrentStarts: concurrentStarts)
        if let registry { configuration.hiddenPathRegistry = registry }
        driver = LocalDriver(configuration)
    }

    func spec(_ name: String, host: UInt32, flavor: Flavor = Flavor.builtIn["small"]!, needs: [String] = []) -> MachineSpec {
        MachineSpec(
            name: name, group: "test", kind: "test", role: "machine", index: Int(host), flavor: flavor,
            address: IPv4Address(network.network.value + host).description, needs: needs)
    }

    /// A session with strict host-key checking against the key the driver reported.
    func connect(_ machine: MachineHandle) async throws -> SSHConnection {
        try await SSHConnection.open(
            host: machine.address, port: machine.port, user: "root", credentials: .privateKey(key.privateKey, passphrase: nil),
            expectedFingerprint: try #require(machine.hostKeyFingerprint), connectTimeout: .seconds(5))
    }

    func run(_ command: String, on machine: MachineHandle) async throws -> CommandOutput {
        let connection = try await connect(machine)
        defer { Task { await connection.close() } }
        return try await connection.execute(command, timeout: .seconds(30))
    }

    var bridge: String { driver.bridge }

    /// Stops and removes everything of this fixture, ignoring what is already gone.
    func destroy() {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: machinesDirectory)) ?? [] {
            let name = entry.hasPrefix(".partial-") ? String(entry.dropFirst(".partial-".count)) : entry
            guard !entry.hasPrefix(".") || entry.hasPrefix(".partial-") else { continue }
            _ = try? HostCommand.runBlocking(["lxc-stop", "-P", machinesDirectory, "-n", name, "-k"])
        }
        if FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
            _ = try? HostCommand.runBlocking(["ip", "link", "del", bridge])
        }
        try? FileManager.default.removeItem(atPath: root)
        var lock = "/run/lxc/lock" + machinesDirectory
        while lock.count > "/run/lxc/lock".count, rmdir(lock) == 0 { lock = (lock as NSString).deletingLastPathComponent }
    }

    /// What the machines named left on the host; empty when delete removed everything.
    func leftovers(of names: [String], addresses: [String]) -> [String] {
        var found: [String] = []
        for name in names {
            if FileManager.default.fileExists(atPath: machinesDirectory + "/" + name) { found.append("directory of \(name)") }
            for controller in ["memory", "pids", "cpu", "systemd"]
            where FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(controller)/lxc.payload.\(name)") {
                found.append("cgroup \(controller)/lxc.payload.\(name)")
            }
        }
        for address in addresses {
            let veth = "pv" + String(format: "%08x", IPv4Address(address)!.value)
            if FileManager.default.fileExists(atPath: "/sys/class/net/\(veth)") { found.append("veth \(veth)") }
        }
        if let leftover = HostBridges.leftover(bridge) { found.append(leftover) }
        if FileManager.default.fileExists(atPath: machinesDirectory) {
            found.append("machines directory holding \((try? FileManager.default.contentsOfDirectory(atPath: machinesDirectory)) ?? [])")
        }
        if FileManager.default.fileExists(atPath: "/run/lxc/lock" + machinesDirectory) { found.append("LXC lock directory") }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        if mounts.contains(root) { found.append("a mount under \(root)") }
        for process in HostProcesses.mentioning(machinesDirectory) { found.append("process \(process)") }
        return found
    }

}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
