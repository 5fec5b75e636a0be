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
        let bridge = "ph0af70000-24"
        defer { project.remove(bridges: [bridge]) }
        try project.write(
            """
            version: 1
            name: mb
            controlPlane: {driver: local, network: 10.247.0.0/24}
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
