import EngineTestSupport
import Foundation
import PhotonCore
import StateStore
import Testing

@testable import Deployments
@testable import PhotonCommands

/// Secrets resolve on the installer only: a blueprint sent to the plane (by any holder of its token)
/// that names `file:` on the plane machine reads nothing there; only what the installer sent exists.
@Suite("Secrets inside the management plane", .tags(.security))
struct PlaneSecretsTests {
    static let kind = """
        kind: vault
        settings:
          password: {type: secret}
        roles:
          - name: nodes
            count: {min: 1, default: 1}
            configure:
              - upload: conf
                path: /etc/vault.conf
                mode: "0600"

        """

    @Test("plan inside the plane reads file: secrets from what the installer sent, never from the plane machine")
    func fileSecretsComeFromTheInstaller() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let etcd = try LocalEtcd()
            defer { etcd.stop() }
            let templates = directory.appendingPathComponent("templates/vault")
            try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
            try Self.kind.write(to: templates.appendingPathComponent("kind.yaml"), atomically: true, encoding: .utf8)
            try "{{settings.password}}\n".write(to: templates.appendingPathComponent("conf.mustache"), atomically: true, encoding: .utf8)
            // A file the plane machine has (here: this host) that the blueprint names.
            let local = directory.appendingPathComponent("plane-only-secret").path
            try "read-on-the-plane".write(toFile: local, atomically: true, encoding: .utf8)
            let blueprint = directory.appendingPathComponent("photon.yaml")
            try """
            name: demo
            controlPlane: {driver: local, network: 10.250.9.0/24}
            secrets:
              stolen: file:\(local)
            clusters:
              - name: c
                kind: vault
                roles: {nodes: 1}
                settings: {password: secret:stolen}

            """.write(to: blueprint, atomically: true, encoding: .utf8)
            // The plane's side: a server configuration, its state folder with the deployment's key.
            let state = directory.appendingPathComponent("state").path
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            FileManager.default.createFile(
                atPath: state + "/secrets.key", contents: Data((0..<32).map { _ in UInt8.random(in: 0...255) }),
                attributes: [.posixPermissions: 0o600])
            let files = try #require(etcd.clientFiles)
            let config = directory.appendingPathComponent("serve.yaml").path
            try """
            deployment: demo
            node: a
            listen: {address: 127.0.0.1, port: 1}
            advertise: https://127.0.0.1:1
            stateDirectory: \(state)
            tls: {certificate: \(state)/tls.crt, key: \(state)/tls.key}
            auth: {tokenFile: \(state)/token}
            etcd:
              endpoints: [\(etcd.clientURL)]
              tls: {authority: \(files.authority), certificate: \(files.certificate), key: \(files.key)}
              prefix: /photon/demo/

            """.write(toFile: config, atomically: true, encoding: .utf8)
            let environment = ["PHOTON_PLANE_CONFIG": config]
            let arguments = ["plan", "-f", blueprint.path, "--templates", directory.appendingPathComponent("templates").path, "--format", "json"]

            // Nothing sent yet: the reference does not resolve, although the file is right there.
            var plan = try await CLIFixture.run(arguments, environment: environment)
            #expect(plan.status == 1)
            #expect(plan.stderr.contains("secret file '\(local)' does not exist or is not readable"), "\(plan.stderr)")

            // The installer sent its value: the plan renders that one.
            let store = try await EtcdStateStore(etcd: try etcd.client(), prefix: "/photon/demo/", deployment: "demo", keyDirectory: state)
            try await PlaneSecrets(baseDirectory: directory.path, home: nil, environment: [:], files: [local: "sent-by-the-installer"]).store(in: store)
            plan = try await CLIFixture.run(arguments, environment: environment)
            #expect(plan.status == 0 || plan.status == 2, "\(plan.stderr)")
            #expect(plan.stdout.contains(ContentDigest.sha256("sent-by-the-installer\n")), "\(plan.stdout.prefix(2000))")
            #expect(!plan.stdout.contains(ContentDigest.sha256("read-on-the-plane\n")))
            #expect(!plan.stdout.contains("sent-by-the-installer") && !plan.stdout.contains("read-on-the-plane"), "a secret in the plan")
        }
    }
}
