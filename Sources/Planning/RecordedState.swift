import Kinds
import PhotonCore

/// What photon last recorded about a deployment: the state store produces this value and the planner
/// diffs the desired state against it. A new deployment has ``empty``.
public struct RecordedState: Sendable, Codable {
    /// Increases with every write; a saved plan records it and is refused once it changed.
    public var serial: Int
    public var machines: [RecordedMachine]
    /// Values captured by steps, by `<group>/<name>`; secret ones are marked.
    public var captured: [String: RecordedValue]
    /// Values photon generated for `generate` secrets, by `<group>/settings.<name>` or `secrets.<name>`.
    public var generatedSecrets: [String: String]
    /// Counts set by `photon scale`, by `<group>/<role>`.
    public var scaledCounts: [String: ScaledCount]
    /// Addresses held by machines this plan leaves out (the management plane's, when the plane plans
    /// its clusters): never given to a new machine. Not stored.
    public var reservedAddresses: Set<String> = []

    private enum CodingKeys: String, CodingKey { case serial, machines, captured, generatedSecrets, scaledCounts }

    public init(
        serial: Int = 0, machines: [RecordedMachine] = [], captured: [String: RecordedValue] = [:], generatedSecrets: [String: String] = [:],
        scaledCounts: [String: ScaledCount] = [:]
    ) {
        self.serial = serial
        self.machines = machines
        self.captured = captured
        self.generatedSecrets = generatedSecrets
        self.scaledCounts = scaledCounts
    }

    public static let empty = RecordedState()

    /// Leaves out the machines of `group`, keeping their addresses reserved.
    public mutating func setAside(group: String) {
        reservedAddresses.formUnion(machines.filter { $0.group == group }.map(\.address))
        machines.removeAll { $0.group == group }
    }

}

/// A role's count as `photon scale` set it, and the blueprint's count at that time (the merge's base).
public struct ScaledCount: Sendable, Codable, Hashable {
    public var group: String
    public var role: String
    public var count: Int
    public var baseCount: Int

    public init(group: String, role: String, count: Int, baseCount: Int) {
        self.group = group
        self.role = role
        self.count = count
        self.baseCount = baseCount
    }

    public var key: String { "\(group)/\(role)" }
}

public struct RecordedMachine: Sendable, Codable, Hashable {
    public var name: String
    /// The cluster's name, or `management`.
    public var group: String
    /// The group's kind, so a cluster removed from the blueprint can still be shown and torn down.
    public var kind: String
    public var role: String
    public var index: Int
    public var address: String
    public var hostKeyFingerprint: String?
    /// What was last pushed to the machine, by path.
    public var files: [String: RecordedFile]
    public var lifecycle: MachineLifecycle
    /// Bring-up or tear-down actions that finished while the machine was not yet ready (or being removed),
    /// by action id: a resumed apply runs only the others.
    public var completedActions: Set<String>
    /// The control plane reports the machine stopped (the host rebooted): apply starts it and runs its
    /// configure and health steps again. Not stored: apply asks the driver each time.
    public var stopped = false
    /// Ports of the running machine that did not answer: 22 (its sshd died alone; the driver brings it
    /// back) or one its health steps wait on (a service and its supervisor died). Apply runs its
    /// configure and health steps again. Not stored, like `stopped`: apply asks each time.
    public var unanswered: [Int] = []

    public init(
        name: String, group: String, kind: String, role: String, index: Int, address: String, hostKeyFingerprint: String? = nil,
        files: [String: RecordedFile] = [:], lifecycle: MachineLifecycle = .ready, completedActions: Set<String> = []
    ) {
        self.lifecycle = lifecycle
        self.completedActions = completedActions
        self.name = name
        self.group = group
        self.kind = kind
        self.role = role
        self.index = index
        self.address = address
        self.hostKeyFingerprint = hostKeyFingerprint
        self.files = files
    }
}

/// Where a machine is in its life, as recorded.
public enum MachineLifecycle: String, Sendable, Codable, Hashable {
    /// Its creation was decided (the intent is recorded) but the driver may not have made it yet.
    case creating
    /// The driver made it; its bring-up steps are running.
    case bringingUp = "bringing-up"
    /// Every bring-up step finished.
    case ready
    /// Its removal started.
    case deleting
}

public struct RecordedFile: Sendable, Codable, Hashable {
    public var sha256: String
    public var mode: Int
    /// The content, kept for non-sensitive files so `plan` can show a diff.
    public var content: String?

    public init(sha256: String, mode: Int, content: String? = nil) {
        self.sha256 = sha256
        self.mode = mode
        self.content = content
    }
}

public struct RecordedValue: Sendable, Codable, Hashable {
    public var value: String
    public var secret: Bool

    public init(value: String, secret: Bool) {
        self.value = value
        self.secret = secret
    }
}

/// Addresses for the local driver: the host takes the network's first usable address; machines get
/// the lowest free ones, and keep the one recorded for their name.
public enum AddressPlan {
    /// Machines a network can hold (the host's address excluded).
    public static func capacity(of network: IPv4Network) -> Int {
        guard let hosts = network.usableHosts else { return 0 }
        return max(0, Int(hosts.upperBound - hosts.lowerBound))
    }
}
