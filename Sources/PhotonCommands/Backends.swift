import Blueprints
import Engine
import Foundation
import PhotonCore
import SSH
import StateStore

/// What `apply` and `destroy` run against: the control-plane driver and the remote shell for a
/// blueprint. photon's own binary uses the real ones; the crash-test bed substitutes file-backed machines.
public struct Backends: Sendable {
    public var driver: @Sendable (Blueprint, StateStore) throws -> any MachineDriver
    public var shell: @Sendable (Blueprint, StateStore) throws -> any RemoteShell
    /// Wraps the journal (the crash-test bed kills the process at a chosen transition).
    public var journal: @Sendable (any RunJournal) -> any RunJournal

    public init(driver: @escaping @Sendable (Blueprint, StateStore) throws -> any MachineDriver,
                shell: @escaping @Sendable (Blueprint, StateStore) throws -> any RemoteShell,
                journal: @escaping @Sendable (any RunJournal) -> any RunJournal = { $0 }) {
        self.driver = driver
        self.shell = shell
        self.journal = journal
    }

    /// The drivers and the SSH transport photon ships. The machine drivers (local LXC, static) arrive with
    /// their own work; until then `apply` says plainly that it cannot create machines.
    public static let standard = Backends(
        driver: { blueprint, _ in
            throw PhotonError("this photon cannot create machines yet: the \(blueprint.controlPlane.driverName) driver is not part of this build",
                              help: "use 'photon plan' to see what apply would do")
        },
        shell: { blueprint, store in
            SSHTransport(credentials: try ClientKey.credentials(for: blueprint, stateDirectory: store.directory),
                         defaultUser: blueprint.ssh.user, connectTimeout: .milliseconds(Int64(blueprint.ssh.connectTimeout.milliseconds)))
        })

    static let current = Locked(Backends.standard)
}

/// The key photon logs in with: the blueprint's `ssh.key`, or the deployment's own ed25519 key, made on
/// first use and kept (mode 0600) in the state directory beside the recorded state.
enum ClientKey {
    static func credentials(for blueprint: Blueprint, stateDirectory: String) throws -> SSHCredentials {
        switch blueprint.ssh.key?.value {
        case .file(let path)?:
            let expanded = path.hasPrefix("~/") ? NSHomeDirectory() + path.dropFirst(1) : path
            let resolved = expanded.hasPrefix("/") ? expanded : URL(fileURLWithPath: blueprint.file).deletingLastPathComponent().appendingPathComponent(expanded).path
            return .privateKeyFile(resolved, passphrase: nil)
        case .environment(let name)?:
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw PhotonError("environment variable \(name) (ssh.key) is not set")
            }
            return .privateKey(value, passphrase: nil)
        case .named?, .generate?, nil:
            return .privateKey(try deploymentKey(blueprint.name.value, directory: stateDirectory).privateKey, passphrase: nil)
        }
    }

    /// The deployment's key, made once. The public half goes into each machine's authorized_keys.
    static func deploymentKey(_ deployment: String, directory: String) throws -> DeploymentKey {
        let privatePath = directory + "/id_ed25519", publicPath = privatePath + ".pub"
        if let privateData = FileManager.default.contents(atPath: privatePath), let publicData = FileManager.default.contents(atPath: publicPath) {
            return DeploymentKey(privateKey: String(decoding: privateData, as: UTF8.self),
                                 publicKey: String(decoding: publicData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let key = DeploymentKey.generate(comment: "photon@\(deployment)")
        guard FileManager.default.createFile(atPath: privatePath, contents: Data(key.privateKey.utf8), attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: publicPath, contents: Data((key.publicKey + "\n").utf8), attributes: [.posixPermissions: 0o644]) else {
            throw PhotonError("cannot write the deployment's SSH key in \(directory)")
        }
        return key
    }
}
