import Blueprints
import Engine
import Foundation
import MachineAccess
import PhotonCore
import SSH
import Testing

@testable import Drivers

/// The local driver against real LXC on this host. Each test uses its own network and cleans up in a
/// `defer`, so a failing test leaves nothing behind either.
@Suite("Local driver on LXC", .serialized)
struct LocalDriverTests {
    @Test("20 machines made 4 at a time answer over SSH with pinned keys, are isolated, limited, and leave nothing when deleted")
    func twentyMachines() async throws {
        let machines = try LocalMachines(network: "10.231.0.0/24")
        defer { machines.destroy() }
        let tiny = Flavor(name: "tiny", milliCPU: 500, memory: ByteSize(bytes: 256 << 20), disk: ByteSize(bytes: 1 << 30))
        let specs = (1...20).map { machines.spec("test-m-\($0)", host: UInt32(10 + $0), flavor: $0 == 1 ? tiny : Flavor.builtIn["small"]!) }

        let handles = try await withThrowingTaskGroup(of: MachineHandle.self) { group in
            var pending = specs.makeIterator(), made: [MachineHandle] = []
            for _ in 0..<4 { if let spec = pending.next() { group.addTask { try await machines.driver.create(spec) } } }
            while let handle = try await group.next() {
                made.append(handle)
                if let spec = pending.next() { group.addTask { try await machines.driver.create(spec) } }
            }
            return made.sorted { $0.address.count == $1.address.count ? $0.address < $1.address : $0.address.count < $1.address.count }
        }
        #expect(handles.map(\.name) == specs.map(\.name))
        #expect(Set(handles.compactMap(\.hostKeyFingerprint)).count == 20, "every machine has its own host key")
        // The bridge keeps the MAC photon gave it, whatever ports join: a changing bridge MAC strands
        // machines whose ARP caches hold the old one.
        let bridgeMAC = try String(contentsOfFile: "/sys/class/net/\(machines.bridge)/address", encoding: .utf8)
        #expect(bridgeMAC == "02:50:0a:e7:00:01\n")

        // Strict host-key checking: the session is refused unless the key is the one the driver reported.
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            for handle in handles {
                group.addTask { (handle.name, try await machines.run("hostname", on: handle).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            for try await (name, hostname) in group { #expect(hostname == name) }
        }
        let impostor = MachineHandle(name: handles[0].name, address: handles[0].address, hostKeyFingerprint: handles[1].hostKeyFingerprint, driverID: "")
        await #expect(throws: SSHError.self) { _ = try await machines.connect(impostor) }

        // A file written in one machine's /etc is its own.
        let first = handles[0], second = handles[1]
        #expect(try await machines.run("echo secret-of-m1 > /etc/photon-isolation-probe", on: first).succeeded)
        #expect(try await machines.run("cat /etc/photon-isolation-probe", on: first).stdout == "secret-of-m1\n")
        #expect(!FileManager.default.fileExists(atPath: "/etc/photon-isolation-probe"))
        #expect(try await machines.run("test -e /etc/photon-isolation-probe", on: second).exitStatus == 1)

        // The flavor's limits, read back from the host's cgroup files and from inside the machine.
        let limits = try #require(CgroupLimits.read(machine: first.name))
        #expect(limits.memoryBytes == 256 << 20)
        #expect(limits.cpuQuota == 50_000)
        #expect(limits.pids == 1024)
        let small = try #require(CgroupLimits.read(machine: second.name))
        #expect(small.memoryBytes == 1 << 30 && small.cpuQuota == 100_000)
        if limits.version == .v1 {
            #expect(try await machines.run("cat /sys/fs/cgroup/memory/memory.limit_in_bytes", on: first).stdout == "\(256 << 20)\n")
        }

        // photon's state, the deployment's key, the host's SSH keys and the other machines' files stay out of sight.
        let probe = """
            ls -A \(machines.stateDirectory) 2>&1; cat \(machines.stateDirectory)/id_ed25519 2>&1; \
            ls -A \(machines.machinesDirectory) 2>&1; ls -A /root/.ssh; ls /etc/ssh | grep host_
            """
        let seen = try await machines.run(probe, on: second).stdout
        #expect(!seen.contains("PRIVATE KEY"))
        #expect(!seen.contains("test-m-"))
        #expect(seen.contains("No such file or directory"))
        #expect(seen.split(separator: "\n").filter { $0.hasPrefix("ssh_host_") }.sorted() == ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"])
        #expect(seen.contains("authorized_keys"))
        #expect(try await machines.run("ls -A /root/.ssh", on: second).stdout == "authorized_keys\n")

        // Found again by name, as another photon process would.
        let again = LocalDriver(machines.driver.configuration)
        #expect(try await again.list().map(\.name).sorted() == specs.map(\.name).sorted())
        #expect(try await again.lookup(name: first.name) == first)
        #expect(try await again.lookup(name: "test-m-99") == nil)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for handle in handles { group.addTask { try await again.delete(name: handle.name) } }
            try await group.waitForAll()
        }
        #expect(machines.leftovers(of: specs.map(\.name), addresses: handles.map(\.address)) == [])
        try await again.delete(name: first.name)  // deleting what is gone succeeds
    }

    @Test("a machine whose creating process was SIGKILLed halfway is adopted by the next create")
    func adoptsHalfMadeMachines() async throws {
        let machines = try LocalMachines(network: "10.232.0.0/24")
        defer { machines.destroy() }
        let testbed = try Testbed.executable
        var reached: [String] = []
        for (position, stage) in ["partial", "config", "started"].enumerated() {
            let spec = machines.spec("test-adopt-\(position)", host: UInt32(20 + position))
            let pid = try Testbed.spawn([
                testbed, "local-machine", machines.machinesDirectory, machines.network.description, spec.name,
                spec.address!, machines.key.publicKey,
            ])
            let layout = machines.machinesDirectory + "/" + spec.name
            let deadline = ContinuousClock.now + .seconds(20)
            var status: Int32 = 0, exited = false
            while ContinuousClock.now < deadline {
                if waitpid(pid, &status, WNOHANG) == pid {
                    exited = true
                    break
                }
                let hit: Bool
                switch stage {
                case "partial":
                    hit =
                        FileManager.default.fileExists(atPath: machines.machinesDirectory + "/.partial-" + spec.name)
                        || FileManager.default.fileExists(atPath: layout)
                case "config": hit = FileManager.default.fileExists(atPath: layout + "/config")
                default: hit = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/lxc.payload.\(spec.name)")
                }
                if hit { break }
                usleep(500)
            }
            if !exited {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
            }
            let wasKilled = (status & 0x7f) == SIGKILL
            reached.append("\(stage): \(wasKilled ? "killed" : "finished first")")

            let handle = try await machines.driver.create(spec)
            #expect(try await machines.run("hostname", on: handle).stdout == spec.name + "\n")
            #expect(try await machines.driver.create(spec) == handle, "creating it again returns the same machine")
        }
        let made = try await machines.driver.list()
        #expect(made.count == 3)
        #expect(!FileManager.default.fileExists(atPath: machines.machinesDirectory + "/.partial-test-adopt-0"))
        for handle in made { try await machines.driver.delete(name: handle.name) }
        #expect(machines.leftovers(of: made.map(\.name), addresses: made.map(\.address)) == [], "stages: \(reached)")
    }

    @Test("a second deployment on another network coexists; overlapping networks and foreign addresses are refused with reasons")
    func secondDeployment() async throws {
        let first = try LocalMachines(network: "10.233.0.0/24"), second = try LocalMachines(network: "10.234.0.0/24")
        defer {
            first.destroy()
            second.destroy()
        }
        let a = try await first.driver.create(first.spec("test-a-1", host: 2))
        let b = try await second.driver.create(second.spec("test-b-1", host: 2))
        #expect(first.bridge != second.bridge)
        #expect(try await first.run("hostname", on: a).stdout == "test-a-1\n")
        #expect(try await second.run("hostname", on: b).stdout == "test-b-1\n")

        let overlapping = try LocalMachines(network: "10.233.0.0/16")
        defer { overlapping.destroy() }
        do {
            _ = try await overlapping.driver.create(overlapping.spec("test-c-1", host: 300))
            Issue.record("an overlapping network was accepted")
        } catch let error as DriverError {
            #expect(error.message.contains("overlaps the host's route to 10.233.0.0/24 on \(first.bridge)"), "\(error)")
            #expect(error.help?.contains("controlPlane.local.network") == true)
        }
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(overlapping.bridge)"))

        var outside = first.spec("test-a-2", host: 3)
        outside.address = "10.99.0.3"
        await #expect(throws: DriverError.self) { _ = try await first.driver.create(outside) }
        var moved = first.spec("test-a-1", host: 9)
        moved.address = "10.233.0.9"
        do {
            _ = try await first.driver.create(moved)
            Issue.record("a machine was adopted under another address")
        } catch let error as DriverError {
            #expect(error.message.contains("exists with another address (10.233.0.2)"), "\(error)")
        }

        try await first.driver.delete(name: a.name)
        #expect(first.leftovers(of: [a.name], addresses: [a.address]) == [])
        #expect(try await second.run("hostname", on: b).stdout == "test-b-1\n", "the other deployment is untouched")
        try await second.driver.delete(name: b.name)
        #expect(second.leftovers(of: [b.name], addresses: [b.address]) == [])
    }

    @Test("a machine that needs docker gets its own /var/lib/docker on the host's filesystem and the cgroup mounts dockerd needs")
    func dockerMachine() async throws {
        let machines = try LocalMachines(network: "10.235.0.0/24")
        defer { machines.destroy() }
        let handle = try await machines.driver.create(machines.spec("test-docker-1", host: 2, needs: ["docker"]))
        let mounts = try await machines.run("grep -E ' /var/lib/docker | /sys/fs/cgroup/devices ' /proc/self/mountinfo", on: handle).stdout
        #expect(mounts.contains(" /var/lib/docker "))
        #expect(mounts.contains("/sys/fs/cgroup/devices") || CgroupLimits.hostVersion() == .v2)
        #expect(try await machines.run("touch /var/lib/docker/probe && echo ok", on: handle).stdout == "ok\n")
        #expect(FileManager.default.fileExists(atPath: machines.machinesDirectory + "/test-docker-1/docker/probe"))
        try await machines.driver.delete(name: handle.name)
        #expect(machines.leftovers(of: [handle.name], addresses: [handle.address]) == [])
    }
}

extension LocalDriverTests {
    @Test("a layer's files appear read-only in every machine at their paths, over the host's root")
    func layers() async throws {
        let machines = try LocalMachines(network: "10.230.0.0/24")
        defer { machines.destroy() }
        let layer = machines.root + "/layer"
        try FileManager.default.createDirectory(atPath: layer + "/usr/local/bin", withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho hello from the layer on $(hostname)\n".utf8).write(to: URL(fileURLWithPath: layer + "/usr/local/bin/photon-layer-probe"))
        chmod(layer + "/usr/local/bin/photon-layer-probe", 0o755)
        var configuration = machines.driver.configuration
        configuration.layers = [layer]
        let driver = LocalDriver(configuration)
        let handle = try await driver.create(machines.spec("test-layer-1", host: 2))
        #expect(try await machines.run("photon-layer-probe", on: handle).stdout == "hello from the layer on test-layer-1\n")
        #expect(try await machines.run("echo x > /usr/local/bin/photon-layer-probe", on: handle).exitStatus != 0, "read-only")
        #expect(try await machines.run("test -x /usr/bin/python3 && echo host", on: handle).stdout == "host\n", "the host's root is still there")
        try await driver.delete(name: handle.name)
        #expect(machines.leftovers(of: [handle.name], addresses: [handle.address]) == [])
    }
}

@Suite("Static driver against local machines used as foreign hosts", .serialized)
struct StaticDriverTests {
    @Test("create checks the pinned host key and photon's access; delete forgets")
    func staticMachines() async throws {
        let machines = try LocalMachines(network: "10.236.0.0/24")
        defer { machines.destroy() }
        let host = try await machines.driver.create(machines.spec("test-host-1", host: 2))
        let entry = StaticDriver.Machine(address: host.address, port: 22, user: "root", hostKeyFingerprint: host.hostKeyFingerprint!, source: "photon.yaml:5:7")
        let driver = StaticDriver(
            machines: [entry], credentials: .privateKey(machines.key.privateKey, passphrase: nil), defaultUser: "root",
            connectTimeout: .seconds(5), recorded: [])
        let spec = MachineSpec(
            name: "demo-web-workers-1", group: "web", kind: "swarm", role: "workers", index: 1,
            flavor: Flavor.builtIn["small"]!, address: host.address, needs: [])
        let handle = try await driver.create(spec)
        #expect(handle.address == host.address && handle.hostKeyFingerprint == host.hostKeyFingerprint && handle.name == spec.name)
        #expect(try await driver.lookup(name: spec.name) == handle)
        #expect(try await driver.list() == [handle])
        try await driver.delete(name: spec.name)
        #expect(try await driver.lookup(name: spec.name) == nil)
        #expect(try await machines.run("hostname", on: host).stdout == "test-host-1\n", "delete leaves the user's machine alone")

        let wrongKey = StaticDriver(
            machines: [
                StaticDriver.Machine(
                    address: host.address, port: 22, user: "root",
                    hostKeyFingerprint: "SHA256:" + String(repeating: "A", count: 43), source: "photon.yaml:5:7")
            ],
            credentials: .privateKey(machines.key.privateKey, passphrase: nil), defaultUser: "root", connectTimeout: .seconds(5), recorded: [])
        do {
            _ = try await wrongKey.create(spec)
            Issue.record("a machine with another host key was accepted")
        } catch let error as DriverError {
            #expect(error.message.contains("photon.yaml:5:7"))
            #expect(error.message.contains(host.hostKeyFingerprint!), "names the key the machine presented: \(error)")
            #expect(error.help?.contains("ssh-keyscan") == true)
            #expect(!error.isTransient)
        }
        let stranger = DeploymentKey.generate(comment: "stranger")
        let wrongAccess = StaticDriver(
            machines: [entry], credentials: .privateKey(stranger.privateKey, passphrase: nil), defaultUser: "root",
            connectTimeout: .seconds(5), recorded: [])
        await #expect(throws: DriverError.self) { _ = try await wrongAccess.create(spec) }
        let unlisted = MachineSpec(
            name: "demo-x-1", group: "x", kind: "swarm", role: "workers", index: 1, flavor: Flavor.builtIn["small"]!,
            address: "10.236.0.99", needs: [])
        await #expect(throws: DriverError.self) { _ = try await driver.create(unlisted) }
        try await machines.driver.delete(name: host.name)
    }
}

/// The photon-testbed executable, which makes one machine in a process the tests can kill.
enum Testbed {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var executable: String {
        get throws {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("photon-testbed").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            let fallback = repository.appendingPathComponent(".build/debug/photon-testbed").path
            guard FileManager.default.isExecutableFile(atPath: fallback) else {
                throw TestFailure("photon-testbed is not built; run 'swift build' before 'swift test'")
            }
            return fallback
        }
    }

    static func spawn(_ arguments: [String]) throws -> pid_t { try HostCommand.spawnDetached(arguments) }
}
