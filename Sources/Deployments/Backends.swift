import Blueprints
import Drivers
import Engine
import Foundation
import MachineAccess
import PhotonCore
import PlaneAPI
import SSH
import StateStore

/// What a driver and a shell are made from besides the blueprint: where the deployment's keys are,
/// the machines recorded, and (inside the management plane) the installer's agent.
public struct BackendContext: Sendable {
    public var stateDirectory: String
    public var recordedHandles: [MachineHandle]
    /// Set in the plane: machines of the local driver are made by the agent on the installer host.
    public var agent: AgentEndpoint?

    public init(stateDirectory: String, recordedHandles: [MachineHandle] = [], agent: AgentEndpoint? = nil) {
        self.stateDirectory = stateDirectory
        self.recordedHandles = recordedHandles
        self.agent = agent
    }
}

/// What `apply` and `destroy` run against: the control-plane driver and the remote shell for a
/// blueprint. photon's own binary uses the real ones; the crash-test bed substitutes file-backed machines.
public struct Backends: Sendable {
    public var driver: @Sendable (Blueprint, BackendContext) throws -> any MachineDriver
    public var shell: @Sendable (Blueprint, BackendContext) throws -> any RemoteShell
    /// Wraps the journal (the crash-test bed kills the process at a chosen transition).
    public var journal: @Sendable (any RunJournal) -> any RunJournal

    public init(
        driver: @escaping @Sendable (Blueprint, BackendContext) throws -> any MachineDriver,
        shell: @escaping @Sendable (Blueprint, BackendContext) throws -> any RemoteShell,
        journal: @escaping @Sendable (any RunJournal) -> any RunJournal = { $0 }
    ) {
        self.driver = driver
        self.shell = shell
        self.journal = journal
    }

    /// The drivers and the SSH transport photon ships: LXC machines on this host (`local`) or the user's
    /// own machines (`static`), reached over SSH with photon's key.
    public static let standard = Backends(
        driver: { blueprint, context in try standardDriver(blueprint, context) },
        shell: { blueprint, context in
            SSHTransport(
                credentials: try ClientKey.credentials(for: blueprint, stateDirectory: context.stateDirectory),
                defaultUser: blueprint.ssh.user, connectTimeout: .milliseconds(Int64(blueprint.ssh.connectTimeout.milliseconds)))
        })

    package static func standardDriver(_ blueprint: Blueprint, _ context: BackendContext) throws -> any MachineDriver {
        let stateDirectory = URL(fileURLWithPath: context.stateDirectory).standardizedFileURL.path
        switch blueprint.controlPlane {
        case .local where context.agent != nil:
            return try AgentDriver(endpoint: context.agent!)
        case .local(let local):
            var configuration = LocalDriver.Configuration(
                deployment: blueprint.name.value, network: local.network.value, bridge: local.bridge,
                networkSource: local.network.location.description, machinesDirectory: stateDirectory + "/machines",
                hiddenPaths: InstallerPaths.hidden(for: blueprint, stateDirectory: stateDirectory),
                authorizedKey: try ClientKey.publicKey(for: blueprint, stateDirectory: context.stateDirectory))
            configuration.layers = local.layers.map(\.value)
            return LocalDriver(configuration)
        case .static(let plane):
            let machines = plane.machines.map {
                StaticDriver.Machine(
                    address: $0.address.value, port: $0.port, user: $0.user, hostKeyFingerprint: $0.hostKey.fingerprint,
                    source: $0.location.description)
            }
            return StaticDriver(
                machines: machines, credentials: try ClientKey.credentials(for: blueprint, stateDirectory: context.stateDirectory),
                defaultUser: blueprint.ssh.user, connectTimeout: .milliseconds(Int64(blueprint.ssh.connectTimeout.milliseconds)),
                recorded: context.recordedHandles)
        }
    }

    package static let current = Locked(Backends.standard)
}

/// The key photon logs in with: the blueprint's `ssh.key`, or the deployment's own ed25519 key, made on
/// first use and kept (mode 0600) in the state directory beside the recorded state.
package enum ClientKey {
    package static func credentials(for blueprint: Blueprint, stateDirectory: String) throws -> SSHCredentials {
        // Inside the plane, the key is the one the installer uploaded, whatever the blueprint names: a
        // path there would be read on the plane machine.
        if PlaneEnvironment.current != nil {
            return .privateKey(try deploymentKey(blueprint.name.value, directory: stateDirectory).privateKey, passphrase: nil)
        }
        switch blueprint.ssh.key?.value {
        case .file(let path)?:
            let expanded = path.hasPrefix("~/") ? NSHomeDirectory() + path.dropFirst(1) : path
            let resolved =
                expanded.hasPrefix("/") ? expanded : URL(fileURLWithPath: blueprint.file).deletingLastPathComponent().appendingPathComponent(expanded).path
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

    /// The public key line the local driver installs in each machine's authorized_keys.
    package static func publicKey(for blueprint: Blueprint, stateDirectory: String) throws -> String {
        switch try credentials(for: blueprint, stateDirectory: stateDirectory) {
        case .privateKey(let text, _):
            if let line = SSHPublicKey.publicKeyLine(ofPrivateKey: text) { return line }
        case .privateKeyFile(let path, _):
            if let text = try? String(contentsOfFile: path + ".pub", encoding: .utf8) { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let line = SSHPublicKey.publicKeyLine(ofPrivateKey: text) { return line }
        default:
            break
        }
        throw PhotonError(
            "cannot find the public half of ssh.key, which the local driver installs in its machines",
            help: "keep KEY.pub beside the key file, or use an OpenSSH-format key ('ssh-keygen -t ed25519')")
    }

    /// The deployment's key, made once. The public half goes into each machine's authorized_keys.
    package static func deploymentKey(_ deployment: String, directory: String) throws -> DeploymentKey {
        let privatePath = directory + "/id_ed25519", publicPath = privatePath + ".pub"
        if let privateData = FileManager.default.contents(atPath: privatePath) {
            let privateKey = String(decoding: privateData, as: UTF8.self)
            // The management plane receives the private half only; the public one follows from it.
            let publicKey =
                FileManager.default.contents(atPath: publicPath).map { String(decoding: $0, as: UTF8.self) }
                ?? SSHPublicKey.publicKeyLine(ofPrivateKey: privateKey)
            if let publicKey {
                return DeploymentKey(privateKey: privateKey, publicKey: publicKey.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        let key = DeploymentKey.generate(comment: "photon@\(deployment)")
        guard FileManager.default.createFile(atPath: privatePath, contents: Data(key.privateKey.utf8), attributes: [.posixPermissions: 0o600]),
            FileManager.default.createFile(atPath: publicPath, contents: Data((key.publicKey + "\n").utf8), attributes: [.posixPermissions: 0o644])
        else {
            throw PhotonError("cannot write the deployment's SSH key in \(directory)")
        }
        return key
    }
}
