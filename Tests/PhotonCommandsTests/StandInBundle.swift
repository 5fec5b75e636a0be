import Foundation
import PhotonCore

/// The stand-ins as a user's binaries bundle (Tests/StandIns/bundle): a folder laid out `<arch>/<file>`
/// and the digests a blueprint pins them with.
struct StandInBundle {
    let folder: String
    let digests: [String: String]

    static let script = CLIFixture.repository.appendingPathComponent("Tests/StandIns/bundle").path

    /// The stand-ins written to DIRECTORY/bundle, kubeadm, kubelet and kubectl playing `kubernetesVersion`.
    init(in directory: URL, kubernetesVersion: String = "1.30.4") throws {
        folder = directory.appendingPathComponent("bundle").path
        let result = try HostCommand.runBlocking([Self.script, folder, "--kubernetes-version", kubernetesVersion])
        guard result.succeeded, let digests = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String] else {
            throw FixtureError("Tests/StandIns/bundle failed: \(result.diagnostic)")
        }
        self.digests = digests
    }

    /// The blueprint's `binaries:` section for `names`, from `from` (this folder unless given).
    func section(_ names: [String], from: String? = nil) -> String {
        let pins = names.map { "\($0): \(digests[$0] ?? "")" }.joined(separator: ", ")
        return "binaries:\n  from: \(from ?? folder)\n  sha256: {\(pins)}\n"
    }
}

/// Tests/StandIns/mirror on 127.0.0.1: a folder served over HTTP with ranges, or cut short, or whole only.
final class Mirror {
    let process = Process()
    let port: Int
    let log: URL
    var url: String { "http://127.0.0.1:\(port)" }

    init(serving root: String, options: [String] = []) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("photon-mirror-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let portFile = scratch.appendingPathComponent("port").path
        log = scratch.appendingPathComponent("requests")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: CLIFixture.repository.appendingPathComponent("Tests/StandIns/mirror").path)
        process.arguments = [root, portFile] + options
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        var port: Int?
        while port == nil, Date() < deadline {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            if port == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        guard let port else {
            process.terminate()
            throw FixtureError("the mirror did not start")
        }
        self.port = port
    }

    /// "GET PATH RANGE STATUS" per request, in order.
    var requests: [String] { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }

    /// Ends the server (and forgets its folder): before a test looks for leftover processes.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: log.deletingLastPathComponent())
    }

    deinit { stop() }
}
