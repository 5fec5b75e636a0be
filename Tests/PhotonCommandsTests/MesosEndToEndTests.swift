import EngineTestSupport
import Foundation
import PhotonCore
import Testing

/// The shipped mesos kind on local machines. Real: the ZooKeeper ensemble (Debian zookeeper), and the
/// SSH, files and services photon pushes. Stand-ins (Tests/StandIns/mesos), brought by photon as a user's
/// builds would be, from a mirror on 127.0.0.1 started by the test: a Mesos tarball (mesos-master,
/// mesos-agent) and a Marathon tarball, which accept exactly the kind's command lines, elect and register
/// in that real ZooKeeper, and answer the kind's HTTP checks from it.
@Suite("Mesos end to end on local machines (real ZooKeeper; mesos-master, mesos-agent, Marathon stand-ins)", .serialized)
struct MesosEndToEndTests {
    typealias Project = LocalDriverCLITests.Project
    static let templates = CLIFixture.repository.appendingPathComponent("templates").path
    static let bridge = "ph0af60000-24"

    /// A ZooKeeper four-letter word's answer, asked over TCP from the host.
    static func fourLetters(_ word: String, _ address: String) throws -> String {
        try HostCommand.runBlocking(["/bin/bash", "-c", "exec 3<>/dev/tcp/$0/2181 && printf $1 >&3 && timeout 5 cat <&3", address, word]).stdout
    }

    static func agents() throws -> [String] {
        let result = try HostCommand.runBlocking([
            "python3", "-c",
            """
            import json, urllib.request
            slaves = json.loads(urllib.request.urlopen('http://10.246.0.5:5050/master/slaves', timeout=5).read())['slaves']
            print('\\n'.join(sorted(s['hostname'] for s in slaves)))
            """,
        ])
        guard result.succeeded else { throw FixtureError("/master/slaves: \(result.diagnostic)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    /// The cluster's name changed: the masters restart with it one at a time, the next only once they have
    /// a leader again. A poller on the installer asks every master every 0.1 s through the apply: at least
    /// two of the three answer at every moment.
    static func rollingRestart(_ project: Project) async throws {
        let stop = project.directory.appendingPathComponent("stop-poll").path
        let log = project.directory.appendingPathComponent("masters.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let poller = Process()
        poller.executableURL = URL(fileURLWithPath: "/bin/bash")
        poller.arguments = [
            "-c",
            "while [ ! -e \(stop) ]; do for a in 10.246.0.5 10.246.0.6 10.246.0.7; do curl -s -o /dev/null -m 1 -w \"$a %{http_code}\\n\" http://$a:5050/master/state; done; echo ---; sleep 0.1; done",
        ]
        poller.standardOutput = try FileHandle(forWritingTo: log)
        try poller.run()
        defer {
            FileManager.default.createFile(atPath: stop, contents: nil)
            poller.waitUntilExit()
        }
        let blueprint = try String(contentsOf: project.directory.appendingPathComponent("photon.yaml"), encoding: .utf8)
        try project.write(
            blueprint.replacingOccurrences(
                of: "roles: {zookeeper: 3, masters: 3, marathon: 1, agents: 1}",
                with: "roles: {zookeeper: 3, masters: 3, marathon: 1, agents: 1}\n    settings: {clusterName: renamed}"))
        let rolled = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: templates)
        #expect(rolled.status == 0, "\(rolled.stderr.suffix(3000))")
        FileManager.default.createFile(atPath: stop, contents: nil)
        poller.waitUntilExit()
        let rounds = try String(contentsOf: log, encoding: .utf8).components(separatedBy: "---\n").filter { $0.contains("10.246") }
        let answering = rounds.map { round in round.split(separator: "\n").filter { !$0.hasSuffix(" 000") }.count }
        #expect(rounds.count >= 3 && answering.allSatisfy { $0 >= 2 }, "masters answering per poll: \(answering)")
        let state = try HostCommand.runBlocking(["curl", "-sfL", "-m", "5", "http://10.246.0.5:5050/master/state"])
        #expect(state.stdout.contains("\"cluster\":\"renamed\""), "\(state.stdout)")
    }

    /// The top znodes as ZooKeeper's own client sees them on one member.
    static func topZnodes(_ address: String) throws -> [String] {
        let result = try HostCommand.runBlocking(["/usr/share/zookeeper/bin/zkCli.sh", "-server", "\(address):2181", "ls", "/"])
        guard let line = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("[") && $0.hasSuffix("]") }) else {
            throw FixtureError("zkCli ls / on \(address): \(result.diagnostic)")
        }
        return line.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// A znode written, backed up, deleted (another written), restored: every member serves the backup's tree.
    static func backupAndRestore(_ project: Project) async throws {
        let zkCli = "/usr/share/zookeeper/bin/zkCli.sh"
        _ = try HostCommand.runBlocking([zkCli, "-server", "10.246.0.2:2181", "create", "/photon-backup", "one"])
        #expect(try topZnodes("10.246.0.3").contains("photon-backup"))
        let backup = project.directory.appendingPathComponent("m.backup").path
        let saved = try await project.photon(["backup", "-f", "photon.yaml", "m", "-o", backup], templates: templates)
        #expect(saved.status == 0, "\(saved.stderr.suffix(2000))")
        #expect(saved.stdout.contains("ZooKeeper snapshot and logs of m (mesos"), "\(saved.stdout)")
        _ = try HostCommand.runBlocking([zkCli, "-server", "10.246.0.3:2181", "delete", "/photon-backup"])
        _ = try HostCommand.runBlocking([zkCli, "-server", "10.246.0.3:2181", "create", "/photon-after", "two"])
        #expect(!(try topZnodes("10.246.0.4").contains("photon-backup")))

        let restored = try await project.photon(["restore", "-f", "photon.yaml", "m", backup, "--yes"], templates: templates)
        #expect(restored.status == 0, "\(restored.stderr.suffix(3000))")
        var modes: [String] = []
        for address in ["10.246.0.2", "10.246.0.3", "10.246.0.4"] {
            let top = try topZnodes(address)
            #expect(top.contains("photon-backup") && !top.contains("photon-after"), "\(address) after the restore: \(top)")
            modes.append(try fourLetters("srvr", address).split(separator: "\n").first { $0.hasPrefix("Mode: ") }.map { String($0.dropFirst(6)) } ?? "none")
        }
        #expect(modes.sorted() == ["follower", "follower", "leader"], "\(modes)")
    }

    /// The URLs of `photon access --format json`, by endpoint name.
    static func endpointURLs(_ json: String) throws -> [String: [String]] {
        struct Cluster: Decodable {
            struct Endpoint: Decodable {
                var name: String
                var url: String
            }
            var endpoints: [Endpoint]
        }
        let clusters = try JSONDecoder().decode([Cluster].self, from: Data(json.utf8))
        var urls: [String: [String]] = [:]
        for endpoint in clusters.flatMap(\.endpoints) { urls[endpoint.name, default: []].append(endpoint.url) }
        return urls.mapValues { $0.sorted() }
    }

    @Test(
        "apply forms a real ZooKeeper ensemble (one leader, the rest followers), masters, Marathon and agents; scale agents up by 2 and down by 1; destroy leaves nothing"
    )
    func mesosLifecycle() async throws {
        let project = try Project()
        defer { project.remove(bridges: [Self.bridge]) }
        let bundle = try StandInBundle(in: project.directory)
        let mirror = try Mirror(serving: bundle.folder)
        defer { mirror.stop() }
        try project.write(
            """
            version: 1
            name: mt
            controlPlane:
              driver: local
              network: 10.246.0.0/24
            \(bundle.section(["mesos", "marathon"], from: mirror.url))
            clusters:
              - name: m
                kind: mesos
                roles: {zookeeper: 3, masters: 3, marathon: 1, agents: 1}

            """)
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(applied.status == 0, "\(applied.stderr.suffix(2000))")

        // ZooKeeper's own words: one leader, two followers, all serving the same ensemble.
        var modes: [String] = []
        for address in ["10.246.0.2", "10.246.0.3", "10.246.0.4"] {
            let mntr = try Self.fourLetters("mntr", address)
            modes.append(mntr.split(separator: "\n").first { $0.hasPrefix("zk_server_state") }.map { String($0.split(separator: "\t").last ?? "") } ?? "none")
            #expect(try Self.fourLetters("srvr", address).contains("Mode: \(modes.last!)"))
        }
        #expect(modes.sorted() == ["follower", "follower", "leader"], "\(modes)")
        #expect(try Self.agents() == ["10.246.0.9"])

        // photon access names every master and Marathon; each URL answers from the installer.
        let access = try await project.photon(["access", "-f", "photon.yaml", "m", "--format", "json"], templates: Self.templates)
        #expect(access.status == 0, "\(access.stderr)")
        let urls = try Self.endpointURLs(access.stdout)
        #expect(urls.keys.sorted() == ["Marathon", "Mesos master"], "\(access.stdout)")
        #expect(urls["Mesos master"] == ["http://10.246.0.5:5050", "http://10.246.0.6:5050", "http://10.246.0.7:5050"], "\(access.stdout)")
        let pages: [String] = (urls["Mesos master"] ?? []).map { $0 + "/master/state" } + (urls["Marathon"] ?? []).map { $0 + "/v2/info" }
        for url in pages {
            let answer = try HostCommand.runBlocking(["curl", "-sf", "-m", "5", "-L", url])
            #expect(answer.succeeded && answer.stdout.contains("version"), "\(url): \(answer.diagnostic)")
        }

        // Root on an agent (what a Marathon task can reach) cannot reach the installer.
        try AttackFromMachine.check(project, deployment: "mt", address: "10.246.0.9")

        let before = SwarmEndToEndTests.sessions(project, deployment: "mt")
        let again = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(again.stdout.contains("No changes"), "\(again.stdout)")
        #expect(SwarmEndToEndTests.sessions(project, deployment: "mt") == before, "a no-op apply connects to no machine")

        let up = try await project.photon(["scale", "-f", "photon.yaml", "m", "agents=3", "--yes"], templates: Self.templates)
        #expect(up.status == 0, "\(up.stderr.suffix(2000))")
        #expect(try Self.agents() == ["10.246.0.10", "10.246.0.11", "10.246.0.9"])
        let down = try await project.photon(["scale", "-f", "photon.yaml", "m", "agents=2", "--yes"], templates: Self.templates)
        #expect(down.status == 0, "\(down.stderr.suffix(2000))")
        #expect(down.stdout.contains("maintenance window and machine down"), "drained through Mesos maintenance first: \(down.stdout)")
        #expect(try Self.agents() == ["10.246.0.10", "10.246.0.9"])

        let quorum = try await project.photon(["scale", "-f", "photon.yaml", "m", "masters=5", "--dry-run"], templates: Self.templates)
        #expect(quorum.status != 0 && quorum.stderr.contains("changes their quorum"), "\(quorum.stderr)")

        try await Self.rollingRestart(project)
        try await Self.backupAndRestore(project)

        let destroyed = try await project.photon(["destroy", "-f", "photon.yaml", "--yes"], templates: Self.templates)
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        // Each file came from the mirror once, whole: the scale's new agents got theirs from the installer's cache.
        #expect(
            mirror.requests.sorted() == ["GET /amd64/marathon-linux-amd64.tgz - 200", "GET /amd64/mesos-1.11.0-linux-amd64.tar.gz - 200"],
            "\(mirror.requests)")
        mirror.stop()
        #expect(HostBridges.leftover(Self.bridge) == nil, "no bridge left")
        #expect(HostProcesses.mentioning(project.directory.path) == [])
    }
}
