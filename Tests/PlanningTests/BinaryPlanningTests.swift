import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import Testing

@Suite("Binaries in plans")
struct BinaryPlanningTests {
    static func kubernetes(_ extra: String = "", version: String = "1.30.4") -> String {
        """
        name: kb
        controlPlane: {driver: local, network: 10.213.0.0/24}
        clusters:
          - name: k
            kind: kubernetes
            roles: {etcd: 1, controllers: 1, workers: 1}
            settings: {version: \(version)}
        \(extra)
        """
    }

    static func supply(_ blueprint: Blueprint) -> BinarySupply {
        BinarySupply(sources: blueprint.binaries, cacheDirectory: "/var/cache/photon", arch: "amd64")
    }

    static func resolved(_ text: String) throws -> (Blueprint, ResolvedDeployment) {
        let blueprint = try PlannerTests.blueprint(text)
        let resolved = try Resolver(catalog: PlannerTests.catalog, secrets: SecretSource(environment: [:])).resolve(blueprint)
        return (blueprint, resolved)
    }

    @Test("by default every file comes from upstream with the kind's digest, and the plan uploads it from the cache under that digest")
    func upstream() throws {
        let (blueprint, resolved) = try Self.resolved(Self.kubernetes())
        let files = try Self.supply(blueprint).files(for: resolved, catalog: PlannerTests.catalog)
        #expect(
            files.map(\.source) == [
                "https://github.com/containernetworking/plugins/releases/download/v1.4.0/cni-plugins-linux-amd64-v1.4.0.tgz",
                "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.30.0/crictl-v1.30.0-linux-amd64.tar.gz",
                "https://dl.k8s.io/release/v1.30.4/bin/linux/amd64/kubeadm",
                "https://dl.k8s.io/release/v1.30.4/bin/linux/amd64/kubectl",
                "https://dl.k8s.io/release/v1.30.4/bin/linux/amd64/kubelet",
            ])
        var planner = Planner(catalog: PlannerTests.catalog, secrets: SecretSource(environment: [:]), photonVersion: "test")
        planner.binaries = Self.supply(blueprint)
        let plan = try planner.plan(resolved, recorded: .empty)
        let kubeadm = plan.actions.compactMap { action -> FileChange? in
            guard case .upload(let file) = action.detail, file.path == "/usr/local/bin/kubeadm" else { return nil }
            return file
        }
        #expect(kubeadm.count == 2, "controller and worker")
        let digest = "6c6053fb8b31030ef7fffe146eb29489f7bf53d7a5ca10e0b10c907bf4b7e281"
        #expect(kubeadm.allSatisfy { $0.sha256 == digest && $0.content.text == "/var/cache/photon/\(digest)" && $0.isArtifact && $0.mode == 0o755 })
        #expect(try planner.binaries.missing(for: resolved, catalog: PlannerTests.catalog).isEmpty)
    }

    @Test("a folder or a mirror replaces upstream with the bundle's layout, ARCH/FILE")
    func folderAndMirror() throws {
        for (from, expected) in [
            ("/srv/bundle", "/srv/bundle/amd64/crictl-v1.30.0-linux-amd64.tar.gz"),
            ("https://mirror.example/k8s/", "https://mirror.example/k8s/amd64/crictl-v1.30.0-linux-amd64.tar.gz"),
        ] {
            let (blueprint, resolved) = try Self.resolved(Self.kubernetes("binaries: {from: \"\(from)\"}"))
            let crictl = try Self.supply(blueprint).files(for: resolved, catalog: PlannerTests.catalog).first { $0.name == "crictl" }
            #expect(crictl?.source == expected)
            #expect(crictl?.sha256 == "3dd03954565808eaeb3a7ffc0e8cb7886a64a9aa94b2bfdfbdc6e2ed94842e49")
        }
    }

    @Test(
        "a version the kind pins nothing for is missing (a warning in plan, apply refuses), at the version, naming the known ones; pinning your own build fixes it"
    )
    func unknownVersion() throws {
        let (blueprint, resolved) = try Self.resolved(Self.kubernetes(version: "1.31.0"))
        let missing = try Self.supply(blueprint).missing(for: resolved, catalog: PlannerTests.catalog)
        #expect(missing.count == 5)
        let kubeadm = try #require(missing.first { $0.message.contains("kubeadm") })
        #expect(kubeadm.message == "kind kubernetes knows no kubeadm for version 1.31.0 on amd64 (it knows 1.30.4)")
        #expect(kubeadm.location?.line == 7 && kubeadm.help?.contains("binaries.sha256.kubeadm") == true)

        let digest = String(repeating: "d", count: 64)
        let pins = ["kubeadm", "kubelet", "kubectl", "crictl", "cni-plugins"].map { "\($0): \(digest)" }.joined(separator: ", ")
        let (own, ownResolved) = try Self.resolved(Self.kubernetes("binaries: {from: /srv/mine, sha256: {\(pins)}}", version: "1.31.0"))
        let files = try Self.supply(own).files(for: ownResolved, catalog: PlannerTests.catalog)
        #expect(try Self.supply(own).missing(for: ownResolved, catalog: PlannerTests.catalog).isEmpty)
        #expect(files.count == 1 && files.first?.sha256 == digest, "one digest, fetched once")
    }

    @Test("a pinned digest for a binary no kind brings is an error at it, suggesting the closest name")
    func typo() throws {
        let (blueprint, resolved) = try Self.resolved(Self.kubernetes("binaries: {sha256: {kubeadmm: \(String(repeating: "e", count: 64))}}"))
        let error = #expect(throws: DiagnosticsError.self) { try Self.supply(blueprint).files(for: resolved, catalog: PlannerTests.catalog) }
        let diagnostic = error?.diagnostics.first
        #expect(diagnostic?.message == "binaries.sha256 names 'kubeadmm', which no kind brings")
        #expect(diagnostic?.help == "did you mean 'kubeadm'?" && diagnostic?.location?.line == 8)
    }

    @Test("bad binaries sections in blueprints: a scheme that is not http(s), a digest that is not one")
    func badSection() throws {
        let error = #expect(throws: DiagnosticsError.self) {
            try PlannerTests.blueprint(Self.kubernetes("binaries: {from: \"ftp://x/y\", sha256: {kubeadm: abc}}"))
        }
        let messages = error?.diagnostics.map(\.message) ?? []
        #expect(
            messages == [
                "binaries.from must be a folder or an http(s) URL, found 'ftp://x/y'", "binaries.sha256.kubeadm must be a SHA-256: 64 hex digits",
            ], "\(messages)")
    }

    @Test("mesos publishes no builds: without the user's, its binaries are missing and planned as content known later")
    func mesosNeedsBuilds() throws {
        let text = """
            name: mb
            controlPlane: {driver: local, network: 10.213.0.0/24}
            clusters:
              - name: m
                kind: mesos
                roles: {zookeeper: 1, masters: 1, marathon: 1, agents: 1}
            """
        let (blueprint, resolved) = try Self.resolved(text)
        let missing = try Self.supply(blueprint).missing(for: resolved, catalog: PlannerTests.catalog)
        #expect(
            missing.map(\.message).sorted() == [
                "kind mesos needs your build of marathon 1.11.0 for amd64: its software publishes none photon can pin",
                "kind mesos needs your build of mesos 1.11.0 for amd64: its software publishes none photon can pin",
            ])
        var planner = Planner(catalog: PlannerTests.catalog, secrets: SecretSource(environment: [:]), photonVersion: "test")
        planner.binaries = Self.supply(blueprint)
        let plan = try planner.plan(resolved, recorded: .empty)
        let archives = plan.actions.compactMap { action -> FileChange? in
            guard case .upload(let file) = action.detail, file.path.hasPrefix("/var/lib/photon/binaries/") else { return nil }
            return file
        }
        #expect(archives.count == 4 && archives.allSatisfy { $0.content.isUnknown && $0.sha256 == nil })
    }
}
