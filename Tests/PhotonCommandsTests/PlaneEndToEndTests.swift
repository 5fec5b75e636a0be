import EngineTestSupport
import Foundation
import PhotonCore
import Testing

/// The management plane on local machines: bootstrapped by apply from the installer, then running
/// the clusters through its API (real etcd, real HAProxy, photon serve and photon agent).
@Suite("Management plane end to end on local machines", .serialized)
struct PlaneEndToEndTests {
    typealias Project = LocalDriverCLITests.Project
    static let templates = CLIFixture.repository.appendingPathComponent("templates").path

    static func blueprint(name: String, network: String, planeMachines: Int) -> String {
        """
        version: 1
        name: \(name)
        controlPlane:
          driver: local
          network: \(network)
        management:
          machines: \(planeMachines)
          services: [etcd, api, haproxy]
        clusters:
          - name: web
            kind: swarm
            roles:
              managers: 1
              workers: 1

        """
    }

    static func context(_ project: Project, _ deployment: String) throws -> [String: Any] {
        let path = project.directory.appendingPathComponent(".photon/\(deployment)/plane.json").path
        return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
    }

    static func writeContext(_ project: Project, _ deployment: String, _ context: [String: Any]) throws {
        let path = project.directory.appendingPathComponent(".photon/\(deployment)/plane.json").path
        try JSONSerialization.data(withJSONObject: context).write(to: URL(fileURLWithPath: path))
    }

    /// Nothing of the deployment is left: state, machines' processes, bridge, agent, mounts.
    /// photon started in the background in the project, its stderr written to `path` as it goes.
    static func background(_ project: Project, _ arguments: [String], stderr path: String) throws -> Process {
        let process = Process()
        process.executableURL = try CLIFixture.executable
        process.arguments = arguments + ["--templates", templates]
        process.currentDirectoryURL = project.directory
        process.environment = ["PATH": "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": NSTemporaryDirectory(), "NO_COLOR": "1"]
        FileManager.default.createFile(atPath: path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Returns once the file holds `text`, the process ended, or a minute passed.
    static func wait(for text: String, in path: String, while process: Process) async throws {
        let started = Date()
        while process.isRunning, Date().timeIntervalSince(started) < 60, !((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains(text) {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    static func expectNothingLeft(_ project: Project, deployment: String, machines: [String], bridge: String) throws {
        #expect(!FileManager.default.fileExists(atPath: project.directory.appendingPathComponent(".photon/\(deployment)").path))
        #expect(HostBridges.leftover(bridge) == nil, "no bridge left")
        for name in machines {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/lxc.payload.\(name)"), "no process of \(name) left")
        }
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(project.directory.path), "no mount left")
        #expect(HostProcesses.mentioning(project.directory.path) == [], "no agent, no LXC monitor left")
    }

    @Test(
        "a plane of one: bootstrap and hand-over, a Swarm through the API, scale through the CLI (its killed CLI's operation followed by the next, 409 with --no-wait), its API server and supervisor killed and brought back by the next apply, its store backed up and restored from the installer, 401 for a wrong token, a wrong certificate refused, a cluster machine refused by etcd, destroy leaves nothing",
        .tags(.security))
    func planeOfOne() async throws {
        let project = try Project()
        let bridge = "ph0af10000-24"
        defer { project.remove(bridges: [bridge]) }
        try project.write(Self.blueprint(name: "p1", network: "10.241.0.0/24", planeMachines: 1))

        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(applied.status == 0, "\(applied.stderr.suffix(3000))")
        #expect(applied.stderr.contains("Handed the state of p1 over to its management plane"))
        #expect(applied.stderr.contains("The management plane accepted operation"))
        #expect(
            applied.stdout.contains(
                "Reach the clusters:\ncluster web (swarm): p1-web-managers-1 at 10.241.0.3\n  ssh -i .photon/p1/id_ed25519 -o StrictHostKeyChecking=yes"),
            "the access line of a cluster the plane made, with this installer's key and known hosts: \(applied.stdout.suffix(600))")
        #expect(
            try SwarmEndToEndTests.nodes(project, deployment: "p1", manager: "10.241.0.3") == [
                "p1-web-managers-1 Ready manager", "p1-web-workers-1 Ready worker",
            ])

        let contextPath = project.directory.appendingPathComponent(".photon/p1/plane.json").path
        let mode = (try FileManager.default.attributesOfItem(atPath: contextPath)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600, "the context file holds the token: mode 0600")
        let context = try Self.context(project, "p1")
        #expect((context["endpoints"] as? [String])?.first == "https://10.241.0.2:8443", "HAProxy first")
        #expect((context["fingerprint"] as? String)?.hasPrefix("sha256:") == true)

        // The plane answers status; its machines and the cluster's are there.
        let status = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("state management plane at https://10.241.0.2:8443"), "\(status.stdout)")
        #expect(status.stdout.contains("p1-web-workers-1  10.241.0.4  ready"), "\(status.stdout)")
        #expect(!status.stdout.contains(context["token"] as? String ?? "-"), "the token is never shown")

        // A workload on a cluster machine (root in the Swarm worker) attacks the plane's etcd: plain HTTP
        // on the client and peer ports, TLS without a client certificate — nothing answers it.
        let state = project.directory.appendingPathComponent(".photon/p1").path
        func onMachine(_ address: String, _ command: String) async throws -> HostCommand.Output {
            try await HostCommand.run([
                "ssh", "-i", state + "/id_ed25519", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(state)/machines/known_hosts",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@\(address)", command,
            ])
        }
        let put = #"-X POST -d '{"key":"L3Bob3Rvbi9wMS9vcC8wMDAwOTk=","value":"e30="}'"#
        for (what, command) in [
            ("plain HTTP on the client port", "curl -s -m 5 -o /dev/null -w '%{http_code}' \(put) http://10.241.0.2:2379/v3/kv/put"),
            ("TLS without a client certificate", "curl -sk -m 5 -o /dev/null -w '%{http_code}' \(put) https://10.241.0.2:2379/v3/kv/put"),
            ("plain HTTP on the peer port", "curl -s -m 5 -o /dev/null -w '%{http_code}' http://10.241.0.2:2380/members"),
            ("TLS without a certificate on the peer port", "curl -sk -m 5 -o /dev/null -w '%{http_code}' https://10.241.0.2:2380/members"),
        ] {
            let attempt = try await onMachine("10.241.0.4", command)
            #expect(attempt.stdout == "000" || attempt.stdout.hasPrefix("4"), "\(what) from a cluster machine answered \(attempt.stdout)")
        }
        let keyless = try await onMachine(
            "10.241.0.4", "ETCDCTL_API=3 etcdctl --endpoints=https://10.241.0.2:2379 --insecure-skip-tls-verify --command-timeout=5s get --prefix /photon")
        #expect(!keyless.succeeded && !keyless.stdout.contains("photon"), "etcdctl without a certificate read \(keyless.stdout.prefix(200))")
        // No token or key in any process's arguments on the plane machine.
        let processes = try await onMachine("10.241.0.2", "ps -eo args")
        #expect(processes.succeeded && processes.stdout.contains("photon serve"), "\(processes.diagnostic)")
        #expect(!processes.stdout.contains(context["token"] as? String ?? "-"), "the API token is in a process's arguments")
        #expect(!processes.stdout.contains("BEGIN"), "a key is in a process's arguments")

        // A second apply: the plane and the clusters have nothing to do.
        let again = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        #expect(again.stdout.contains("No changes"), "\(again.stdout)")

        // Scale through the CLI talking to the API; the CLI is killed once the plane accepted it: the
        // operation goes on. While it runs, --no-wait gets the 409; without it the CLI follows the
        // running operation to its end, then sends its own.
        let output = project.directory.appendingPathComponent("scale.err").path
        // The agent that makes the new machine is held until the operation is: under load a scale can
        // otherwise end before the test finds its photon.
        let agents = ProcessTable.entries().filter {
            $0.arguments.count > 1 && $0.arguments[1] == "agent" && $0.arguments.contains { $0.hasPrefix(project.directory.path) }
        }
        #expect(!agents.isEmpty, "no photon agent of the deployment on the installer")
        for agent in agents { kill(agent.pid, SIGSTOP) }
        defer { for agent in agents { kill(agent.pid, SIGCONT) } }
        let killedScale = try Self.background(project, ["scale", "-f", "photon.yaml", "web", "workers=2", "--yes"], stderr: output)
        try await Self.wait(for: "accepted operation", in: output, while: killedScale)
        kill(killedScale.processIdentifier, SIGKILL)
        killedScale.waitUntilExit()
        // The operation's photon on the plane machine is held (SIGSTOP) while the next two CLIs look, so
        // it is certainly still running; then it goes on.
        let operation = "'^/usr/local/bin/photon run-operation '"
        var held = false
        for _ in 0..<200 where !held {
            held = try await onMachine("10.241.0.2", "pkill -STOP -f \(operation)").succeeded
            if !held { try await Task.sleep(for: .milliseconds(25)) }
        }
        for agent in agents { kill(agent.pid, SIGCONT) }
        #expect(held, "the operation's photon was not found on the plane machine")
        let refused = try await project.photon(["scale", "-f", "photon.yaml", "web", "workers=2", "--yes", "--no-wait"], templates: Self.templates)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("HTTP 409): the deployment is busy with operation"), "\(refused.stderr)")
        let followed = project.directory.appendingPathComponent("follow.err").path
        let follower = try Self.background(project, ["scale", "-f", "photon.yaml", "web", "workers=2", "--yes"], stderr: followed)
        try await Self.wait(for: "to its end first", in: followed, while: follower)
        _ = try await onMachine("10.241.0.2", "pkill -CONT -f \(operation)")
        while follower.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        let scaled = (try? String(contentsOfFile: followed, encoding: .utf8)) ?? ""
        #expect(follower.terminationStatus == 0, "\(scaled.suffix(2000))")
        #expect(scaled.contains("to its end first"), "followed the killed CLI's operation: \(scaled.suffix(2000))")
        #expect(scaled.contains("scale of p1 complete"), "\(scaled.suffix(2000))")
        #expect(
            try SwarmEndToEndTests.nodes(project, deployment: "p1", manager: "10.241.0.3") == [
                "p1-web-managers-1 Ready manager", "p1-web-workers-1 Ready worker", "p1-web-workers-2 Ready worker",
            ])

        // photon serve is supervised: killed on its machine, it is started again and the plane answers.
        let killed = try await HostCommand.run([
            "ssh", "-i", state + "/id_ed25519", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(state)/machines/known_hosts",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@10.241.0.2", "pkill -KILL -f '^/usr/local/bin/photon serve'",
        ])
        #expect(killed.succeeded, "\(killed.diagnostic)")
        var answered = false
        for _ in 0..<50 where !answered {
            try await Task.sleep(for: .milliseconds(200))
            answered = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates).status == 0
        }
        #expect(answered, "the plane answers again after photon serve was killed")

        // Its supervisor dies with it (as when the machine's service script is killed): nothing starts it
        // again, until the next apply finds the API port silent and configures the machine again.
        let unsupervised = try await onMachine("10.241.0.2", "kill -KILL $(cat /run/photon/photon.pid) && pkill -KILL -f '^/usr/local/bin/photon serve'")
        #expect(unsupervised.succeeded, "\(unsupervised.diagnostic)")
        let repaired = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(repaired.status == 0, "\(repaired.stderr.suffix(2000))")
        #expect(repaired.stdout.contains("nothing answers on port 9443"), "\(repaired.stdout.prefix(2000))")
        #expect(try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates).status == 0)

        // The plane's own store, from the installer: a key written into its etcd, backed up, deleted, restored
        // (photon serve stopped meanwhile and started again), read back; the plane answers after.
        let planeEtcd =
            "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/photon/etcd/ca.crt --cert=/etc/photon/etcd/client.crt --key=/etc/photon/etcd/client.key"
        #expect(try await onMachine("10.241.0.2", "\(planeEtcd) put /photon-backup-test kept").succeeded)
        let planeBackup = project.directory.appendingPathComponent("plane.backup").path
        let saved = try await project.photon(["backup", "-f", "photon.yaml", "management", "-o", planeBackup], templates: Self.templates)
        #expect(saved.status == 0 && saved.stdout.contains("management plane etcd snapshot"), "\(saved.stderr.suffix(2000))")
        #expect(try await onMachine("10.241.0.2", "\(planeEtcd) del /photon-backup-test").succeeded)
        let restored = try await project.photon(["restore", "-f", "photon.yaml", "management", planeBackup, "--yes"], templates: Self.templates)
        #expect(restored.status == 0, "\(restored.stderr.suffix(3000))")
        let kept = try await onMachine("10.241.0.2", "\(planeEtcd) get --print-value-only /photon-backup-test")
        #expect(kept.stdout == "kept\n", "\(kept.diagnostic)")
        var backAgain = false
        for _ in 0..<100 where !backAgain {
            try await Task.sleep(for: .milliseconds(200))
            backAgain = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates).status == 0
        }
        #expect(backAgain, "the plane answers after its store was restored")

        // A wrong token gets 401 (straight from the API, and through the CLI).
        let curl = try HostCommand.runBlocking([
            "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer wrong-token-0123456789",
            "https://10.241.0.2:8443/v1/deployment",
        ])
        #expect(curl.stdout == "401")
        var wrongToken = context
        wrongToken["token"] = String(repeating: "0", count: 64)
        try Self.writeContext(project, "p1", wrongToken)
        let refusedToken = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates)
        #expect(refusedToken.status == 1)
        #expect(refusedToken.stderr.contains("refused the token of the context file"), "\(refusedToken.stderr)")

        // A certificate other than the pinned one is refused by the CLI.
        let other = try HostCommand.runBlocking([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "/dev/null", "-subj", "/CN=intruder", "-days", "1",
        ])
        #expect(other.succeeded, "\(other.stderr)")
        let fingerprint = try HostCommand.runBlocking(["sh", "-c", "openssl x509 -outform der | sha256sum | cut -d' ' -f1"], input: other.stdout)
        var wrongCertificate = context
        wrongCertificate["certificatePEM"] = other.stdout
        wrongCertificate["fingerprint"] = "sha256:" + fingerprint.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try Self.writeContext(project, "p1", wrongCertificate)
        let refusedCertificate = try await project.photon(["status", "-f", "photon.yaml"], templates: Self.templates)
        #expect(refusedCertificate.status == 1)
        #expect(refusedCertificate.stderr.contains("did not present the pinned certificate"), "\(refusedCertificate.stderr)")
        try Self.writeContext(project, "p1", context)

        let destroyed = try await project.photon(["destroy", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(destroyed.status == 0, "\(destroyed.stderr.suffix(2000))")
        try Self.expectNothingLeft(
            project, deployment: "p1", machines: ["p1-management-plane-1", "p1-web-managers-1", "p1-web-workers-1", "p1-web-workers-2"],
            bridge: bridge)
    }

    @Test(
        "a plane of three: the leader's machine killed during a scale; another server takes over and finishes it with the right node count; destroy --local leaves nothing, agent included"
    )
    func leaderFailover() async throws {
        let project = try Project()
        let bridge = "ph0af30000-24"
        defer { project.remove(bridges: [bridge]) }
        try project.write(Self.blueprint(name: "p3", network: "10.243.0.0/24", planeMachines: 3))
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(applied.status == 0, "\(applied.stderr.suffix(3000))")

        let status = try await project.photon(["status", "-f", "photon.yaml", "--format", "json"], templates: Self.templates)
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let leader = try #require((report?["plane"] as? [String: Any])?["leader"] as? String)
        let leaderAddress = try #require(leader.split(separator: "/").dropFirst().first?.split(separator: ":").first.map(String.init))
        let leaderMachine = "p3-management-plane-\(Int(leaderAddress.split(separator: ".").last!)! - 1)"
        let machines = project.directory.appendingPathComponent(".photon/p3/machines").path
        let initPID = try HostCommand.runBlocking(["lxc-info", "-P", machines, "-n", leaderMachine, "-pH"]).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(Int32(initPID) != nil, "the leader \(leaderMachine) runs")

        // The scale runs in the background; the leader's machine dies once the first new machine is being made.
        let output = project.directory.appendingPathComponent("scale.err").path
        let scale = try Self.background(project, ["scale", "-f", "photon.yaml", "web", "workers=4", "--yes"], stderr: output)
        try await Self.wait(for: "create-machine", in: output, while: scale)
        kill(Int32(initPID)!, SIGKILL)
        let killedAt = Date()
        while scale.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        let log = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(scale.terminationStatus == 0, "\(log.suffix(3000))")
        #expect(log.contains("the new leader"), "another server resumed the operation: \(log.suffix(2000))")
        #expect(Date().timeIntervalSince(killedAt) < 60, "finished within a minute of the leader's death (lease 10 s, lock 10 s)")
        #expect(
            try SwarmEndToEndTests.nodes(project, deployment: "p3", manager: "10.243.0.5") == [
                "p3-web-managers-1 Ready manager", "p3-web-workers-1 Ready worker", "p3-web-workers-2 Ready worker",
                "p3-web-workers-3 Ready worker", "p3-web-workers-4 Ready worker",
            ])
        let after = try await project.photon(["status", "-f", "photon.yaml", "--format", "json"], templates: Self.templates)
        let newLeader = ((try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])?["plane"] as? [String: Any])?["leader"] as? String
        #expect(newLeader != nil && newLeader != leader, "a new leader: \(newLeader ?? "none")")

        // From the installer alone (as when the plane cannot be reached): machines, state and agent go.
        let destroyed = try await project.photon(["destroy", "--local", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(destroyed.status == 0, "\(destroyed.stderr.suffix(2000))")
        try Self.expectNothingLeft(
            project, deployment: "p3", machines: (1...3).map { "p3-management-plane-\($0)" } + ["p3-web-managers-1"] + (1...4).map { "p3-web-workers-\($0)" },
            bridge: bridge)
    }
}
