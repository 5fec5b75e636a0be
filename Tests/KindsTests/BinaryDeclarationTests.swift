import Foundation
import Kinds
import PhotonCore
import Testing

@Suite("Binaries a kind brings")
struct BinaryDeclarationTests {
    static let good = """
        kind: demo
        settings:
          version: {type: version, default: 1.2.3}
        binaries:
          tool:
            url: https://example.org/v{version}/{arch}/tool
            sha256:
              1.2.3: {amd64: \(String(repeating: "a", count: 64)), arm64: \(String(repeating: "b", count: 64))}
          bundle:
            url: https://example.org/bundle-{version}-{arch}.tar.gz
            sha256:
              1.2.3: {release: 0.9.0, amd64: \(String(repeating: "c", count: 64))}
        roles:
          - name: nodes
            count: {min: 1}
            configure:
              - binary: tool
                path: /usr/local/bin/tool
              - binary: bundle
                unpack: /opt/bundle
                strip: 1
        """

    @Test("declared binaries keep their URL, releases and digests; an archive step becomes an upload and an unpack guarded by a stamp")
    func declared() throws {
        try withKindFolder(yaml: Self.good) { folder in
            let kind = try KindLoader.load(folder: folder, name: "demo")
            let tool = try #require(kind.binaries["tool"])
            #expect(tool.fileName(release: "1.2.3", arch: "amd64") == "tool")
            #expect(kind.binaries["bundle"]?.releases["1.2.3"]?.release == "0.9.0")
            #expect(kind.binaries["bundle"]?.fileName(release: "0.9.0", arch: "amd64") == "bundle-0.9.0-amd64.tar.gz")
            let steps = try #require(kind.role("nodes")?.steps(in: .configure))
            #expect(steps.count == 3)
            guard case .binary("tool", let path, 0o755) = steps[0].action, case .binary("bundle", let archive, 0o600) = steps[1].action,
                case .run(let unpack) = steps[2].action
            else {
                Issue.record("steps: \(steps.map(\.action))")
                return
            }
            #expect(path.constantText == "/usr/local/bin/tool" && archive.constantText == "/var/lib/photon/binaries/bundle.tar.gz")
            #expect(unpack.compactMap(\.constantText).suffix(4) == ["/var/lib/photon/binaries/bundle.tar.gz", "/opt/bundle", "1", "bundle"])
            #expect(steps[2].unless != nil && steps[2].name == "unpack bundle")
        }
    }

    @Test("every mistake in binaries and binary steps is reported where it is, with what is allowed")
    func mistakes() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            binaries:
              tool:
                url: ftp://example.org/{version}/{os}/tool
                sha256:
                  1.0.0: {amd64: 1234, sparc: \(String(repeating: "a", count: 64))}
              ../evil:
                url: https://example.org/x
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - binary: tol
                    path: /usr/local/bin/tool
                  - binary: tool
                    path: /usr/local/bin/tool
                    unpack: /opt
            """)
        #expect(
            diagnostics == [
                "kind.yaml:3:3: a kind with binaries needs a 'version' setting of type version: it picks their release",
                "kind.yaml:4:10: binary tool: the url must start with https:// or http://",
                "kind.yaml:6:7: binary tool 1.0.0 has no digest",
                "kind.yaml:6:22: binary tool 1.0.0 amd64: a SHA-256 is 64 lowercase hex digits",
                "kind.yaml:6:28: binary tool 1.0.0: 'sparc' is not an architecture [help: architectures are amd64, arm64; 'release' names the file's own version]",
                "kind.yaml:7:3: binary name '../evil' must be letters, digits, '.', '_' and '-'",
                "kind.yaml:13:17: binary 'tol' is not declared under binaries: [help: did you mean 'tool'?]",
                "kind.yaml:17:17: a binary step has 'path' or 'unpack', not both",
            ], "\(diagnostics)")
    }

    @Test("the shipped kubernetes kind pins every file it brings for its default version on amd64 and arm64")
    func shippedKubernetes() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let kind = try KindLoader.load(folder: repository.appendingPathComponent("templates/kubernetes").path, name: "kubernetes")
        let version = kind.setting("version")?.defaultValue?.description ?? ""
        #expect(Set(kind.binaries.keys) == ["kubeadm", "kubelet", "kubectl", "crictl", "cni-plugins"])
        for binary in kind.binaries.values {
            #expect(binary.releases[version]?.sha256.keys.sorted() == ["amd64", "arm64"], "\(binary.name)")
            #expect(binary.url?.hasPrefix("https://") == true)
        }
    }
}

@Suite("Requirements a kind declares")
struct RequirementTests {
    @Test("each requirement has one check; names, paths, sizes, ports and roles are checked where they are written")
    func mistakes() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            requires:
              - command: "rm -rf /"
              - file: relative/path
              - memory: lots
              - port: 70000
              - module: ok_mod
                roles: [nodez]
              - command: a
                module: b
              - command: fine
                version: {args: [--version], pattern: "^fine 1\\\\."}
                help: install fine
            roles:
              - name: nodes
                count: {min: 1}
            """)
        #expect(
            diagnostics == [
                "kind.yaml:3:14: command 'rm -rf /' must be a program name (letters, digits, '.', '_', '+', '-')",
                "kind.yaml:4:11: file must be an absolute path",
                "kind.yaml:5:13: expected a size (like 1700MiB or 2GiB) for requires[2].memory, found 'lots'",
                "kind.yaml:6:11: requires[3].port must be between 1 and 65535, found 70000",
                "kind.yaml:8:13: requirement names role 'nodez', which the kind does not have [help: did you mean 'nodes'?]",
                "kind.yaml:9:5: a requirement has one of 'command', 'file', 'module', 'memory', 'port'",
            ], "\(diagnostics)")
    }

    @Test("the shipped kinds declare what their machines need")
    func shipped() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let catalog = try KindCatalog.load(directory: repository.appendingPathComponent("templates").path)
        let expected = [
            "swarm": ["dockerd on PATH, its version matching Docker version (1[7-9]|[2-9][0-9])\\.", "docker on PATH"],
            "kubernetes": ["etcd on PATH", "containerd on PATH, its version matching  v?(1\\.([6-9]|[1-9][0-9])|[2-9])\\.", "1700 MiB of memory"],
            "mesos": ["java on PATH", "/usr/share/zookeeper/bin/zkServer.sh", "TCP port 5050 free"],
            "management": ["etcd on PATH", "haproxy on PATH"],
        ]
        for (kind, wanted) in expected {
            let declared = catalog.kinds[kind]?.requirements.map(\.expectation) ?? []
            for item in wanted { #expect(declared.contains(item), "\(kind): \(declared)") }
        }
    }
}
