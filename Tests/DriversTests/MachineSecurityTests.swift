import Blueprints
import Engine
import EngineTestSupport
import Foundation
import PhotonCore
import SSH
import Testing

@testable import Drivers

/// Root inside a local machine (what Docker access on a Swarm node or a privileged pod amounts to)
/// plays the attacker against the installer host: real LXC machines, the attempts of `MachineAttacks`.
@Suite("A workload with root on a local machine cannot take the installer host", .serialized, .tags(.security))
struct MachineSecurityTests {
    static let forbidden: Set<String> = ["sys_module", "sys_rawio", "sys_boot", "sys_time", "mac_admin", "mac_override", "syslog", "wake_alarm"]

    /// The installer's things, each with a marker no machine may read: under a folder of the host's
    /// `/var/lib` (which machines see, unlike `/var/tmp`), in `/root`, in `/home` and in `/tmp`.
    final class InstallerFiles: @unchecked Sendable {
        let base = "/var/lib/photon-security-\(UUID().uuidString.prefix(8))"
        let marker = "photon-secret-\(UUID().uuidString)"
        let hostOnly = "photon-security-\(UUID().uuidString.prefix(8))"
        var secrets: [MachineAttacks.Secret] = []
        var hidden: [HiddenPath] = []

        init() throws {
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try file("blueprint/photon.yaml", hidden: nil)
            hidden.append(HiddenPath(base + "/blueprint", reason: .blueprint, source: base + "/blueprint/photon.yaml"))
            try file("secrets/token.txt", hidden: .secretFile)
            try file("keys/deploy_ed25519", hidden: .keyFile)
            // Another deployment's state, kept where its --state put it and recorded on this host.
            try file("elsewhere/state/secrets.key", hidden: nil)
            for path in ["/root/.\(hostOnly)", "/home/\(hostOnly)/notes", "/tmp/\(hostOnly)"] {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data((marker + "\n").utf8).write(to: URL(fileURLWithPath: path))
                secrets.append(MachineAttacks.Secret(path: path, marker: marker))
            }
            secrets.append(MachineAttacks.Secret(path: base + "/blueprint", marker: "photon.yaml"))
        }

        private func file(_ relative: String, hidden reason: HiddenPath.Reason?) throws {
            let path = base + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data((marker + "\n").utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o600)
            secrets.append(MachineAttacks.Secret(path: path, marker: marker))
            if let reason { hidden.append(HiddenPath(path, reason: reason, source: "photon.yaml:9:12")) }
        }

        func remove() {
            for path in [base, "/root/.\(hostOnly)", "/home/\(hostOnly)", "/tmp/\(hostOnly)"] { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    @Test(
        "root in a plain machine and in a Docker machine: no forbidden capability, no module, no host disk or kernel setting, no installer secret, masks that hold"
    )
    func rootInsideMachines() async throws {
        let installer = try InstallerFiles()
        defer { installer.remove() }
        let registry = installer.base + "/hidden-paths"
        _ = try HiddenPathRegistry(file: registry).record([installer.base + "/elsewhere/state"])
        let machines = try LocalMachines(network: "10.250.1.0/24", base: installer.base, hidden: installer.hidden, registry: registry)
        defer { machines.destroy() }
        // The fixture's own state: the deployment's private key and a sealing key.
        try Data((installer.marker + "\n").utf8).write(to: URL(fileURLWithPath: machines.stateDirectory + "/secrets.key"))
        let secrets =
            installer.secrets + [
                MachineAttacks.Secret(path: machines.stateDirectory + "/secrets.key", marker: installer.marker),
                MachineAttacks.Secret(path: machines.stateDirectory + "/id_ed25519", marker: "PRIVATE KEY"),
                MachineAttacks.Secret(path: machines.machinesDirectory, marker: "config"),
            ]
        let plain = try await machines.driver.create(machines.spec("sec-plain-1", host: 2))
        let docker = try await machines.driver.create(machines.spec("sec-docker-1", host: 3, needs: ["docker"]))
        let script = MachineAttacks.script(secrets: secrets, hostDisk: MachineAttacks.hostRootDevice())
        for handle in [plain, docker] {
            let connection = try await machines.connect(handle)
            let output = try await connection.execute(script, timeout: .seconds(60))
            await connection.close()
            let report = MachineAttacks.Report(output.stdout)
            #expect(report.breaches == [], "\(handle.name): \(report.breaches)\n\(output.stderr)")
            #expect(report.missing == [], "\(handle.name) reported nothing for \(report.missing):\n\(output.stdout)\n\(output.stderr)")
            #expect(secrets.indices.allSatisfy { report.refused.contains("secret-\($0)") }, "\(handle.name): \(output.stdout)")
            #expect(!report.capabilities.isEmpty, "\(handle.name): CapEff was read")
            #expect(report.capabilities.isDisjoint(with: Self.forbidden), "\(handle.name): \(report.capabilities.intersection(Self.forbidden))")
            #expect(report.uidMap == "0 \(IDMap.standard.hostBase) \(IDMap.standard.count)", "root inside is not root outside")
        }
        // Stopped (a host reboot) and started again by the next create: the machine's own files stay, even
        // where the host's are hidden, and the masks hold as before.
        #expect(try await machines.run("mkdir -p /var/lib/photon/own && echo mine > /var/lib/photon/own/file && echo notes > /root/notes", on: plain).succeeded)
        #expect(try HostCommand.runBlocking(["lxc-stop", "-P", machines.machinesDirectory, "-n", plain.name, "-k"]).succeeded)
        #expect(try await machines.driver.create(machines.spec("sec-plain-1", host: 2)) == plain)
        #expect(try await machines.run("cat /var/lib/photon/own/file /root/notes", on: plain).stdout == "mine\nnotes\n")
        let again = MachineAttacks.Report(try await machines.run(script, on: plain).stdout)
        #expect(again.breaches == [] && again.missing == [], "after a restart: \(again.breaches) \(again.missing)")

        // Confined, the Docker machine still runs dockerd with overlay2 on its own /var/lib/docker.
        let dockerd = try await machines.run(
            """
            setsid -f dockerd >/var/log/dockerd.log 2>&1 </dev/null
            for i in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
            docker info --format '{{.Driver}}'
            """, on: docker)
        #expect(dockerd.stdout == "overlay2\n", "\(dockerd.stdout)\(dockerd.stderr)")
        for handle in [plain, docker] { try await machines.driver.delete(name: handle.name) }
        #expect(machines.leftovers(of: [plain.name, docker.name], addresses: [plain.address, docker.address]) == [])
    }
}

extension MachineSecurityTests {
    @Test("a machine an earlier photon made as a privileged container is refused, not adopted; a machines folder overlayfs cannot name is refused")
    func refusals() async throws {
        let machines = try LocalMachines(network: "10.250.2.0/24")
        defer { machines.destroy() }
        let old = machines.machinesDirectory + "/sec-old-1"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        try Data("lxc.rootfs.path = overlay:/:\(old)/upper\nlxc.cap.drop =\nlxc.net.0.ipv4.address = 10.250.2.2/24\n".utf8)
            .write(to: URL(fileURLWithPath: old + "/config"))
        do {
            _ = try await machines.driver.create(machines.spec("sec-old-1", host: 2))
            Issue.record("a privileged machine was adopted")
        } catch let error as DriverError {
            #expect(error.message.contains("made by an earlier photon as a privileged container"), "\(error)")
            #expect(error.help?.contains("photon destroy") == true)
        }

        let odd = "/var/tmp/photon,odd-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: odd) }
        let oddMachines = try LocalMachines(network: "10.250.3.0/24", base: odd)
        defer { oddMachines.destroy() }
        do {
            _ = try await oddMachines.driver.create(oddMachines.spec("sec-odd-1", host: 2))
            Issue.record("a machines folder with a comma was accepted")
        } catch let error as DriverError {
            #expect(error.message.contains("holds ','"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(oddMachines.bridge)"), "nothing was made")
    }
}

/// What the masks are made of, without machines.
@Suite("Machine masks and confinement lines")
struct MachineMaskTests {
    @Test("a path machines run from is refused with the blueprint's position; nested and covered paths collapse")
    func masks() throws {
        for path in ["/", "/etc", "/usr", "/var", "/var/lib"] {
            do {
                _ = try MachineMasks.make(hiding: [HiddenPath(path, reason: .blueprint, source: "photon.yaml:1:1")])
                Issue.record("\(path) was accepted")
            } catch let error as DriverError {
                #expect(error.message.contains("the blueprint's folder \(path) (photon.yaml:1:1) would be hidden from every machine"), "\(error)")
                #expect(error.help?.contains("folder of its own") == true)
            }
        }
        let base = NSTemporaryDirectory() + "photon-masks-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/a/b", withIntermediateDirectories: true)
        // /tmp is emptied in every machine already: nothing under it needs a mask of its own.
        let masks = try MachineMasks.make(hiding: [
            HiddenPath(base + "/a", reason: .state), HiddenPath(base + "/a/b", reason: .state),
            HiddenPath(base + "/missing", reason: .state),
        ])
        #expect(!masks.absent.contains { $0.hasPrefix(base) })
        #expect(masks.emptied.contains("/root") && masks.emptied.contains("/home") && masks.emptied.contains("/tmp"))
        let outside = "/var/lib/photon-masks-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: outside + "/a/b", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let kept = try MachineMasks.make(hiding: [HiddenPath(outside + "/a", reason: .state), HiddenPath(outside + "/a/b", reason: .state)])
        #expect(kept.absent.filter { $0.hasPrefix(outside) } == [outside + "/a"])
    }

    @Test("the host's registry of hidden paths keeps every deployment's existing paths until its deployment is gone")
    func registry() throws {
        let base = NSTemporaryDirectory() + "photon-registry-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        for folder in ["a", "b"] { try FileManager.default.createDirectory(atPath: base + "/" + folder, withIntermediateDirectories: true) }
        let registry = HiddenPathRegistry(file: base + "/registry/hidden-paths")
        #expect(try registry.record([base + "/a", base + "/missing"]) == [base + "/a"])
        #expect(try registry.record([base + "/b"]) == [base + "/a", base + "/b"], "another deployment's paths stay")
        try FileManager.default.removeItem(atPath: base + "/a")
        #expect(try registry.record([]) == [base + "/b"], "a path that is gone is dropped")
        #expect(try registry.record([], removing: [base + "/b"]) == [])
        let attributes = try FileManager.default.attributesOfItem(atPath: base + "/registry/hidden-paths")
        #expect(attributes[.posixPermissions] as? Int == 0o600)
    }

    @Test("the configuration maps root to an unprivileged id range, drops capabilities, filters calls and allows only listed devices")
    func configuration() {
        let layout = MachineLayout(directory: "/m/box-1", name: "box-1")
        let network = HostNetwork(network: IPv4Network("10.250.9.0/24")!, bridge: "ph0afa0900-24")
        let limits = CgroupLimits(version: .v1, memoryBytes: 1 << 30, cpuQuota: 100_000, pids: 1024)
        for appArmor in [false, true] {
            let confinement = Confinement(idMap: .standard, seccompProfile: "/m/.seccomp", appArmor: appArmor)
            let plain = layout.lxcConfig(
                deployment: "d", address: IPv4Address("10.250.9.2")!, network: network, limits: limits, docker: false, confinement: confinement)
            let docker = layout.lxcConfig(
                deployment: "d", address: IPv4Address("10.250.9.2")!, network: network, limits: limits, docker: true, confinement: confinement)
            for config in [plain, docker] {
                let lines = config.split(separator: "\n").map(String.init)
                #expect(lines.contains("lxc.idmap = u 0 1000000 65536") && lines.contains("lxc.idmap = g 0 1000000 65536"))
                #expect(lines.contains("lxc.rootfs.path = dir:/run/photon/box-1/root"))
                #expect(lines.contains("lxc.cap.drop = mac_admin mac_override sys_boot sys_module sys_rawio sys_time syslog wake_alarm"))
                #expect(lines.contains("lxc.seccomp.profile = /m/.seccomp"))
                #expect(lines.contains("lxc.cgroup.devices.deny = a"))
                #expect(!lines.contains { $0.hasPrefix("lxc.cgroup.devices.allow = b") || $0 == "lxc.cgroup.devices.allow = a" }, "no block device")
                #expect(lines.contains(appArmor ? "lxc.apparmor.profile = generated" : "lxc.apparmor.profile = unconfined"))
            }
            #expect(docker.contains("lxc.cgroup.devices.allow = c 10:200 rwm\n") && !plain.contains("10:200"))
            #expect(docker.contains("lxc.apparmor.allow_nesting = 1") == appArmor)
        }
        #expect(Confinement.seccompPolicy.contains("init_module errno 1") && Confinement.seccompPolicy.contains("open_by_handle_at errno 1"))
    }
}
