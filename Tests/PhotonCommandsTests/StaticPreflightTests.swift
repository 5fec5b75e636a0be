import Drivers
import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCore
import SSH
import Testing

/// Preflight of static machines: real machines (LXC, made here and handed over as "static"), asked over
/// SSH for their role's requirements before anything runs on any of them.
@Suite("Preflight of static machines", .serialized)
struct StaticPreflightTests {
    static let needyKind = """
        kind: needy
        description: a kind whose requirements the machines partly meet
        requires:
          - command: photon-missing-tool
            help: install photon-missing-tool
          - command: sh
            version: {args: [-c, "echo shell 1.0"], pattern: "^shell 2\\\\."}
            help: a newer shell
          - file: /etc/hostname
          - module: photon_no_such_module
            roles: [servers]
          - memory: 100000000MiB
            help: a bigger machine
          - port: 22
          - port: 7070
        roles:
          - name: servers
            count: {min: 1, max: 20, default: 2}
            configure:
              - run: [install, -d, /srv/needy]
        """

    @Test(
        "apply asks every new static machine for its role's requirements first, reports each missing one once with every machine that lacks it, and changes nothing"
    )
    func refused() async throws {
        let project = try LocalDriverCLITests.Project()
        let kind = project.directory.appendingPathComponent("templates/needy")
        try FileManager.default.createDirectory(at: kind, withIntermediateDirectories: true)
        try Data((Self.needyKind + "\n").utf8).write(to: kind.appendingPathComponent("kind.yaml"))
        let hosts = try StaticHosts(in: project, subnet: "10.239.0", comment: "photon-preflight-test")
        defer { project.remove(bridges: [hosts.bridge]) }
        let made = try await hosts.make(2)
        try project.write(
            """
            version: 1
            name: onprem
            controlPlane:
              driver: static
              machines:
                - address: 10.239.0.11
                  hostKey: "\(made[0].hostKeyFingerprint!)"
                - address: 10.239.0.12
                  hostKey: "\(made[1].hostKeyFingerprint!)"
            ssh:
              key: file:id_ed25519
            clusters:
              - name: edge
                kind: needy
                roles:
                  servers: 2

            """)
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"])
        #expect(applied.status != 0)
        let errors = applied.stderr.split(separator: "\n").filter { $0.contains(": error: ") }.map(String.init)
        let both = "onprem-edge-servers-1 (10.239.0.11), onprem-edge-servers-2 (10.239.0.12) of cluster edge"
        #expect(
            errors.map { $0.components(separatedBy: ": error: ").last ?? "" } == [
                "kind needy needs photon-missing-tool on PATH on \(both)",
                "kind needy needs sh on PATH, its version matching ^shell 2\\. on \(both) (found: shell 1.0)",
                "kind needy needs kernel module photon_no_such_module on \(both)",
                "kind needy needs 100000000 MiB of memory on \(both) (found: \(try Self.memory(made[0])) MiB)",
                "kind needy needs TCP port 22 free on \(both) (found: in use)",
            ], "\(applied.stderr)")
        #expect(applied.stderr.contains("help: install photon-missing-tool"))
        #expect(applied.stderr.contains("help: a bigger machine"))
        for machine in made {
            let connection = try await SSHConnection.open(
                host: machine.address, user: "root", credentials: .privateKey(hosts.key.privateKey, passphrase: nil),
                expectedFingerprint: machine.hostKeyFingerprint!)
            let left = try await connection.execute("test -e /srv/needy && echo configured; true")
            await connection.close()
            #expect(left.stdout.isEmpty, "nothing ran on \(machine.name)")
        }
    }

    static func memory(_ machine: MachineHandle) throws -> String {
        let text = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        _ = machine
        let kib = text.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return String(kib / 1024)
    }
}
