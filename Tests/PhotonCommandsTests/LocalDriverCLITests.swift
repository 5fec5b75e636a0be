import Drivers
import Engine
import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCore
import SSH
import Testing

/// `photon apply`, `status` and `destroy` of the real binary on real LXC machines, with a small kind
/// whose servers answer HTTP: the drivers wired into the commands end to end.
@Suite("photon on local and static machines", .serialized)
struct LocalDriverCLITests {
    /// A kind that needs nothing beyond what the host has: python3 serving a rendered page.
    static let probeKind = """
        kind: probe
        description: machines that serve a page over HTTP, for the drivers' end-to-end tests
        settings:
          port: {type: port, default: 7070}
        roles:
          - name: servers
            count: {min: 1, max: 20, default: 2}
            configure:
              - upload: index.html
                path: /srv/probe/index.html
              - service: probe
                action: restart
                exec: [python3, -m, http.server, --directory, /srv/probe, "{{settings.port}}"]
            health:
              - wait: {port: "{{settings.port}}"}
            remove:
              - service: probe
                action: stop
                exec: [python3, -m, http.server, --directory, /srv/probe, "{{settings.port}}"]
              - run: [rm, -rf, /srv/probe]
        """

    /// A project folder with the probe kind, cleaned up (machines, bridge, files) by `remove`.
    struct Project {
        let directory: URL
        var templates: String { directory.appendingPathComponent("templates").path }

        init() throws {
            directory = URL(fileURLWithPath: "/var/tmp/photon-cli-\(UUID().uuidString.prefix(8))")
            let kind = directory.appendingPathComponent("templates/probe")
            try FileManager.default.createDirectory(at: kind, withIntermediateDirectories: true)
            try Data((LocalDriverCLITests.probeKind + "\n").utf8).write(to: kind.appendingPathComponent("kind.yaml"))
            try Data("<p>{{machine.name}} of {{cluster.name}}</p>\n".utf8).write(to: kind.appendingPathComponent("index.html.mustache"))
        }

        func write(_ blueprint: String) throws {
            try Data(blueprint.utf8).write(to: directory.appendingPathComponent("photon.yaml"))
        }

        func photon(_ arguments: [String], templates: String? = nil) async throws -> CLIFixture.Result {
            try await CLIFixture.run(
                arguments + ["--templates", templates ?? self.templates], environment: ["PATH": "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"],
                directory: directory)
        }

        /// Stops whatever LXC machines the project still has and removes their bridge and files.
        func remove(bridges: [String]) {
            // A management plane's agent that a failed test left running (photon started it for this project).
            for line in HostProcesses.mentioning(directory.path) where line.contains(" agent ") {
                if let pid = Int32(line.prefix { $0 != ":" }) { kill(pid, SIGKILL) }
            }
            let enumerator = FileManager.default.enumerator(atPath: directory.path)
            var lxcPaths = Set<String>()
            while let entry = enumerator?.nextObject() as? String {
                // Machines of the deployment, and the "static" hosts a test made itself under hosts/.
                if entry.hasSuffix("/config"), entry.contains("/machines/") || entry.hasPrefix("hosts/") {
                    let machine = directory.appendingPathComponent(entry).deletingLastPathComponent()
                    lxcPaths.insert(machine.deletingLastPathComponent().path)
                    _ = try? HostCommand.runBlocking(["lxc-stop", "-P", machine.deletingLastPathComponent().path, "-n", machine.lastPathComponent, "-k"])
                }
            }
            for bridge in bridges where FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
                _ = try? HostCommand.runBlocking(["ip", "link", "del", bridge])
            }
            try? FileManager.default.removeItem(at: directory)
            for path in lxcPaths {
                var lock = "/run/lxc/lock" + path
                try? FileManager.default.removeItem(atPath: lock)
                lock = (lock as NSString).deletingLastPathComponent
                while lock.count > "/run/lxc/lock".count, rmdir(lock) == 0 { lock = (lock as NSString).deletingLastPathComponent }
            }
        }
    }

    static func page(_ address: String, port: Int = 7070) throws -> String {
        let result = try HostCommand.runBlocking([
            "python3", "-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://\(address):\(port)/', timeout=5).read().decode())",
        ])
        return result.succeeded ? result.stdout : "error: \(result.diagnostic)"
    }

    @Test("apply makes LXC machines and configures them over SSH; a second apply changes nothing; destroy leaves nothing")
    func localApplyAndDestroy() async throws {
        let project = try Project()
        defer { project.remove(bridges: ["ph0aed0000-24"]) }
        try project.write(
            """
            version: 1
            name: trial
            controlPlane:
              driver: local
              network: 10.237.0.0/24
            clusters:
              - name: web
                kind: probe
                roles:
                  servers: 3

            """)
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"])
        #expect(applied.status == 0, "\(applied.stderr)")
        for (index, address) in ["10.237.0.2", "10.237.0.3", "10.237.0.4"].enumerated() {
            #expect(try Self.page(address) == "<p>trial-web-servers-\(index + 1) of web</p>\n")
        }
        let again = try await project.photon(["apply", "-f", "photon.yaml", "--yes"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("No changes"), "\(again.stdout)")
        let status = try await project.photon(["status", "-f", "photon.yaml"])
        #expect(status.stdout.contains("trial-web-servers-3  10.237.0.4  ready"), "\(status.stdout)")

        // The machines cannot read the deployment's private key (the state directory is hidden).
        let key = try String(contentsOf: project.directory.appendingPathComponent(".photon/trial/id_ed25519"), encoding: .utf8)
        #expect(key.contains("PRIVATE KEY"))
        let machines = project.directory.appendingPathComponent(".photon/trial/machines").path
        let hostKey = try String(contentsOfFile: machines + "/trial-web-servers-1/upper/etc/ssh/ssh_host_ed25519_key.pub", encoding: .utf8)
        let knownHosts = project.directory.appendingPathComponent("known_hosts")
        try Data("10.237.0.2 \(hostKey)".utf8).write(to: knownHosts)
        let keyFile = project.directory.appendingPathComponent(".photon/trial/id_ed25519").path
        let look = try HostCommand.runBlocking([
            "ssh", "-i", keyFile, "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(knownHosts.path)",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@10.237.0.2",
            "cat \(keyFile) 2>/dev/null; echo masked; test -e \(project.directory.path)/.photon || echo absent",
        ])
        #expect(look.succeeded, "\(look.stderr)")
        #expect(look.stdout == "masked\nabsent\n", "the state directory does not exist inside: \(look.stdout)")

        let destroyed = try await project.photon(["destroy", "-f", "photon.yaml", "--yes"])
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.directory.appendingPathComponent(".photon/trial").path))
        #expect(HostBridges.leftover("ph0aed0000-24") == nil, "no bridge left")
        #expect(!FileManager.default.fileExists(atPath: "/run/lxc/lock" + machines))
        #expect(HostProcesses.mentioning(project.directory.path) == [])
        #expect(try HostCommand.runBlocking(["ip", "-br", "link"]).stdout.split(separator: "\n").filter { $0.hasPrefix("pv0aed00") } == [])
    }

    @Test("static machines are checked against their pinned keys, configured, and reset (not deleted) by destroy")
    func staticApplyAndDestroy() async throws {
        let project = try Project()
        let hosts = try StaticHosts(in: project, subnet: "10.238.0", comment: "photon-static-test")
        defer { project.remove(bridges: [hosts.bridge]) }
        let made = try await hosts.make(2)
        let hostKeys = try made.map { try String(contentsOfFile: "\(hosts.directory)/\($0.name)/upper/etc/ssh/ssh_host_ed25519_key.pub", encoding: .utf8) }
        try project.write(
            """
            version: 1
            name: onprem
            controlPlane:
              driver: static
              machines:
                - address: 10.238.0.11
                  hostKey: "\(hostKeys[0].trimmingCharacters(in: .whitespacesAndNewlines))"
                - address: 10.238.0.12
                  hostKey: "\(made[1].hostKeyFingerprint!)"
            ssh:
              key: file:id_ed25519
            clusters:
              - name: edge
                kind: probe
                roles:
                  servers: 2

            """)
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try Self.page("10.238.0.11") == "<p>onprem-edge-servers-1 of edge</p>\n")
        #expect(try Self.page("10.238.0.12") == "<p>onprem-edge-servers-2 of edge</p>\n")

        // photon ssh reaches each machine trusting only the key pinned for it (a whole key, a fingerprint);
        // every argument after -- arrives whole, and the remote exit status is photon's.
        for (offset, machine) in made.enumerated() {
            let ran = try await project.photon([
                "ssh", "-f", "photon.yaml", "edge-servers-\(offset + 1)", "--", "sh", "-c", "hostname; echo \"$1\"", "sh", "a b; $(id)",
            ])
            #expect(ran.status == 0 && ran.stdout == "\(machine.name)\na b; $(id)\n", "\(ran.stdout) \(ran.stderr)")
        }
        let exited = try await project.photon(["ssh", "-f", "photon.yaml", "onprem-edge-servers-2", "--", "sh", "-c", "exit 3"])
        #expect(exited.status == 3, "\(exited.status) \(exited.stderr)")
        let unknown = try await project.photon(["ssh", "-f", "photon.yaml", "edge-srvers-1", "--", "true"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no machine 'edge-srvers-1'") && unknown.stderr.contains("did you mean"), "\(unknown.stderr)")

        let destroyed = try await project.photon(["destroy", "-f", "photon.yaml", "--yes"])
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        #expect(destroyed.stdout.contains("rm -rf /srv/probe"), "destroy resets the machines: \(destroyed.stdout)")
        for machine in made {
            let connection = try await SSHConnection.open(
                host: machine.address, user: "root", credentials: .privateKey(hosts.key.privateKey, passphrase: nil),
                expectedFingerprint: machine.hostKeyFingerprint!)
            let left = try await connection.execute("hostname; test -e /srv/probe && echo left-behind; true")
            await connection.close()
            #expect(left.stdout == machine.name + "\n", "the machine stays, reset")
        }

        // A machine that presents another key is refused before anything runs on it.
        try project.write(
            """
            version: 1
            name: onprem
            controlPlane:
              driver: static
              machines:
                - address: 10.238.0.11
                  hostKey: "\(made[1].hostKeyFingerprint!)"
            ssh:
              key: file:id_ed25519
            clusters:
              - name: edge
                kind: probe
                roles:
                  servers: 1

            """)
        let refused = try await project.photon(["apply", "-f", "photon.yaml", "--yes"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("photon.yaml:6:7"), "\(refused.stderr)")
        #expect(refused.stderr.contains(made[0].hostKeyFingerprint!), "names the key the machine presented: \(refused.stderr)")
        for machine in made { try await hosts.driver.delete(name: machine.name) }
    }

    @Test("a changed template reaches exactly the machines that use it and restarts only the service that reads it")
    func templateChange() async throws {
        let project = try Project()
        defer { project.remove(bridges: ["ph0aee0000-24"]) }
        let kind = project.directory.appendingPathComponent("templates/duo")
        try FileManager.default.createDirectory(at: kind, withIntermediateDirectories: true)
        let serve = { (name: String, port: Int, folder: String) in
            "      - service: \(name)\n        action: restart\n        exec: [python3, -m, http.server, --directory, \(folder), \"\(port)\"]\n"
        }
        try Data(
            ("""
            kind: duo
            description: two roles, one with two services
            roles:
              - name: web
                count: {min: 1, max: 5, default: 2}
                configure:
                  - upload: page.html
                    path: /srv/web/index.html
            """ + "\n" + serve("web", 7071, "/srv/web") + """
                      - upload: metrics.txt
                        path: /srv/metrics/index.html
                """ + "\n" + serve("metrics", 7072, "/srv/metrics") + """
                      - name: api
                        count: {min: 1, max: 5, default: 1}
                        configure:
                          - upload: api.json
                            path: /srv/api/index.html
                    """ + "\n" + serve("api", 7073, "/srv/api")).utf8
        ).write(to: kind.appendingPathComponent("kind.yaml"))
        try Data("page v1 of {{machine.name}}\n".utf8).write(to: kind.appendingPathComponent("page.html.mustache"))
        try Data("metrics of {{machine.name}}\n".utf8).write(to: kind.appendingPathComponent("metrics.txt.mustache"))
        try Data("{\"api\": \"{{machine.name}}\"}\n".utf8).write(to: kind.appendingPathComponent("api.json.mustache"))
        try project.write(
            """
            version: 1
            name: duo
            controlPlane:
              driver: local
              network: 10.238.0.0/24
            clusters:
              - name: c
                kind: duo
                roles: {web: 2, api: 1}

            """)
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"])
        #expect(applied.status == 0, "\(applied.stderr)")
        let machines = project.directory.appendingPathComponent(".photon/duo/machines").path
        func sessions(_ machine: String) -> Int {
            ((try? String(contentsOfFile: "\(machines)/\(machine)/upper/var/log/sshd.log", encoding: .utf8)) ?? "").components(
                separatedBy: "Accepted publickey"
            ).count - 1
        }
        // /run is a tmpfs inside the machine: read the pid files through the machine's own view.
        func livePID(_ address: String, _ service: String) throws -> String {
            let state = project.directory.appendingPathComponent(".photon/duo").path
            let result = try HostCommand.runBlocking([
                "ssh", "-i", state + "/id_ed25519", "-o", "StrictHostKeyChecking=yes",
                "-o", "UserKnownHostsFile=\(machines)/known_hosts", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                "root@\(address)", "cat /run/photon/\(service).pid",
            ])
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let webBefore = try livePID("10.238.0.2", "web"), metricsBefore = try livePID("10.238.0.2", "metrics")
        let apiSessions = sessions("duo-c-api-1")
        try Data("page v2 of {{machine.name}}\n".utf8).write(to: kind.appendingPathComponent("page.html.mustache"))
        let changed = try await project.photon(["apply", "-f", "photon.yaml", "--yes"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.stdout.contains("Plan: 0 machines to create, 2 to change, 0 to delete, 1 unchanged; 4 actions."), "\(changed.stdout)")
        #expect(try Self.page("10.238.0.2", port: 7071) == "page v2 of duo-c-web-1\n")
        #expect(try Self.page("10.238.0.3", port: 7071) == "page v2 of duo-c-web-2\n")
        #expect(try livePID("10.238.0.2", "web") != webBefore, "the web service restarted")
        #expect(try livePID("10.238.0.2", "metrics") == metricsBefore, "the metrics service, which reads nothing that changed, did not")
        #expect(sessions("duo-c-api-1") == apiSessions, "the api machine was not touched")
        #expect(try await project.photon(["destroy", "-f", "photon.yaml", "--yes"]).status == 0)
    }
}
