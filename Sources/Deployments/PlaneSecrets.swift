import Blueprints
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// The blueprint's `env:` and `file:` secrets, resolved on the installer and sent to the management
/// plane sealed (with the deployment's key, in etcd). Secrets resolve on the installer only: inside
/// the plane a blueprint's `file:/etc/photon/tls/server.key` or `env:HOME` reads nothing of the plane
/// machine; only values this record holds exist there.
package struct PlaneSecrets: Codable, Sendable, Equatable {
    package static let recordName = "provided-secrets"

    /// Where the installer resolved relative paths: the plane resolves them the same way, to the same keys.
    package var baseDirectory: String
    package var home: String?
    package var environment: [String: String]
    /// File contents by the path the installer read them from.
    package var files: [String: String]

    /// Every `env:` and `file:` reference of the blueprint (its `secrets:` and the secret settings of
    /// its groups), read here.
    package static func resolve(_ blueprint: Blueprint, catalog: KindCatalog) throws -> PlaneSecrets {
        let base = URL(fileURLWithPath: blueprint.file).deletingLastPathComponent().standardizedFileURL.path
        let home = ProcessInfo.processInfo.environment["HOME"]
        var references = blueprint.secrets.map(\.reference.value)
        var groups: [(kind: String, settings: [Setting])] = blueprint.clusters.map { ($0.kind.value, $0.settings) }
        if let management = blueprint.management { groups.append((KindCatalog.managementKind, management.settings)) }
        for group in groups {
            guard let kind = catalog.kinds[group.kind] else { continue }
            for setting in group.settings where kind.setting(setting.name)?.type == .secret {
                if case .scalar(let text, _) = setting.node.content, let reference = SecretReference(text) { references.append(reference) }
            }
        }
        var secrets = PlaneSecrets(baseDirectory: base, home: home, environment: [:], files: [:])
        for reference in references {
            switch reference {
            case .environment(let name):
                guard let value = ProcessInfo.processInfo.environment[name] else {
                    throw PhotonError("environment variable \(name) is not set", help: "export \(name) before running photon")
                }
                secrets.environment[name] = value
            case .file(let path):
                let resolved = secrets.resolve(path)
                guard let data = FileManager.default.contents(atPath: resolved) else {
                    throw PhotonError("cannot read the secret file \(resolved)")
                }
                secrets.files[resolved] = String(decoding: data, as: UTF8.self)
            case .generate, .named:
                break
            }
        }
        return secrets
    }

    /// A path as both the blueprint loader and the planner resolve it.
    package func resolve(_ path: String) -> String {
        if path.hasPrefix("~/"), let home { return home + path.dropFirst(1) }
        if path.hasPrefix("/") { return path }
        return (baseDirectory.isEmpty ? "." : baseDirectory) + "/" + path
    }

    /// How the plane loads the blueprint: references check against these values, not its own files and variables.
    package var loadEnvironment: LoadEnvironment {
        let files = self.files
        var variables = environment
        if let home { variables["HOME"] = home }
        return LoadEnvironment(variables: variables, baseDirectory: baseDirectory, fileExists: { files[$0] != nil }, directoryExists: { _ in true })
    }

    /// How the plane's planner reads secret values: from these only.
    package var source: SecretSource {
        let files = self.files
        var variables = environment
        if let home { variables["HOME"] = home }
        return SecretSource(environment: variables, baseDirectory: baseDirectory, readFile: { files[$0] })
    }

    /// Sends them to the plane (sealed with the deployment's key).
    package func store(in store: EtcdStateStore) async throws {
        try await store.putSealed(Self.recordName, String(decoding: try JSONEncoder().encode(self), as: UTF8.self))
    }

    /// What the installer sent; none when it sent nothing yet.
    package static func read(from store: EtcdStateStore) async throws -> PlaneSecrets {
        guard let text = try await store.sealed(recordName) else {
            return PlaneSecrets(baseDirectory: "/nonexistent", home: nil, environment: [:], files: [:])
        }
        return try JSONDecoder().decode(PlaneSecrets.self, from: Data(text.utf8))
    }
}

extension Workspace {
    /// Inside the plane: takes the secrets the installer sent, so that nothing is read from this machine.
    package mutating func receivePlaneSecrets() async throws {
        guard let plane = PlaneEnvironment.current else { return }
        let store = try await EtcdStateStore(
            etcd: plane.etcdClient(localFirst: false), prefix: plane.prefix, deployment: plane.deployment,
            keyDirectory: plane.stateDirectory)
        planeSecrets = try await PlaneSecrets.read(from: store)
    }
}
