import EngineTestSupport
import Foundation
import PhotonCore
import Testing

/// The shipped kubernetes kind on local machines. Real: the etcd cluster (Debian etcd-server), containerd
/// (Debian), the SSH, files and services photon pushes. Stand-ins (Tests/StandIns/kubernetes), brought by
/// photon from a binaries folder as a user's bundle would be: kubeadm, kubelet and kubectl, which accept
/// exactly the kind's command lines and keep nodes and tokens in that real etcd, and crictl and CNI plugin
/// tarballs.
@Suite("Kubernetes end to end on local machines (real etcd and containerd; kubeadm, kubelet, kubectl stand-ins)", .serialized)
struct KubernetesEndToEndTests {
    typealias Project = LocalDriverCLITests.Project
    static let templates = CLIFixture.repository.appendingPathComponent("templates").path
    static let bridge = "ph0af50000-24"

    static func ssh(_ project: Project, _ address: String, _ command: String, deployment: String = "kt") throws -> String {
        let state = project.directory.appendingPathComponent(".photon/\(deployment)").path
        let result = try HostCommand.runBlocking([
            "ssh", "-i", state + "/id_ed25519", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(state)/machines/known_hosts",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@\(address)", command,
        ])
        guard result.succeeded else { throw FixtureError("\(command) on \(address) failed: \(result.diagnostic)") }
        return result.stdout
    }

    static func nodes(_ project: Project) throws -> [String] {
        try ssh(project, "10.245.0.5", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes").split(separator: "\n").dropFirst().map(String.init)
    }

    /// Whether `line` has a run of 6 lowercase letters or digits, a dot, and 16 more, as a whole.
    static func holdsBootstrapToken(_ line: String) -> Bool {
        let runs = line.split(whereSeparator: { !(("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == ".") })
        return runs.contains { run in
            let parts = run.split(separator: ".", omittingEmptySubsequences: false)
            return zip(parts, parts.dropFirst()).contains { $0.count == 6 && $1.count == 16 }
        }
    }

    /// Kubernetes 1.30.4 → 1.30.5 with a bundle of the new stand-ins: the controller first (drained,
    /// `kubeadm upgrade apply`, kubelet restarted, uncordoned), then the worker (`kubeadm upgrade node`); the
    /// stand-ins refuse any other order. Going back to 1.30.4 is refused by plan, before anything runs.
    static func upgrade(_ project: Project, from old: StandInBundle) async throws {
        let names = ["kubeadm", "kubelet", "kubectl", "crictl", "cni-plugins"]
        let new = try StandInBundle(in: project.directory.appendingPathComponent("v1.30.5"), kubernetesVersion: "1.30.5")
        let before = try String(contentsOf: project.directory.appendingPathComponent("photon.yaml"), encoding: .utf8)
        let upgraded = before.replacingOccurrences(of: old.section(names), with: new.section(names))
            .replacingOccurrences(of: "settings: {", with: "settings: {version: 1.30.5, ")
        try project.write(upgraded)
        let planned = try await project.photon(["plan", "-f", "photon.yaml"], templates: templates)
        #expect(planned.stdout.contains("upgrade the control plane: run kubeadm upgrade apply v1.30.5 --yes"), "\(planned.stdout)")
        #expect(planned.stdout.contains("upgrade the node: run kubeadm upgrade node"), "\(planned.stdout)")
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: templates)
        #expect(applied.status == 0, "\(applied.stderr.suffix(3000))")
        let etcd =
            "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key"
        let log = try ssh(project, "10.245.0.2", "\(etcd) get --print-value-only /registry/photon-standin/upgrades")
        let steps = (try JSONSerialization.jsonObject(with: Data(log.utf8)) as? [[String: Any]] ?? []).map { "\($0["command"] ?? "") \($0["node"] ?? "")" }
        #expect(steps == ["apply kt-k-controllers-1", "node kt-k-workers-1"], "\(log)")
        // Every kubelet runs the new release (each says so in its node record), and every node is schedulable again.
        try await Task.sleep(for: .seconds(3))
        let records = try ssh(project, "10.245.0.2", "\(etcd) get --print-value-only --prefix /registry/minions/")
        let nodes = records.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(nodes.count == 2 && nodes.allSatisfy { $0["kubeletVersion"] as? String == "v1.30.5" && $0["unschedulable"] as? Bool == false }, "\(records)")
        #expect(try self.nodes(project) == ["kt-k-controllers-1 Ready", "kt-k-workers-1 Ready"])

        try project.write(upgraded.replacingOccurrences(of: "version: 1.30.5, ", with: "version: 1.30.4, "))
        let back = try await project.photon(["plan", "-f", "photon.yaml"], templates: templates)
        #expect(back.status == 1 && back.stderr.contains("1.30.4 is lower than 1.30.5"), "\(back.stderr)")
        try project.write(upgraded)
    }

    /// An etcd setting changed on the live cluster: the members restart one at a time, each serving again
    /// before the next stops. A poller on the controller asks every member's health every 0.1 s during the
    /// apply: at no moment are fewer than two of the three healthy.
    static func rollingRestart(_ project: Project) async throws {
        let client =
            "--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/apiserver-etcd-client.crt --key=/etc/kubernetes/pki/apiserver-etcd-client.key"
        let endpoints = "https://10.245.0.2:2379,https://10.245.0.3:2379,https://10.245.0.4:2379"
        let poll =
            "while [ ! -e /tmp/stop-poll ]; do ETCDCTL_API=3 etcdctl --endpoints=\(endpoints) \(client) --dial-timeout=500ms --command-timeout=1s endpoint health 2>&1; echo ---; sleep 0.1; done"
        _ = try ssh(project, "10.245.0.5", "rm -f /tmp/stop-poll; nohup sh -c \(ShellQuoting.quote(poll)) >/tmp/poll.log 2>&1 </dev/null &")
        let blueprint = try String(contentsOf: project.directory.appendingPathComponent("photon.yaml"), encoding: .utf8)
        try project.write(
            blueprint.replacingOccurrences(
                of: "roles: {etcd: 3, controllers: 1, workers: 1}",
                with: "roles: {etcd: 3, controllers: 1, workers: 1}\n    settings: {etcdHeartbeatInterval: 150, etcdElectionTimeout: 1500}"))
        let planned = try await project.photon(["plan", "-f", "photon.yaml"], templates: templates)
        #expect(planned.stdout.contains("0 machines to create, 3 to change") && planned.stdout.contains("service etcd restart"), "\(planned.stdout)")
        let rolled = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: templates)
        #expect(rolled.status == 0, "\(rolled.stderr.suffix(3000))")
        _ = try ssh(project, "10.245.0.5", "touch /tmp/stop-poll; sleep 1")
        let log = try ssh(project, "10.245.0.5", "cat /tmp/poll.log")
        let rounds = log.components(separatedBy: "---\n").filter { !$0.isEmpty }
        let healthy = rounds.map { round in round.split(separator: "\n").filter { $0.contains(" is healthy") }.count }
        #expect(
            rounds.count >= 3 && healthy.allSatisfy { $0 >= 2 },
            "healthy members per poll: \(healthy); \(rounds.first { $0.split(separator: "\n").filter { $0.contains(" is healthy") }.count < 2 } ?? "")")
        for address in ["10.245.0.2", "10.245.0.3", "10.245.0.4"] {
            #expect(try ssh(project, address, "ps -eo args").contains("--heartbeat-interval=150"), "\(address) runs etcd with the new setting")
        }
        #expect(try nodes(project) == ["kt-k-controllers-1 Ready", "kt-k-workers-1 Ready"])
    }

    /// Keys written into the cluster's etcd, backed up, deleted, restored and read back on every member;
    /// a backup whose file changed is refused.
    static func backupAndRestore(_ project: Project, tls: String) async throws {
        let etcd = "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 \(tls)"
        _ = try ssh(project, "10.245.0.2", "\(etcd) put /photon-backup/a one && \(etcd) put /photon-backup/b two")
        let backup = project.directory.appendingPathComponent("k.backup").path
        let saved = try await project.photon(["backup", "-f", "photon.yaml", "k", "-o", backup], templates: templates)
        #expect(saved.status == 0, "\(saved.stderr.suffix(2000))")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: backup + ".json"))) as? [String: Any] ?? [:]
        let digest = try HostCommand.runBlocking(["sha256sum", backup]).stdout.prefix(64)
        #expect(manifest["sha256"] as? String == String(digest) && manifest["kind"] as? String == "kubernetes" && manifest["version"] as? String == "1.30.4")
        #expect(try ssh(project, "10.245.0.2", "ls /var/lib/photon/backup/ 2>/dev/null; true").isEmpty, "the snapshot stays on the machine")

        _ = try ssh(project, "10.245.0.3", "\(etcd) del --prefix /photon-backup/ && \(etcd) put /photon-backup/c three")
        let restored = try await project.photon(["restore", "-f", "photon.yaml", "k", backup, "--yes"], templates: templates)
        #expect(restored.status == 0, "\(restored.stderr.suffix(3000))")
        for address in ["10.245.0.2", "10.245.0.3", "10.245.0.4"] {
            let keys = try ssh(project, address, "\(etcd) get --prefix --keys-only /photon-backup/").split(separator: "\n").map(String.init)
            #expect(keys == ["/photon-backup/a", "/photon-backup/b"], "\(address) after the restore: \(keys)")
        }
        let members = try ssh(project, "10.245.0.4", "\(etcd) member list")
        #expect(members.split(separator: "\n").filter { $0.contains(", started, ") }.count == 3, "\(members)")
        #expect(try nodes(project) == ["kt-k-controllers-1 Ready", "kt-k-workers-1 Ready"])

        // One byte changed: refused before anything is asked or touched.
        let damaged = project.directory.appendingPathComponent("damaged.backup").path
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: backup)))
        bytes[bytes.count / 2] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        try FileManager.default.copyItem(atPath: backup + ".json", toPath: damaged + ".json")
        let refused = try await project.photon(["restore", "-f", "photon.yaml", "k", damaged, "--yes"], templates: templates)
        #expect(refused.status == 1 && refused.stderr.contains("the file changed or is damaged"), "\(refused.stderr)")
    }

    @Test("apply forms a real 3-member etcd and a cluster whose nodes register in it; scale workers up by 2 and down by 1; destroy leaves nothing")
    func kubernetesLifecycle() async throws {
        let project = try Project()
        defer { project.remove(bridges: [Self.bridge]) }
        let bundle = try StandInBundle(in: project.directory)
        try project.write(
            """
            version: 1
            name: kt
            controlPlane:
              driver: local
              network: 10.245.0.0/24
            \(bundle.section(["kubeadm", "kubelet", "kubectl", "crictl", "cni-plugins"]))
            clusters:
              - name: k
                kind: kubernetes
                roles: {etcd: 3, controllers: 1, workers: 1}

            """)
        // No bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) on any command line while machines join: the watch
        // must see the token being created (from its 0600 file) and the joins.
        let watch = ProcessWatch(
            flag: Self.holdsBootstrapToken, proof: { $0.contains("kubeadm token create --config") || $0.contains("kubeadm join --config") })
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(applied.status == 0, "\(applied.stderr.suffix(2000))")

        // etcd's own tools, on every member, with the member's certificate: healthy, and three started members.
        let tls = "--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key"
        for address in ["10.245.0.2", "10.245.0.3", "10.245.0.4"] {
            let health = try Self.ssh(project, address, "etcdctl --endpoints=https://\(address):2379 \(tls) endpoint health 2>&1")
            #expect(health.contains("https://\(address):2379 is healthy"), "\(health)")
        }
        let members = try Self.ssh(project, "10.245.0.2", "etcdctl --endpoints=https://127.0.0.1:2379 \(tls) member list")
        #expect(members.split(separator: "\n").filter { $0.contains(", started, ") }.count == 3, "\(members)")
        // A pod on a worker (root in the worker) reaches the cluster's etcd but gets nothing from it: plain
        // HTTP is refused, TLS without a certificate of its authority fails the handshake. curl's exit code
        // shows the port answered (7 would be no connection, 28 a timeout); the HTTP code shows no success.
        for (what, command) in [
            ("plain HTTP", "curl -s -m 5 -o /dev/null -w '%{http_code}' http://10.245.0.2:2379/v3/kv/range -X POST -d '{\"key\":\"Lw==\"}'; echo \" $?\""),
            (
                "TLS without a certificate",
                "curl -sk -m 5 -o /dev/null -w '%{http_code}' https://10.245.0.2:2379/v3/kv/range -X POST -d '{\"key\":\"Lw==\"}'; echo \" $?\""
            ),
        ] {
            let answer = try Self.ssh(project, "10.245.0.6", command).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
            #expect(answer.count == 2 && !["7", "28"].contains(answer[1]), "\(what) from a worker did not reach etcd: \(answer)")
            #expect(answer.first.map { !$0.hasPrefix("2") } ?? false, "\(what) from a worker answered \(answer)")
        }
        #expect(
            try Self.ssh(project, "10.245.0.6", "ls /etc/kubernetes/pki/etcd /etc/kubernetes/pki/*etcd* 2>/dev/null; true").isEmpty,
            "a worker holds etcd credentials")
        #expect(try Self.nodes(project) == ["kt-k-controllers-1 Ready", "kt-k-workers-1 Ready"])

        // The admin kubeconfig, fetched over photon's SSH: 0600, the controller's API server, kubeadm's admin user.
        let kubeconfig = project.directory.appendingPathComponent("k.kubeconfig").path
        let fetched = try await project.photon(["kubeconfig", "-f", "photon.yaml", "k", "-o", kubeconfig], templates: Self.templates)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let mode = (try FileManager.default.attributesOfItem(atPath: kubeconfig)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600, "mode \(String(mode, radix: 8))")
        let config = try String(contentsOfFile: kubeconfig, encoding: .utf8)
        #expect(config.contains("server: https://10.245.0.5:6443") && config.contains("kubernetes-admin"), "\(config)")
        let access = try await project.photon(["access", "-f", "photon.yaml", "k", "--format", "json"], templates: Self.templates)
        #expect(try MesosEndToEndTests.endpointURLs(access.stdout) == ["API server": ["https://10.245.0.5:6443"]], "\(access.stdout)")

        try await Self.backupAndRestore(project, tls: tls)
        try await Self.rollingRestart(project)
        try await Self.upgrade(project, from: bundle)

        // Root on the controller (what a privileged pod amounts to) cannot reach the installer.
        try AttackFromMachine.check(project, deployment: "kt", address: "10.245.0.5")

        let before = SwarmEndToEndTests.sessions(project, deployment: "kt")
        let again = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(again.stdout.contains("No changes"), "\(again.stdout)")
        #expect(SwarmEndToEndTests.sessions(project, deployment: "kt") == before, "a no-op apply connects to no machine")

        let up = try await project.photon(["scale", "-f", "photon.yaml", "k", "workers=3", "--yes"], templates: Self.templates)
        #expect(up.status == 0, "\(up.stderr.suffix(2000))")
        #expect(try Self.nodes(project) == ["kt-k-controllers-1 Ready", "kt-k-workers-1 Ready", "kt-k-workers-2 Ready", "kt-k-workers-3 Ready"])
        let seen = watch.stop()
        #expect(seen.flagged == [], "a bootstrap token was on a command line")
        #expect(seen.proofs >= 2 && seen.scans > 100, "the watch saw \(seen.proofs) token creations and joins in \(seen.scans) scans")
        let down = try await project.photon(["scale", "-f", "photon.yaml", "k", "workers=2", "--yes"], templates: Self.templates)
        #expect(down.status == 0, "\(down.stderr.suffix(2000))")
        #expect(down.stdout.contains("kubectl --kubeconfig /etc/kubernetes/admin.conf drain kt-k-workers-3"), "drained first: \(down.stdout)")
        #expect(try Self.nodes(project) == ["kt-k-controllers-1 Ready", "kt-k-workers-1 Ready", "kt-k-workers-2 Ready"])

        let destroyed = try await project.photon(["destroy", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        #expect(HostBridges.leftover(Self.bridge) == nil, "no bridge left")
        #expect(HostProcesses.mentioning(project.directory.path) == [])
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(project.directory.path))
    }
}
