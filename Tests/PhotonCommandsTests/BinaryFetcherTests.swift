import Deployments
import EngineTestSupport
import Foundation
import PhotonCore
import Planning
import Testing

/// The installer's binaries cache against a real folder and a real HTTP mirror on 127.0.0.1.
@Suite("Binaries fetched into the installer's cache")
struct BinaryFetcherTests {
    let scratch: URL
    let bundle: StandInBundle

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("photon-binaries-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        bundle = try StandInBundle(in: scratch)
    }

    var cache: String { scratch.appendingPathComponent("cache").path }

    func kubeadm(from source: String, sha256: String? = nil) -> BinaryFile {
        BinaryFile(
            name: "kubeadm", release: "1.30.4", arch: "amd64", fileName: "kubeadm", sha256: sha256 ?? bundle.digests["kubeadm"] ?? "",
            source: source)
    }

    func cached(_ file: BinaryFile) -> String { "\(cache)/\(file.sha256)" }

    @Test("a file from a folder is kept under its digest; a second fetch reads nothing")
    func fromFolder() async throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = kubeadm(from: bundle.folder + "/amd64/kubeadm")
        try await BinaryFetcher(cacheDirectory: cache).fetch([file])
        #expect(try BinaryFetcherTestSupport.digest(cached(file)) == file.sha256)
        // Gone from the folder, still served from the cache.
        try FileManager.default.removeItem(atPath: file.source)
        try await BinaryFetcher(cacheDirectory: cache).fetch([file])
    }

    @Test("a file whose digest is not the pinned one is refused, naming it, its source and both digests; nothing is kept")
    func wrongDigest() async throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let pinned = String(repeating: "0", count: 64)
        let file = kubeadm(from: bundle.folder + "/amd64/kubeadm", sha256: pinned)
        let mirror = try Mirror(serving: bundle.folder)
        defer { mirror.stop() }
        for source in [file.source, mirror.url + "/amd64/kubeadm"] {
            var wrong = file
            wrong.source = source
            let error = await #expect(throws: PhotonError.self) { try await BinaryFetcher(cacheDirectory: cache).fetch([wrong]) }
            let message = error?.message ?? ""
            #expect(message.contains("kubeadm 1.30.4 (amd64) from \(source)"), "\(message)")
            #expect(message.contains("expected \(pinned)") && message.contains(bundle.digests["kubeadm"] ?? "?"), "\(message)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).isEmpty)
        }
    }

    @Test("a file missing from the folder says so and how to gather a bundle")
    func missingFromFolder() async throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = kubeadm(from: bundle.folder + "/arm64/kubeadm")
        let error = await #expect(throws: PhotonError.self) { try await BinaryFetcher(cacheDirectory: cache).fetch([file]) }
        #expect(error?.message.contains("is not in the binaries folder") == true, "\(String(describing: error))")
        #expect(error?.help?.contains("photon bundle") == true)
    }

    @Test("a download cut short resumes from what it had (a range request), and the whole file checks out")
    func resumed() async throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let mirror = try Mirror(serving: bundle.folder, options: ["--cut", "1000"])
        defer { mirror.stop() }
        let file = kubeadm(from: mirror.url + "/amd64/kubeadm")
        await #expect(throws: (any Error).self) { try await BinaryFetcher(cacheDirectory: cache).fetch([file]) }
        #expect(!FileManager.default.fileExists(atPath: cached(file)))
        try await BinaryFetcher(cacheDirectory: cache).fetch([file])
        #expect(try BinaryFetcherTestSupport.digest(cached(file)) == file.sha256)
        #expect(mirror.requests == ["GET /amd64/kubeadm - 200 cut", "GET /amd64/kubeadm bytes=1000- 206"], "\(mirror.requests)")
    }

    @Test("a server that cannot resume sends the whole file again, which replaces the partial one")
    func restarted() async throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let mirror = try Mirror(serving: bundle.folder, options: ["--cut", "1000", "--no-range"])
        defer { mirror.stop() }
        let file = kubeadm(from: mirror.url + "/amd64/kubeadm")
        await #expect(throws: (any Error).self) { try await BinaryFetcher(cacheDirectory: cache).fetch([file]) }
        try await BinaryFetcher(cacheDirectory: cache).fetch([file])
        #expect(try BinaryFetcherTestSupport.digest(cached(file)) == file.sha256)
        #expect(mirror.requests == ["GET /amd64/kubeadm - 200 cut", "GET /amd64/kubeadm bytes=1000- 200"], "\(mirror.requests)")
    }
}

enum BinaryFetcherTestSupport {
    static func digest(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError("no file at \(path)") }
        return ContentDigest.sha256(Array(data))
    }
}

@Suite("Apply without the binaries a kind needs", .serialized)
struct MissingBinariesTests {
    @Test("apply of mesos without the user's builds stops before any machine exists, with one error per build and how to give it")
    func refusedBeforeAnything() async throws {
        let project = try LocalDriverCLITests.Project()
        let bridge = "ph0afb0000-24"
        defer { project.remove(bridges: [bridge]) }
        try project.write(
            """
            version: 1
            name: mb
            controlPlane: {driver: local, network: 10.251.0.0/24}
            clusters:
              - name: m
                kind: mesos
                roles: {zookeeper: 1, masters: 1, marathon: 1, agents: 1}

            """)
        let templates = CLIFixture.repository.appendingPathComponent("templates").path
        let applied = try await project.photon(["apply", "-f", "photon.yaml", "--yes"], templates: templates)
        #expect(applied.status != 0)
        #expect(applied.stderr.contains("error: kind mesos needs your build of mesos 1.11.0 for amd64"), "\(applied.stderr)")
        #expect(applied.stderr.contains("error: kind mesos needs your build of marathon 1.11.0 for amd64"), "\(applied.stderr)")
        #expect(applied.stderr.contains("help: give binaries.sha256.mesos"), "\(applied.stderr)")
        #expect(HostBridges.leftover(bridge) == nil, "no bridge made")
        let machines = project.directory.appendingPathComponent(".photon/mb/machines").path
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: machines)) ?? []).isEmpty, "no machine made")
    }
}

@Suite("photon bundle")
struct BundleCommandTests {
    @Test(
        "gathers every binary of the blueprint's clusters from a mirror into ARCH/FILE, checked; a second run fetches nothing; the folder then serves apply's plan"
    )
    func bundle() async throws {
        let scratch = URL(fileURLWithPath: "/var/tmp/photon-bundle-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let standIns = try StandInBundle(in: scratch)
        let mirror = try Mirror(serving: standIns.folder)
        defer { mirror.stop() }
        let names = ["kubeadm", "kubelet", "kubectl", "crictl", "cni-plugins"]
        let blueprint = { (section: String) in
            """
            name: kb
            controlPlane: {driver: local, network: 10.213.0.0/24}
            clusters:
              - name: k
                kind: kubernetes
                roles: {etcd: 1, controllers: 1, workers: 1}
            \(section)
            """
        }
        try Data(blueprint(standIns.section(names, from: mirror.url)).utf8).write(to: scratch.appendingPathComponent("photon.yaml"))
        let out = scratch.appendingPathComponent("airgap").path
        let first = try await CLIFixture.run(["bundle", "-f", scratch.appendingPathComponent("photon.yaml").path, "-o", out])
        #expect(first.status == 0, "\(first.stderr)")
        let expected = [
            "amd64/cni-plugins-linux-amd64-v1.4.0.tgz", "amd64/crictl-v1.30.0-linux-amd64.tar.gz", "amd64/kubeadm", "amd64/kubectl", "amd64/kubelet",
        ]
        #expect(first.stdout.split(separator: "\n").map { String($0.prefix { $0 != " " }) } == expected, "\(first.stdout)")
        for (path, name) in zip(expected, ["cni-plugins", "crictl", "kubeadm", "kubectl", "kubelet"]) {
            #expect(try BinaryFetcherTestSupport.digest(out + "/" + path) == standIns.digests[name], "\(path)")
        }
        // kubeadm, kubelet and kubectl are one stand-in file: fetched once, written three times.
        #expect(mirror.requests.count == 3, "\(mirror.requests)")
        #expect(!FileManager.default.fileExists(atPath: out + "/.incoming"))

        let second = try await CLIFixture.run(["bundle", "-f", scratch.appendingPathComponent("photon.yaml").path, "-o", out])
        #expect(second.status == 0 && second.stdout.split(separator: "\n").allSatisfy { $0.hasSuffix("(already there)") }, "\(second.stdout)")
        #expect(mirror.requests.count == 3, "nothing fetched again")

        try Data(blueprint(standIns.section(names, from: out)).utf8).write(to: scratch.appendingPathComponent("photon.yaml"))
        let plan = try await CLIFixture.run(["plan", "-f", scratch.appendingPathComponent("photon.yaml").path])
        #expect(plan.status == 0 && plan.stderr.isEmpty, "\(plan.stderr)")
    }
}
