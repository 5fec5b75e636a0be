import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import Testing

@Suite("Preflight")
struct PreflightTests {
    static let kindYAML = """
        kind: needy
        settings: {}
        requires:
          - command: tool
            help: install tool
          - command: versioned
            version: {args: [--version], pattern: "^versioned 2\\\\."}
          - file: /etc/needy.conf
            roles: [servers]
          - module: needy_mod
          - memory: 2GiB
            roles: [big]
          - port: 80
        roles:
          - name: servers
            count: {min: 0, default: 1}
          - name: big
            count: {min: 0, default: 1}
        """

    static func resolved(layers: String = "", big: Int = 1) throws -> ResolvedDeployment {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photon-preflight-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("needy"), withIntermediateDirectories: true)
        try Data(kindYAML.utf8).write(to: root.appendingPathComponent("needy/kind.yaml"))
        do {
            let catalog = try KindCatalog.load(directory: root.path)
            let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:], baseDirectory: "/tmp", directoryExists: { _ in true }))
                .load(
                    bytes: Array(
                        """
                        name: p
                        controlPlane: {driver: local, network: 10.213.0.0/24\(layers)}
                        clusters:
                          - name: c
                            kind: needy
                            roles: {servers: 1, big: {count: \(big), flavor: small}}
                        """.utf8), file: "bp.yaml")
            return try Resolver(catalog: catalog, secrets: SecretSource(environment: [:])).resolve(blueprint)
        }
    }

    static func host(files: Set<String>, versionOutput: String = "versioned 2.1", filesystems: Set<String> = []) -> Preflight.HostView {
        Preflight.HostView(exists: { files.contains($0) }, output: { _ in versionOutput }, filesystems: { filesystems })
    }

    @Test("local machines: each missing program, file, module and too-small flavor is one error at the cluster, with its help; ports are the machines' own")
    func localProblems() throws {
        let problems = Preflight.local(try Self.resolved(), layers: [], host: Self.host(files: ["/usr/bin/versioned"], versionOutput: "versioned 1.9"))
        #expect(
            problems.map(\.message) == [
                "kind needy needs tool on PATH on the machines of servers, big of cluster c",
                "kind needy needs versioned on PATH, its version matching ^versioned 2\\. on the machines of servers, big of cluster c (found: versioned 1.9)",
                "kind needy needs /etc/needy.conf on the machines of servers of cluster c",
                "kind needy needs kernel module needy_mod on the machines of servers, big of cluster c",
                "kind needy needs 2048 MiB of memory on the machines of big of cluster c (found: big: small, 1GiB)",
            ])
        #expect(problems.allSatisfy { $0.location?.line == 4 })
        #expect(problems[0].help == "install tool; local machines see this host's programs and the blueprint's layers (controlPlane.layers)")
        #expect(problems[3].help?.contains("modprobe needy_mod here") == true)
    }

    @Test("what a layer has counts, a module may be built in, and a role with no machine needs nothing")
    func localSatisfied() throws {
        let resolved = try Self.resolved(layers: ", layers: [/opt/layer]", big: 0)
        let host = Self.host(
            files: ["/opt/layer/usr/local/bin/tool", "/usr/bin/versioned", "/opt/layer/etc/needy.conf"], filesystems: ["needy_mod"])
        #expect(Preflight.local(resolved, layers: ["/opt/layer"], host: host).map(\.message) == [])
    }

    @Test("the machine script quotes every name, changes nothing, and its output names each failure by index")
    func script() throws {
        let resolved = try Self.resolved()
        let requirements = resolved.groups[0].kind.requirements
        let script = Preflight.script(requirements)
        #expect(script.contains("command -v tool") && script.contains("grep -Eq '^versioned 2\\.'"))
        #expect(script.contains("[ -e /etc/needy.conf ]") && script.contains("\"0050\""), "port 80 in /proc/net/tcp's hex")
        let result = try HostCommand.runBlocking(["sh", "-c", script])
        #expect(result.succeeded)
        let failures = Preflight.failures(in: result.stdout)
        #expect(failures.map(\.index).contains(0) && failures.map(\.index).contains(3), "\(result.stdout)")
        #expect(Preflight.failures(in: "missing 4 12 MiB\nnoise\nmissing x y").map { "\($0.index) \($0.detail)" } == ["4 12 MiB"])
    }
}
