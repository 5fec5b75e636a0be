import EngineTestSupport
import Foundation
import PhotonCore
import Testing

/// The shipped swarm kind on local machines: real dockerd in each machine, a real Swarm, checked with
/// Docker's own `docker node ls`.
@Suite("Swarm end to end on local machines", .serialized)
struct SwarmEndToEndTests {
    typealias Project = LocalDriverCLITests.Project
    static let templates = CLIFixture.repository.appendingPathComponent("templates").path
    static let bridge = "ph0af00000-24"
    /// One manager and two workers, as in the quick start.
    static let blueprint = """
        version: 1
        name: sw
        controlPlane:
          driver: local
          network: 10.240.0.0/24
        clusters:
          - name: demo
            kind: swarm
            roles:
              managers: 1
              workers: 2

        """

    /// `docker node ls` on the first manager, as "hostname status role" lines, sorted.
    static func nodes(_ project: Project, deployment: String, manager: String) throws -> [String] {
        let state = project.directory.appendingPathComponent(".photon/\(deployment)").path
        let result = try HostCommand.runBlocking([
            "ssh", "-i", state + "/id_ed25519", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(state)/machines/known_hosts",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@\(manager)",
            "docker node ls --format '{{.Hostname}} {{.Status}} {{if .ManagerStatus}}manager{{else}}worker{{end}}'",
        ])
        guard result.succeeded else { throw FixtureError("docker node ls failed: \(result.diagnostic)") }
        return result.stdout.split(separator: "\n").map(String.init).sorted()
    }

    /// Sessions each machine's sshd accepted so far.
    static func sessions(_ project: Project, deployment: String) -> [String: Int] {
        let machines = project.directory.appendingPathComponent(".photon/\(deployment)/machines").path
        var counts: [String: Int] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: machines)) ?? [] where !name.contains(".") && name != "known_hosts" {
            let log = (try? String(contentsOfFile: "\(machines)/\(name)/upper/var/log/sshd.log", encoding: .utf8)) ?? ""
            counts[name] = log.components(separatedBy: "Accepted publickey").count - 1
        }
        return counts
    }

    @Test("apply forms the Swarm; a second apply opens no connection; scale up by 2 and down by 1; destroy leaves nothing")
    func swarmLifecycle() async throws {
        let project = try Project()
        defer { project.remove(bridges: [Self.bridge]) }
        try project.write(Self.blueprint)
        // No join token on any command line of any process on the host or its machines, while the
        // workers join (through dockerd's API: the watch must see those requests go).
        let watch = ProcessWatch(flag: { $0.contains("SWMTKN-") }, proof: { $0.contains("http://localhost/swarm/join") })
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("Reach the clusters:\ncluster demo (swarm): sw-demo-managers-1 at 10.240.0.2"), "\(applied.stdout)")
        #expect(
            try Self.nodes(project, deployment: "sw", manager: "10.240.0.2") == [
                "sw-demo-managers-1 Ready manager", "sw-demo-workers-1 Ready worker", "sw-demo-workers-2 Ready worker",
            ])

        // Root on a manager (what Docker access there amounts to) cannot reach the installer.
        try AttackFromMachine.check(project, deployment: "sw", address: "10.240.0.2")

        let before = Self.sessions(project, deployment: "sw")
        #expect(before.count == 3 && before.values.allSatisfy { $0 > 0 })
        let again = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(again.status == 0 && again.stdout.contains("No changes"), "\(again.stdout)")
        #expect(Self.sessions(project, deployment: "sw") == before, "a no-op apply connects to no machine")

        let up = try await project.photon(["scale", "-f", "photon.yaml", "demo", "workers=4", "--yes"], templates: Self.templates)
        #expect(up.status == 0, "\(up.stderr)")
        #expect(
            try Self.nodes(project, deployment: "sw", manager: "10.240.0.2") == [
                "sw-demo-managers-1 Ready manager", "sw-demo-workers-1 Ready worker", "sw-demo-workers-2 Ready worker",
                "sw-demo-workers-3 Ready worker", "sw-demo-workers-4 Ready worker",
            ])
        let seen = watch.stop()
        #expect(seen.flagged == [], "a swarm token was on a command line")
        #expect(seen.proofs >= 2 && seen.scans > 100, "the watch saw \(seen.proofs) joins in \(seen.scans) scans")
        let down = try await project.photon(["scale", "-f", "photon.yaml", "demo", "workers=3", "--yes"], templates: Self.templates)
        #expect(down.status == 0, "\(down.stderr)")
        #expect(
            try Self.nodes(project, deployment: "sw", manager: "10.240.0.2") == [
                "sw-demo-managers-1 Ready manager", "sw-demo-workers-1 Ready worker", "sw-demo-workers-2 Ready worker", "sw-demo-workers-3 Ready worker",
            ])
        let status = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates)
        #expect(status.stdout.contains("workers: 3 machines (scaled to 3 by photon scale; the blueprint said 2)"), "\(status.stdout)")

        let destroyed = try await project.photon(["destroy", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.directory.appendingPathComponent(".photon/sw").path))
        #expect(HostBridges.leftover(Self.bridge) == nil, "no bridge (and so no bridge address) left")
        for name in ["sw-demo-managers-1", "sw-demo-workers-1", "sw-demo-workers-2", "sw-demo-workers-3", "sw-demo-workers-4"] {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/lxc.payload.\(name)"), "no process of \(name) left")
        }
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(project.directory.path), "no mount left")
        #expect(HostProcesses.mentioning(project.directory.path) == [])
    }

    /// photon with its real drivers and SSH, SIGKILLed right after (or a little after) a chosen transition.
    static func killedApply(_ project: Project, at target: String, delay: Int) async throws -> CLIFixture.Result {
        try await CLIFixture.run(
            ["apply", "-f", "photon.yaml", "--yes", "--templates", templates],
            environment: [
                "PATH": "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "PHOTON_TESTBED_REAL": "1",
                "PHOTON_TESTBED_KILL_ON": target, "PHOTON_TESTBED_KILL_DELAY_MS": String(delay),
            ],
            directory: project.directory, executable: try ApplyTests.testbed)
    }

    @Test(
        "apply SIGKILLed at five moments is finished by the next apply: exactly the blueprint's nodes, no orphan machine",
        arguments: [
            ("sw-demo-workers-1/create-machine:started", 40),  // during machine creation
            ("sw-demo-managers-1/configure/1:started", 5),  // during an upload
            ("sw-demo-managers-1/join/1:succeeded", 0),  // after swarm init, before the token is journaled
            ("sw-demo-workers-1/join/1:started", 150),  // during worker joins
            ("sw-demo-workers-2/health/1:started", 0),  // as a health check starts (it can finish within milliseconds)
        ])
    func crashAndResume(target: String, delay: Int) async throws {
        let project = try Project()
        defer { project.remove(bridges: [Self.bridge]) }
        try project.write(Self.blueprint)
        let killed = try await Self.killedApply(project, at: target, delay: delay)
        #expect(killed.status == SIGKILL, "the apply was killed at \(target): \(killed.status) \(killed.stderr.suffix(300))")
        #expect(!killed.stderr.contains("apply of sw complete"))
        let resumed = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(
            try Self.nodes(project, deployment: "sw", manager: "10.240.0.2") == [
                "sw-demo-managers-1 Ready manager", "sw-demo-workers-1 Ready worker", "sw-demo-workers-2 Ready worker",
            ], "after a kill at \(target)")
        let machines = project.directory.appendingPathComponent(".photon/sw/machines").path
        let made = try FileManager.default.contentsOfDirectory(atPath: machines).filter { !$0.hasPrefix(".") && $0 != "known_hosts" }.sorted()
        #expect(made == ["sw-demo-managers-1", "sw-demo-workers-1", "sw-demo-workers-2"], "no orphan machine")
        let again = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(again.stdout.contains("No changes"), "\(again.stdout)")
        let destroyed = try await project.photon(["destroy", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
    }

    @Test("a machine whose sshd dies mid-apply fails only its branch; the next apply repairs it")
    func machineDiesMidApply() async throws {
        let project = try Project()
        defer { project.remove(bridges: [Self.bridge]) }
        try project.write(Self.blueprint)
        let machines = project.directory.appendingPathComponent(".photon/sw/machines").path
        let broken = try await CLIFixture.run(
            ["apply", "-f", "photon.yaml", "--yes", "--templates", Self.templates],
            environment: [
                "PATH": "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "PHOTON_TESTBED_REAL": "1",
                "PHOTON_TESTBED_RUN_ON": "sw-demo-workers-2/configure/1:started",
                "PHOTON_TESTBED_RUN": "lxc-attach -P \(machines) -n sw-demo-workers-2 -- pkill -x sshd",
            ],
            directory: project.directory, executable: try ApplyTests.testbed)
        #expect(broken.status == 1, "\(broken.stderr.suffix(500))")
        let failures = broken.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(!failures.isEmpty && failures.allSatisfy { $0.contains("on sw-demo-workers-2:") }, "only its branch fails: \(failures)")
        let survivors = try Self.nodes(project, deployment: "sw", manager: "10.240.0.2")
        #expect(survivors == ["sw-demo-managers-1 Ready manager", "sw-demo-workers-1 Ready worker"], "\(broken.stderr.suffix(1500))")

        let repaired = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        let all = try Self.nodes(project, deployment: "sw", manager: "10.240.0.2")
        #expect(
            all == [
                "sw-demo-managers-1 Ready manager", "sw-demo-workers-1 Ready worker", "sw-demo-workers-2 Ready worker",
            ])
        #expect(try await project.photon(["destroy", "-f", "photon.yaml", "--yes"], templates: Self.templates).status == 0)
    }

    @Test(
        "machines stopped behind photon's back (a host reboot) are shown by status, started and reconfigured by the next apply; so is a running machine whose sshd alone died"
    )
    func restartsStoppedMachines() async throws {
        let project = try Project()
        defer { project.remove(bridges: [Self.bridge]) }
        try project.write(Self.blueprint)
        #expect(try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates).status == 0)
        let machines = project.directory.appendingPathComponent(".photon/sw/machines").path
        for name in ["sw-demo-managers-1", "sw-demo-workers-1", "sw-demo-workers-2"] {
            let stopped = try HostCommand.runBlocking(["lxc-stop", "-P", machines, "-n", name, "-k"])
            #expect(stopped.succeeded, "\(stopped.diagnostic)")
        }
        let status = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates)
        #expect(status.stdout.contains("sw-demo-workers-2  10.240.0.4  ready (stopped: the next apply starts it)"), "\(status.stdout)")

        let restarted = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(restarted.status == 0, "\(restarted.stderr.suffix(2000))")
        #expect(restarted.stdout.contains("start the stopped machine"), "\(restarted.stdout)")
        #expect(!restarted.stdout.contains("join as worker"), "the machines rejoin by themselves: \(restarted.stdout)")
        let nodes = try Self.nodes(project, deployment: "sw", manager: "10.240.0.2")
        #expect(nodes == ["sw-demo-managers-1 Ready manager", "sw-demo-workers-1 Ready worker", "sw-demo-workers-2 Ready worker"])
        let again = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(again.stdout.contains("No changes"), "\(again.stdout)")

        // sshd alone dies on a running machine: status says so, and the next apply, with nothing else
        // to do, finds it and starts sshd again (the machine and its node stay as they are).
        let killed = try HostCommand.runBlocking(["lxc-attach", "-P", machines, "-n", "sw-demo-workers-1", "--", "pkill", "-x", "sshd"])
        #expect(killed.succeeded, "\(killed.diagnostic)")
        let deaf = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates)
        #expect(deaf.stdout.contains("sw-demo-workers-1  10.240.0.3  ready (sshd does not answer: the next apply starts it again)"), "\(deaf.stdout)")
        let repaired = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(repaired.status == 0, "\(repaired.stderr.suffix(2000))")
        #expect(repaired.stdout.contains("start sshd again on the running machine"), "\(repaired.stdout)")
        #expect(!repaired.stdout.contains("sw-demo-workers-2"), "only the deaf machine is touched: \(repaired.stdout)")
        #expect(try Self.nodes(project, deployment: "sw", manager: "10.240.0.2") == nodes)
        let settled = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(settled.stdout.contains("No changes"), "\(settled.stdout)")
        #expect(try await project.photon(["destroy", "-f", "photon.yaml", "--yes"], templates: Self.templates).status == 0)
    }
}
