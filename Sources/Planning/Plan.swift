import Blueprints
import Kinds
import PhotonCore

/// What `apply` would do, computed without touching anything: a DAG of actions over machines.
///
/// A plan is a pure value. It holds everything needed to execute it (rendered files and commands,
/// secrets included), but its JSON form never contains file contents or secret values.
public struct Plan: Sendable {
    public static let formatVersion = 1

    public var deployment: String
    public var blueprintFile: String
    public var blueprintDigest: String
    /// The recorded state's serial the plan was computed against.
    public var stateSerial: Int
    public var driver: String
    public var groups: [PlanGroup]
    public var machines: [PlanMachine]
    /// In an order that respects every dependency.
    public var actions: [PlanAction]

    public var summary: PlanSummary {
        var summary = PlanSummary()
        for machine in machines {
            switch machine.change {
            case .create: summary.create += 1
            case .update: summary.update += 1
            case .delete: summary.delete += 1
            case .unchanged: summary.unchanged += 1
            }
        }
        summary.actions = actions.filter { $0.type != .gate }.count
        return summary
    }

    public var hasChanges: Bool { actions.contains { $0.type != .gate } }
}

public struct PlanSummary: Sendable, Codable, Hashable {
    public var create = 0
    public var update = 0
    public var delete = 0
    public var unchanged = 0
    /// Actions that do something (gates are not counted).
    public var actions = 0

    public init(create: Int = 0, update: Int = 0, delete: Int = 0, unchanged: Int = 0, actions: Int = 0) {
        self.create = create
        self.update = update
        self.delete = delete
        self.unchanged = unchanged
        self.actions = actions
    }
}

/// The management plane or a cluster, as the plan shows it.
public struct PlanGroup: Sendable {
    public var name: String
    public var kind: String
    public var isManagement: Bool
    public var roles: [PlanRole]
    public var settings: [(name: String, value: String)]
}

public struct PlanRole: Sendable, Codable {
    public var name: String
    public var count: Int
    /// Machines recorded for the role before this plan.
    public var previousCount: Int
    public var countSource: CountSource
    /// The blueprint's count when `photon scale` set this one.
    public var blueprintCount: Int?
    public var flavor: String
    public var flavorSummary: String
    public var canaries: Int
    public var maxInFlight: String
    public var needs: [String]
}

public enum MachineChange: String, Sendable, Codable {
    case create, update, delete, unchanged

    /// Terraform's marks: `+`, `~`, `-`, and a space for no change.
    public var symbol: String {
        switch self {
        case .create: return "+"
        case .update: return "~"
        case .delete: return "-"
        case .unchanged: return " "
        }
    }
}

public struct PlanMachine: Sendable {
    public var name: String
    public var group: String
    public var role: String
    public var index: Int
    /// Nil when the driver assigns it during apply.
    public var address: String?
    public var flavor: Flavor
    public var change: MachineChange
    /// Indices into ``Plan/actions`` of the actions for this machine, in order.
    public var actions: [Int]
    public var needs: [String]
    /// For an unchanged machine: the ports its health steps wait on. Apply asks them again (all at
    /// once): a machine where one does not answer is configured and checked again.
    public var healthPorts: [HealthPort] = []
}

/// A port a machine's health steps wait on, where they wait for it.
public struct HealthPort: Sendable, Hashable {
    public var host: String
    public var port: Int
}

public enum ActionType: String, Sendable, Codable {
    case createMachine = "create-machine"
    case upload, run, capture, wait, service
    case deleteMachine = "delete-machine"
    /// A point where many actions wait for many others (a role is ready, the canaries passed).
    case gate
}

/// One node of the plan's graph.
public struct PlanAction: Sendable {
    public var type: ActionType
    /// The machine the action is for (empty for gates).
    public var machine: String
    /// The machine the command runs on, when it is not `machine` (steps with `via`).
    public var runsOn: String?
    public var phase: Phase?
    /// 1-based position of the step in its phase, for the id.
    public var ordinal: Int
    /// `+` for bring-up, `~` for a changed file or a step re-run on an existing machine, `-` for tear-down.
    public var change: MachineChange
    public var dependsOn: [Int]
    public var detail: ActionDetail
    /// The step's name, guards, timeout and retry policy; nil when it has none of them.
    public var options: StepOptions?

    public init(
        type: ActionType, machine: String, runsOn: String? = nil, phase: Phase? = nil, ordinal: Int = 0,
        change: MachineChange, dependsOn: [Int] = [], detail: ActionDetail, options: StepOptions? = nil
    ) {
        self.type = type
        self.machine = machine
        self.runsOn = runsOn
        self.phase = phase
        self.ordinal = ordinal
        self.change = change
        self.dependsOn = dependsOn
        self.detail = detail
        self.options = options
    }

    /// The step's name from kind.yaml, or a gate's description.
    public var label: String? { options?.label }
    /// Skip when this command succeeds on the machine.
    public var unless: [RenderedText]? { options?.unless }
    /// Skip when this path exists on the machine.
    public var creates: RenderedText? { options?.creates }
    public var timeout: TimeSpan? { options?.timeout }
    public var retry: RetryPolicy? { options?.retry }

    /// Stable and unique: `<machine>/<phase>/<n>`, `<machine>/create-machine`, `<machine>/delete-machine`, `gate/<what>`.
    public var id: String {
        switch type {
        case .createMachine: return "\(machine)/create-machine"
        case .deleteMachine: return "\(machine)/delete-machine"
        case .gate: return "gate/\(machine)"
        default: return "\(machine)/\(phase?.rawValue ?? "step")/\(ordinal)"
        }
    }

    /// One line, safe to print: secrets masked, unknown values shown as `(known after apply)`.
    public var summary: String {
        let on = runsOn.map { "on \($0): " } ?? ""
        let text: String
        switch detail {
        case .createMachine(let flavor, let address, let needs):
            var parts = ["\(flavor.name): \(flavor.summary)", address ?? "address known after apply"]
            if !needs.isEmpty { parts.append("needs \(needs.joined(separator: ", "))") }
            return "\(label ?? "create machine") (\(parts.joined(separator: "; ")))"
        case .deleteMachine:
            return "delete machine"
        case .gate:
            return label ?? "gate"
        case .upload(let file):
            text = "upload \(file.path)"
        case .command(let argv):
            text = "run \(on)\(RenderedText.displayCommand(argv))"
        case .capture(let name, let argv, let secret):
            text = "capture \(name)\(secret ? " (sensitive)" : "") \(runsOn.map { "on \($0) " } ?? "")from: \(RenderedText.displayCommand(argv))"
        case .waitPort(let host, let port):
            text = "wait for \(host):\(port)"
        case .waitCommand(let argv):
            text = "wait \(on)until \(RenderedText.displayCommand(argv)) succeeds"
        case .service(let name, let action, _):
            text = "service \(name) \(action.rawValue)"
        }
        return label.map { "\($0): \(text)" } ?? text
    }
}

/// The parts of an action most actions do not have, kept out of line so a plan of a million actions stays small.
public final class StepOptions: Sendable {
    public let label: String?
    public let unless: [RenderedText]?
    public let creates: RenderedText?
    public let timeout: TimeSpan?
    public let retry: RetryPolicy?

    public init?(label: String?, unless: [RenderedText]? = nil, creates: RenderedText? = nil, timeout: TimeSpan? = nil, retry: RetryPolicy? = nil) {
        if label == nil, unless == nil, creates == nil, timeout == nil, retry == nil { return nil }
        self.label = label
        self.unless = unless
        self.creates = creates
        self.timeout = timeout
        self.retry = retry
    }
}

/// What an action does, with everything the engine needs to do it.
public enum ActionDetail: Sendable {
    indirect case createMachine(flavor: Flavor, address: String?, needs: [String])
    indirect case upload(FileChange)
    case command(argv: [RenderedText])
    case capture(name: String, argv: [RenderedText], secret: Bool)
    case waitPort(host: String, port: String)
    case waitCommand(argv: [RenderedText])
    /// Start, restart or stop; ``ServiceScript`` turns it into the command for the machine.
    case service(name: String, action: ServiceAction, exec: [RenderedText]?)
    case deleteMachine
    case gate
}

public struct FileChange: Sendable {
    public var path: String
    public var mode: Int
    public var owner: String?
    /// The template (or artifact) the content comes from.
    public var source: String
    /// The rendered content; for artifacts, the local path of the file.
    public var content: RenderedText
    /// Nil while the content depends on values known after apply.
    public var sha256: String?
    /// What was last pushed, when the machine already has the file.
    public var previousSHA256: String?
    public var previousContent: String?
    public var isArtifact: Bool
}

extension RenderedText {
    /// The arguments of a command as photon shows them: each quoted; secrets masked.
    public static func displayCommand(_ argv: [RenderedText]) -> String {
        let line = argv.map { $0.isSensitive ? "(sensitive)" : ($0.isUnknown ? $0.text : ShellQuoting.quote($0.text)) }.joined(separator: " ")
        // One action, one line: a script's line breaks show as \n.
        return line.contains("\n") ? line.replacingOccurrences(of: "\n", with: "\\n") : line
    }
}
