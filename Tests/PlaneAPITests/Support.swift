import EngineTestSupport
import Etcd
import Foundation
import PhotonCore
import StateStore
import Testing

@testable import PlaneAPI

/// A `photon serve` on loopback for one test: a real etcd of its own, a real TLS identity and token,
/// and, instead of photon itself, a stand-in executable for the operations' child processes (a unit
/// test of the server, not of apply: the end-to-end tests run the real one).
final class PlaneFixture: @unchecked Sendable {
    let directory: String
    let etcd: LocalEtcd
    let identity: ServerIdentity
    let token = "test-token-" + UUID().uuidString
    let child: String
    private var servers: [(task: Task<Void, any Error>, port: Int)] = []

    /// - Parameter childScript: the body of the stand-in's shell script; it gets photon's arguments.
    init(childScript: String = PlaneFixture.applyLikeChild(seconds: 0)) throws {
        directory = NSTemporaryDirectory() + "photon-plane-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/tls", withIntermediateDirectories: true)
        etcd = try LocalEtcd()
        identity = try ServerIdentity.generate(commonName: "photon-test")
        try identity.write(certificate: directory + "/tls/server.crt", key: directory + "/tls/server.key")
        FileManager.default.createFile(atPath: directory + "/token", contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        // The deployment's sealing key, which every server holds (the installer uploads it): it authenticates operation records.
        try FileManager.default.createDirectory(atPath: directory + "/keys", withIntermediateDirectories: true)
        let key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        FileManager.default.createFile(atPath: directory + "/keys/secrets.key", contents: Data(key), attributes: [.posixPermissions: 0o600])
        child = directory + "/fake-photon"
        FileManager.default.createFile(atPath: child, contents: Data(("#!/bin/sh\n" + childScript).utf8), attributes: [.posixPermissions: 0o755])
    }

    /// A stand-in that prints what `photon apply --format json` prints, taking `seconds` in the middle,
    /// and records its arguments and its job (``jobs``) beside itself.
    static func applyLikeChild(seconds: Double, exitStatus: Int = 0) -> String {
        """
        echo "$@" >> "$(dirname "$0")/arguments"
        cat "$2" >> "$(dirname "$0")/jobs" && echo >> "$(dirname "$0")/jobs"
        if grep -q '"preview":true' "$2"; then echo "Plan: 1 machine to create"; exit 2; fi
        echo '{"event":"plan","text":"Plan: 1 machine to create","changes":"true","time":"t"}'
        echo '{"event":"run","id":"7","time":"t"}'
        echo '{"event":"started","action":"m/create-machine","machine":"m","attempt":"1","summary":"create machine","time":"t"}'
        sleep \(seconds)
        echo '{"event":"finished","action":"m/create-machine","machine":"m","status":"succeeded","elapsed":"0.1s","time":"t"}'
        echo "apply of demo complete" >&2
        exit \(exitStatus)
        """
    }

    /// The jobs the servers handed their children, in order.
    var jobs: [OperationJob] {
        get throws {
            let text = (try? String(contentsOfFile: directory + "/jobs", encoding: .utf8)) ?? ""
            return try text.split(separator: "\n").map { try JSONDecoder().decode(OperationJob.self, from: Data($0.utf8)) }
        }
    }

    /// Authenticates records as the servers do.
    var authenticator: RecordAuthenticator { get throws { try RecordAuthenticator(stateDirectory: directory + "/keys") } }

    func configuration(node: String, port: Int, ttl: Int = 2) throws -> ServeConfiguration {
        let path = directory + "/serve-\(node).yaml"
        let state = directory + "/state-\(node)"
        if !FileManager.default.fileExists(atPath: state + "/secrets.key") {
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.copyItem(atPath: directory + "/keys/secrets.key", toPath: state + "/secrets.key")
        }
        let text = """
            deployment: demo
            node: \(node)
            listen: {address: 127.0.0.1, port: \(port)}
            advertise: https://127.0.0.1:\(port)
            stateDirectory: \(directory)/state-\(node)
            tls: {certificate: \(directory)/tls/server.crt, key: \(directory)/tls/server.key}
            auth: {tokenFile: \(directory)/token}
            etcd:
              endpoints: [\(etcd.clientURL)]
              tls: {authority: \(etcd.clientFiles!.authority), certificate: \(etcd.clientFiles!.certificate), key: \(etcd.clientFiles!.key)}
              prefix: /photon/demo/
              leaderElection: {key: /photon/demo/leader, ttl: \(ttl)s}

            """
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return try ServeConfiguration.load(path)
    }

    /// Starts a server and returns its URL once it accepts connections.
    @discardableResult
    func startServer(node: String, limits: ServerLimits = .standard) async throws -> String {
        let port = try LoopbackPort.free()
        let server = try await PlaneServer(configuration: try configuration(node: node, port: port), executable: child, limits: limits)
        let task = Task { try await server.run() }
        servers.append((task, port))
        let deadline = Date().addingTimeInterval(20)
        while !LoopbackPort.accepts(port) {
            guard Date() < deadline else { throw PhotonError("photon serve did not listen on \(port)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return "https://127.0.0.1:\(port)"
    }

    /// Stops a server as a crash of its machine would look to the others: its lease is not revoked
    /// (the task is cancelled; leadership ends only when the lease expires).
    func stopServer(_ url: String) async {
        guard let index = servers.firstIndex(where: { url.hasSuffix(":\($0.port)") }) else { return }
        servers[index].task.cancel()
        _ = await servers[index].task.result
        servers.remove(at: index)
    }

    func client(_ url: String, token: String? = nil, certificate: PinnedCertificate? = nil) throws -> PinnedClient {
        try PinnedClient(baseURL: url, certificate: certificate ?? identity.certificate, token: token ?? self.token)
    }

    var etcdClient: EtcdClient { get throws { try etcd.client() } }

    func stop() async {
        for server in servers {
            server.task.cancel()
            _ = await server.task.result
        }
        servers = []
        etcd.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

func withPlane<T>(childScript: String = PlaneFixture.applyLikeChild(seconds: 0), _ body: (PlaneFixture) async throws -> T) async throws -> T {
    let fixture = try PlaneFixture(childScript: childScript)
    do {
        let result = try await body(fixture)
        await fixture.stop()
        return result
    } catch {
        await fixture.stop()
        throw error
    }
}

func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return try decoder.decode(type, from: data)
}

/// A one-file workspace for apply requests.
let sampleBundle = BlueprintBundle(blueprintFile: "photon.yaml", blueprint: "version: 1\nname: demo\n", kinds: ["swarm/kind.yaml": "kind: swarm\n"])
