import Blueprints
import Foundation
import SSH
import Testing

@testable import Deployments
@testable import PhotonCommands

@Suite("SSH client key")
struct ClientKeyTests {
    func blueprint(_ ssh: String) throws -> Blueprint {
        try BlueprintLoader(environment: LoadEnvironment(variables: ["HOME": "/root"], fileExists: { _ in true }))
            .load(bytes: Array("name: k\ncontrolPlane: {driver: local, network: 10.9.0.0/24}\n\(ssh)".utf8), file: "/srv/bp/k.yaml")
    }

    @Test("without ssh.key, the deployment's own ed25519 key is made once, 0600, and reused")
    func deploymentKey() async throws {
        let directory = NSTemporaryDirectory() + "photon-key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard case .privateKey(let first, nil) = try ClientKey.credentials(for: blueprint(""), stateDirectory: directory) else {
            Issue.record("expected the deployment key")
            return
        }
        #expect(first.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----"))
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/id_ed25519")
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(try String(contentsOfFile: directory + "/id_ed25519.pub", encoding: .utf8).hasPrefix("ssh-ed25519 "))
        guard case .privateKey(let second, nil) = try ClientKey.credentials(for: blueprint(""), stateDirectory: directory) else { return }
        #expect(first == second)
    }

    @Test("ssh.key: file: paths resolve against the blueprint's directory or home")
    func fileKeys() async throws {
        guard case .privateKeyFile(let relative, nil) = try ClientKey.credentials(for: blueprint("ssh: {key: 'file:keys/id'}\n"), stateDirectory: "/unused")
        else {
            Issue.record("expected a key file")
            return
        }
        #expect(relative == "/srv/bp/keys/id")
        guard
            case .privateKeyFile(let home, nil) = try ClientKey.credentials(for: blueprint("ssh: {key: 'file:~/.ssh/id_ed25519'}\n"), stateDirectory: "/unused")
        else { return }
        #expect(home.hasSuffix("/.ssh/id_ed25519"))
    }
}
