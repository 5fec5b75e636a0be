import Blueprints
import Drivers
import Engine
import Foundation
import MachineAccess
import PhotonCore
import SSH

/// `photon-bench machines`: N local machines from nothing to SSH-ready (a session with strict host-key
/// checking that runs `true`), their idle memory, and their removal. Needs root, lxc and tini.
enum MachinesBench {
    static let usage = """
        usage: photon-bench machines [--count 50] [--in-flight N] [--starts K] [--repeat 3] [--network 10.239.0.0/24]
          --count      machines per round
          --in-flight  machines being made at once (default: all)
          --starts     lxc-start processes at once (default: the driver's, 2 per CPU)
          --repeat     rounds; each makes and removes all machines
        """

    struct Round {
        var ready: Double
        var perMachine: Double
        var destroy: Double
        var memory: Memory
    }

    struct Memory {
        /// Proportional set size of each machine's processes plus its LXC monitor on the host, MiB.
        var pss: Double
        var monitorPSS: Double
        /// The machine's memory cgroup usage (its processes' pages and the page cache they caused), MiB.
        var memcg: Double
        /// How much MemAvailable fell per machine, MiB.
        var available: Double
    }

    static func main(_ arguments: ArraySlice<String>) async -> Int32 {
        var count = 50, inFlight: Int?, starts: Int?, repeats = 3, network = "10.239.0.0/24"
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--count": count = iterator.next().flatMap { Int($0) } ?? count
            case "--in-flight": inFlight = iterator.next().flatMap { Int($0) }
            case "--starts": starts = iterator.next().flatMap { Int($0) }
            case "--repeat": repeats = iterator.next().flatMap { Int($0) } ?? repeats
            case "--network": network = iterator.next() ?? network
            default:
                print(usage)
                return argument == "--help" ? 0 : 64
            }
        }
        guard let parsed = IPv4Network(network), (parsed.usableHosts?.count ?? 0) > count else {
            print("the network \(network) has too few addresses for \(count) machines")
            return 64
        }
        var rounds: [Round] = []
        for round in 1...repeats {
            do {
                let result = try await measure(count: count, inFlight: inFlight ?? count, starts: starts, network: parsed)
                rounds.append(result)
                print(
                    String(
                        format:
                            "round %d: %d machines SSH-ready in %.2f s (%.0f ms per machine), removed in %.2f s; idle per machine: PSS %.1f MiB (of which LXC monitor %.1f), memcg %.1f MiB, MemAvailable drop %.1f MiB",
                        round, count, result.ready, result.perMachine * 1000, result.destroy, result.memory.pss, result.memory.monitorPSS,
                        result.memory.memcg, result.memory.available))
            } catch {
                print("round \(round) failed: \(error)")
                return 1
            }
        }
        let sorted = rounds.map(\.ready).sorted()
        print(
            String(
                format: "photon machines: %d machines SSH-ready, median %.2f s (best %.2f s) over %d rounds; %.1f MiB PSS each when idle",
                count, sorted[sorted.count / 2], sorted[0], rounds.count, rounds.map(\.memory.pss).reduce(0, +) / Double(rounds.count)))
        return 0
    }

    // One function: a benchmark's steps read top to bottom as the figures it prints.
    static func measure(count: Int, inFlight: Int, starts: Int?, network: IPv4Network) async throws -> Round {
        let root = "/var/tmp/photon-bench-machines-\(getpid())"
        let key = DeploymentKey.generate(comment: "photon-bench")
        var configuration = LocalDriver.Configuration(
            deployment: "bench", network: network, machinesDirectory: root + "/machines",
            hiddenPaths: [HiddenPath(root, reason: .state)], authorizedKey: key.publicKey)
        if let starts { configuration.concurrentStarts = starts }
        let driver = LocalDriver(configuration)
        let names = (1...count).map { "bench-m-\($0)" }
        defer {
            // Whatever happened, leave nothing (lxc-stop only where a machine is left: it makes LXC's lock folder).
            for name in names where FileManager.default.fileExists(atPath: root + "/machines/" + name) {
                _ = try? HostCommand.runBlocking(["lxc-stop", "-P", root + "/machines", "-n", name, "-k"])
            }
            if FileManager.default.fileExists(atPath: "/sys/class/net/\(driver.bridge)") {
                _ = try? HostCommand.runBlocking(["ip", "link", "del", driver.bridge])
            }
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: "/run/lxc/lock" + root)
        }
        let availableBefore = memAvailableMiB()
        let clock = ContinuousClock()
        let start = clock.now
        let handles = try await withThrowingTaskGroup(of: MachineHandle.self) { group in
            var pending = names.enumerated().makeIterator()
            func add(_ group: inout ThrowingTaskGroup<MachineHandle, any Error>) {
                guard let (position, name) = pending.next() else { return }
                let spec = MachineSpec(
                    name: name, group: "bench", kind: "bench", role: "machine", index: position + 1, flavor: .builtIn["small"]!,
                    address: IPv4Address(network.network.value + 2 + UInt32(position)).description, needs: [])
                group.addTask {
                    let handle = try await driver.create(spec)
                    do {
                        let connection = try await SSHConnection.open(
                            host: handle.address, user: "root", credentials: .privateKey(key.privateKey, passphrase: nil),
                            expectedFingerprint: handle.hostKeyFingerprint!)
                        let output = try await connection.execute("true")
                        await connection.close()
                        guard output.succeeded else { throw PhotonError("true failed on \(name)") }
                    } catch {
                        // What the machine's sshd said, to tell a slow machine from a client problem.
                        let log = (try? String(contentsOfFile: "\(root)/machines/\(name)/upper/var/log/sshd.log", encoding: .utf8)) ?? "(no sshd log)"
                        let sockets =
                            (try? HostCommand.runBlocking([
                                "lxc-attach", "-P", root + "/machines", "-n", name, "--", "/bin/sh", "-c", "ss -tanp; ip link show eth0; ps -ef",
                            ]))?.stdout ?? ""
                        let neighbours = (try? HostCommand.runBlocking(["ip", "neigh", "show", handle.address]))?.stdout ?? ""
                        throw PhotonError("\(name): \(error)\nsshd.log:\n\(log)\ninside:\n\(sockets)\nhost neighbour: \(neighbours)")
                    }
                    return handle
                }
            }
            for _ in 0..<inFlight { add(&group) }
            var made: [MachineHandle] = []
            while let handle = try await group.next() {
                made.append(handle)
                add(&group)
            }
            return made
        }
        let ready = seconds(clock.now - start)
        // Idle: sshd listening, no session open.
        try await Task.sleep(for: .seconds(3))
        let memory = idleMemory(names: handles.map(\.name), root: root + "/machines", availableBefore: availableBefore)
        let removal = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for handle in handles { group.addTask { try await driver.delete(name: handle.name) } }
            try await group.waitForAll()
        }
        return Round(ready: ready, perMachine: ready / Double(count), destroy: seconds(clock.now - removal), memory: memory)
    }

    static func idleMemory(names: [String], root: String, availableBefore: Double) -> Memory {
        var pss = 0.0, memcg = 0.0
        for name in names {
            let procs = (try? String(contentsOfFile: CgroupLimits.payloadGroup(machine: name, controller: "pids") + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in procs.split(separator: "\n") { pss += pssMiB(String(pid)) }
            if let usage = try? String(
                contentsOfFile: CgroupLimits.payloadGroup(machine: name, controller: "memory") + "/memory.usage_in_bytes", encoding: .utf8),
                let bytes = Double(usage.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                memcg += bytes / 1_048_576
            }
        }
        var monitors = 0.0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if line.hasPrefix("[lxc monitor] \(root) ") { monitors += pssMiB(entry) }
        }
        let count = Double(names.count)
        return Memory(
            pss: (pss + monitors) / count, monitorPSS: monitors / count, memcg: memcg / count,
            available: (availableBefore - memAvailableMiB()) / count)
    }

    static func pssMiB(_ pid: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("Pss:") {
            return (line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
        }
        return 0
    }

    static func memAvailableMiB() -> Double {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            return (line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
        }
        return 0
    }
}
