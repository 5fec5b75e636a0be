import Foundation
import PhotonCore

/// A value from a blueprint with the position it was written at, for errors found after loading.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// A deployment as the user described it: the validated content of one blueprint file.
public struct Blueprint: Sendable {
    /// The path the blueprint was loaded from, as given.
    public var file: String
    /// SHA-256 of the file's bytes; plans record it so a stale plan is refused.
    public var digest: String
    /// The deployment's name: the first part of every machine name.
    public var name: Located<String>
    public var controlPlane: ControlPlane
    public var ssh: SSHSettings
    /// Named sizes, built-in ones first, then the blueprint's (which may redefine a built-in).
    public var flavors: [String: Flavor]
    public var management: Management?
    public var clusters: [Cluster]
    /// Named secret references from the `secrets:` section.
    public var secrets: [NamedSecret]
    /// Where the top-level mapping starts.
    public var location: SourceLocation
    /// Where the kinds' binaries come from when not from upstream.
    public var binaries = BinarySources()

    public init(
        file: String, digest: String, name: Located<String>, controlPlane: ControlPlane, ssh: SSHSettings,
        flavors: [String: Flavor], management: Management?, clusters: [Cluster], secrets: [NamedSecret], location: SourceLocation
    ) {
        self.file = file
        self.digest = digest
        self.name = name
        self.controlPlane = controlPlane
        self.ssh = ssh
        self.flavors = flavors
        self.management = management
        self.clusters = clusters
        self.secrets = secrets
        self.location = location
    }
}

/// The IaaS that makes machines.
public enum ControlPlane: Sendable {
    /// Lightweight machines on the installer host (LXC), addressed from `network`.
    case local(LocalControlPlane)
    /// Machines the user already has.
    case `static`(StaticControlPlane)

    public var driverName: String {
        switch self {
        case .local: return "local"
        case .static: return "static"
        }
    }
}

public struct LocalControlPlane: Sendable {
    /// The machines' network; the installer host takes its first address.
    public var network: Located<IPv4Network>
    /// Name of the Linux bridge; derived from the network ("ph0a4d0000-24") when absent.
    public var bridge: String?
    /// Folders whose files appear in every machine at the same paths (read-only), over the host's root:
    /// software the host does not have. Absolute, resolved against the blueprint's folder.
    public var layers: [Located<String>]

    public init(network: Located<IPv4Network>, bridge: String? = nil, layers: [Located<String>] = []) {
        self.network = network
        self.bridge = bridge
        self.layers = layers
    }
}

public struct StaticControlPlane: Sendable {
    /// Handed out in order: management first, then each cluster's roles in the kind's order.
    public var machines: [StaticMachine]
    public var location: SourceLocation

    public init(machines: [StaticMachine], location: SourceLocation) {
        self.machines = machines
        self.location = location
    }
}

public struct StaticMachine: Sendable {
    /// An IPv4 address or a DNS name.
    public var address: Located<String>
    public var port: Int
    /// Overrides `ssh.user` for this machine.
    public var user: String?
    public var hostKey: HostKey
    public var location: SourceLocation

    public init(address: Located<String>, port: Int, user: String?, hostKey: HostKey, location: SourceLocation) {
        self.address = address
        self.port = port
        self.user = user
        self.hostKey = hostKey
        self.location = location
    }
}

/// A pinned SSH host key: its algorithm when known and its SHA-256 fingerprint ("SHA256:…", as `ssh-keygen -l` prints).
public struct HostKey: Hashable, Sendable {
    public var algorithm: String?
    public var fingerprint: String

    public init(algorithm: String?, fingerprint: String) {
        self.algorithm = algorithm
        self.fingerprint = fingerprint
    }
}

public struct SSHSettings: Sendable {
    public var user: String
    public var port: Int
    /// Connections open at once across the whole deployment.
    public var parallelism: Int
    public var connectTimeout: TimeSpan
    /// The client key; `generate` (the default) makes a per-deployment ed25519 key.
    public var key: Located<SecretReference>?

    public init(
        user: String = "root", port: Int = 22, parallelism: Int = 64, connectTimeout: TimeSpan = TimeSpan(seconds: 10), key: Located<SecretReference>? = nil
    ) {
        self.user = user
        self.port = port
        self.parallelism = parallelism
        self.connectTimeout = connectTimeout
        self.key = key
    }
}

/// The management plane: photon's own API servers, etcd and HAProxy on 1, 3 or 5 machines.
public struct Management: Sendable {
    public var machines: Located<Int>
    public var flavor: Located<String>?
    /// Services to run; the management kind declares which exist and which are required.
    public var services: [Located<String>]?
    public var settings: [Setting]
    public var location: SourceLocation

    public init(machines: Located<Int>, flavor: Located<String>?, services: [Located<String>]?, settings: [Setting], location: SourceLocation) {
        self.machines = machines
        self.flavor = flavor
        self.services = services
        self.settings = settings
        self.location = location
    }
}

/// A Kubernetes, Mesos, Swarm (or user-defined kind of) cluster: groups of machines with roles.
public struct Cluster: Sendable {
    public var name: Located<String>
    public var kind: Located<String>
    /// Roles as written, in file order; roles the kind has but the blueprint omits take the kind's default count.
    public var roles: [RoleSpec]
    /// Default flavor of the cluster's roles.
    public var flavor: Located<String>?
    public var settings: [Setting]
    public var rollout: Rollout?
    public var location: SourceLocation
    public var rolesLocation: SourceLocation?

    public init(
        name: Located<String>, kind: Located<String>, roles: [RoleSpec], flavor: Located<String>?, settings: [Setting],
        rollout: Rollout?, location: SourceLocation, rolesLocation: SourceLocation?
    ) {
        self.name = name
        self.kind = kind
        self.roles = roles
        self.flavor = flavor
        self.settings = settings
        self.rollout = rollout
        self.location = location
        self.rolesLocation = rolesLocation
    }

    public func role(_ name: String) -> RoleSpec? { roles.first { $0.name.value == name } }
}

public struct RoleSpec: Sendable {
    public var name: Located<String>
    public var count: Located<Int>
    public var flavor: Located<String>?
    public var rollout: Rollout?

    public init(name: Located<String>, count: Located<Int>, flavor: Located<String>? = nil, rollout: Rollout? = nil) {
        self.name = name
        self.count = count
        self.flavor = flavor
        self.rollout = rollout
    }
}

/// How a role's machines are changed: `canaries` go first and alone, then at most `maxInFlight` at a time.
public struct Rollout: Hashable, Sendable {
    public var maxInFlight: InFlightLimit?
    public var canaries: Int?

    public init(maxInFlight: InFlightLimit? = nil, canaries: Int? = nil) {
        self.maxInFlight = maxInFlight
        self.canaries = canaries
    }

    /// `self` with the gaps filled from `fallback`.
    public func over(_ fallback: Rollout?) -> Rollout {
        Rollout(maxInFlight: maxInFlight ?? fallback?.maxInFlight, canaries: canaries ?? fallback?.canaries)
    }
}

/// One `settings:` entry of a cluster, typed later against the kind's declaration.
public struct Setting: Sendable {
    public var name: String
    public var keyLocation: SourceLocation
    public var node: SettingValue

    public init(name: String, keyLocation: SourceLocation, node: SettingValue) {
        self.name = name
        self.keyLocation = keyLocation
        self.node = node
    }
}

/// A setting's raw value: scalar text (and whether it was quoted) or a list of scalars.
public struct SettingValue: Sendable {
    public enum Content: Sendable {
        case scalar(String, quoted: Bool)
        case list([Located<String>])
        case mapping
    }

    public var content: Content
    public var location: SourceLocation

    public init(_ content: Content, at location: SourceLocation) {
        self.content = content
        self.location = location
    }
}

public struct NamedSecret: Sendable {
    public var name: Located<String>
    public var reference: Located<SecretReference>

    public init(name: Located<String>, reference: Located<SecretReference>) {
        self.name = name
        self.reference = reference
    }
}
