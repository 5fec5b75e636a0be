import PhotonCore

/// A cluster kind, read from `templates/<kind>/kind.yaml`: its settings, its roles in order, and for
/// each role the steps of every phase. Kinds are data: adding a folder adds a kind.
public struct Kind: Sendable {
    public var name: String
    public var description: String
    /// The folder the kind was read from.
    public var directory: String
    public var settings: [SettingDeclaration]
    /// Optional parts a blueprint can switch on or off (the management plane's services).
    public var services: [ServiceDeclaration]
    /// In the order they are brought up.
    public var roles: [RoleDeclaration]
    /// The kind's templates, each usable as an upload or as a partial by its name without `.mustache`.
    public var templates: [String: Template]
    public var partials: PartialLibrary
    /// How to look at a running cluster: apply ends by printing it.
    public var access: KindAccess? = nil
    /// The certificate authorities photon keeps for each cluster of the kind, and the leaves they sign.
    public var certificates: [CertificateDeclaration] = []
    /// The format of every template: declared under `formats:` in kind.yaml, or inferred from its name.
    public var formats: [String: TemplateFormat] = [:]
    /// Files photon brings to the machines itself, by name.
    public var binaries: [String: BinaryDeclaration] = [:]
    /// What the machines must have before anything changes on them.
    public var requirements: [Requirement] = []
    /// How the cluster's store is backed up and restored, when the kind says.
    public var backup: BackupDeclaration? = nil

    public func role(_ name: String) -> RoleDeclaration? { roles.first { $0.name == name } }
    /// The format a template's output is read in: declared, or inferred from its name.
    public func format(ofTemplate name: String) -> TemplateFormat { formats[name] ?? TemplateFormat.inferred(fromTemplateName: name) }
    public func setting(_ name: String) -> SettingDeclaration? { settings.first { $0.name == name } }
}

/// How to look at and reach a running cluster: a command that shows it ("docker node ls"), run on the
/// first machine of `role` (of the first role when nil), and what clients use from outside.
public struct KindAccess: Sendable, Hashable {
    public var role: String?
    public var command: String
    /// URLs of services, one per machine of a role (`{address}` is the machine's address).
    public var endpoints: [AccessEndpoint] = []
    /// Variables that point a client at the cluster, by name (`{ssh}`: photon's SSH alias of the access
    /// machine, usable once ~/.ssh/config includes photon's ssh_config).
    public var environment: [String: String] = [:]
    /// A client configuration with admin credentials on the access machine (kubeadm's admin.conf),
    /// which `photon kubeconfig` fetches.
    public var kubeconfig: String?

    public init(role: String?, command: String) {
        self.role = role
        self.command = command
    }
}

/// A service URL a cluster's machines of one role serve.
public struct AccessEndpoint: Sendable, Hashable {
    public var name: String
    public var role: String
    /// With `{address}`.
    public var url: String

    public func url(address: String) -> String { url.replacingOccurrences(of: "{address}", with: address) }
}

/// The type of a kind setting, which decides how a blueprint value is checked.
public enum SettingType: String, Sendable, CaseIterable {
    case string, int, bool, cidr, version, duration, secret, port, list
    /// Narrower strings, checked when the blueprint is validated.
    case path, image, size, domain, hostname

    /// How the type is named in "expected …" messages.
    public var expectation: String {
        switch self {
        case .string: return "a string"
        case .int: return "an integer"
        case .bool: return "true or false"
        case .cidr: return "an IPv4 network in CIDR form (like 10.244.0.0/16)"
        case .version: return "a version (like 1.30.4)"
        case .duration: return "a duration (like 30s or 5m)"
        case .secret: return "a secret reference (\(SecretReference.forms))"
        case .port: return "a port number (1-65535)"
        case .list: return "a list of strings"
        case .path: return "an absolute path (like /var/lib/docker)"
        case .image: return "an image reference (like registry.k8s.io/pause:3.9)"
        case .size: return "a size (like 10m, 256m or 1g)"
        case .domain: return "a DNS domain (like cluster.local)"
        case .hostname: return "a host name or IPv4 address"
        }
    }
}

public struct SettingDeclaration: Sendable {
    public var name: String
    public var type: SettingType
    /// Nil when the blueprint must give a value.
    public var defaultValue: SettingDefault?
    public var description: String
    /// When not empty, the only accepted values.
    public var allowed: [String]
    public var location: SourceLocation
    /// For a version the software upgrades in place: how far it may move from the version last applied.
    public var upgrade: UpgradeRule? = nil
}

/// What the software allows when a cluster's version changes (kubeadm: never down, one minor at a time).
public struct UpgradeRule: Sendable, Hashable {
    /// A lower version than the one last applied is refused at plan time.
    public var downgrade: Bool
    /// At most this many minor versions up at once (nil: any).
    public var minorSteps: Int?

    public init(downgrade: Bool, minorSteps: Int?) {
        self.downgrade = downgrade
        self.minorSteps = minorSteps
    }
}

public enum SettingDefault: Sendable, Hashable, CustomStringConvertible {
    case scalar(String)
    case list([String])

    /// `4789` or `[a, b]`.
    public var description: String {
        switch self {
        case .scalar(let text): return text
        case .list(let items): return "[\(items.joined(separator: ", "))]"
        }
    }
}

public struct ServiceDeclaration: Sendable {
    public var name: String
    public var required: Bool
    public var description: String
}

/// How many machines a role may have.
public struct CountRule: Sendable, Hashable {
    public var min: Int
    public var max: Int
    /// Quorum-based software (Raft, ZooKeeper, etcd) needs an odd count.
    public var odd: Bool
    /// The count when the blueprint does not give the role.
    public var defaultCount: Int?
    /// Changing the count changes a setting every member was started with (Mesos masters' `--quorum`):
    /// `photon scale` refuses it unless forced (`count.rescale: restart` in kind.yaml).
    public var rescaleNeedsRestart = false

    /// Why `count` breaks the rule ("at least 1 machine", "an odd number of machines"), or nil.
    public func problem(with count: Int) -> String? {
        if count < min { return "at least \(min) machine\(min == 1 ? "" : "s")" }
        if count > max { return "at most \(max) machine\(max == 1 ? "" : "s")" }
        if odd, count % 2 == 0 { return "an odd number of machines" }
        return nil
    }

    /// "1–7 (odd)" or "at least 0": the allowed range, to read before a plural noun.
    public var rangeSummary: String {
        let range = max >= 100_000 ? "\(min) or more" : (min == max ? "exactly \(min)" : "\(min)–\(max)")
        return odd ? "\(range) (odd)" : range
    }

    public var summary: String {
        var parts = [min == max ? "exactly \(min)" : "\(min)–\(max)"]
        if odd { parts.append("odd") }
        if let defaultCount { parts.append("default \(defaultCount)") }
        return parts.joined(separator: ", ")
    }
}

/// The phases of a machine's life, in order.
public enum Phase: String, Sendable, CaseIterable, Codable, Comparable {
    /// Right after the machine exists.
    case create
    /// Files and services.
    case configure
    /// Forming or joining the cluster.
    case join
    /// Gates that say the machine is ready.
    case health
    /// Before removal: move work away (runs on a surviving machine through `via`).
    case drain
    /// Leaving the cluster, just before the machine is deleted.
    case remove
    /// `photon backup`: leave the store's snapshot at the kind's backup file (first machine of its role).
    case backup
    /// `photon restore`: rebuild the store from the backup file photon put on the machine.
    case restore

    public static func < (lhs: Phase, rhs: Phase) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Phases that run when a machine is added.
    public static let bringUp: [Phase] = [.create, .configure, .join, .health]
    /// Phases that run when a machine is removed.
    public static let tearDown: [Phase] = [.drain, .remove]
}

public struct RoleDeclaration: Sendable {
    public var name: String
    public var description: String
    public var count: CountRule
    /// Flavor used when neither the role nor the cluster names one.
    public var defaultFlavor: String?
    /// Capabilities the machine must have (`docker`: what dockerd needs from the driver).
    public var needs: [String]
    public var steps: [Phase: [Step]]
    public var location: SourceLocation

    public func steps(in phase: Phase) -> [Step] { steps[phase] ?? [] }
}

/// Which machines of a role a step is for.
public enum MachineSelector: String, Sendable, Codable {
    case all, first, others
}

/// One thing to do on a machine.
public struct Step: Sendable {
    public var action: StepAction
    /// A label for plans and progress; derived from the action when the kind gives none.
    public var name: String?
    public var on: MachineSelector
    /// Run on the first (surviving) machine of this role instead of on the machine itself.
    public var via: String?
    /// Only when this value is true.
    public var when: [String]?
    /// Skip when this command succeeds on the machine.
    public var unless: [Template]?
    /// Skip when this path exists on the machine.
    public var creates: Template?
    public var timeout: TimeSpan?
    public var retry: RetryPolicy?
    /// For a service: the templates (or binaries) whose change restarts it; when absent, the uploads
    /// between the previous service step of the phase and this one. For a command: on a running machine
    /// it runs again only when one of these changed (when absent, whenever the machine's files change).
    public var reads: [String]? = nil
    public var location: SourceLocation
}

public struct RetryPolicy: Sendable, Hashable, Codable {
    public var attempts: Int
    public var delay: TimeSpan
}

public enum StepAction: Sendable {
    /// Render a template and write it atomically at `path`.
    case upload(template: String, path: Template, mode: Int, owner: String?)
    /// Copy a file photon supplies (its own executable) to `path`.
    case artifact(name: String, path: Template, mode: Int)
    /// Copy a binary the kind declares (fetched and checked on the installer) to `path`.
    case binary(name: String, path: Template, mode: Int)
    /// Run a command; each argument is rendered then quoted.
    case run([Template])
    /// Run a command and keep its trimmed stdout as `captured.<name>`.
    case capture(name: String, command: [Template], secret: Bool)
    /// Wait until a TCP port accepts connections.
    case waitPort(host: Template?, port: Template)
    /// Wait until a command succeeds.
    case waitCommand([Template])
    /// Start, restart or stop a service, with or without an init system.
    case service(name: String, action: ServiceAction, exec: [Template]?)

    public var typeName: String {
        switch self {
        case .upload, .artifact, .binary: return "upload"
        case .run: return "run"
        case .capture: return "capture"
        case .waitPort, .waitCommand: return "wait"
        case .service: return "service"
        }
    }
}

public enum ServiceAction: String, Sendable, Codable, CaseIterable {
    case start, restart, stop
}
