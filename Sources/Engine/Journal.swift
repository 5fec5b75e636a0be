import Blueprints
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning

// The engine talks to the world through three protocols: a machine driver and a remote shell (in
// MachineAccess), and the journal here (the state store). Each has an in-memory implementation for
// tests in EngineTestSupport; the SQLite and etcd stores, the SSH transport and the drivers plug in
// unchanged.

/// An action's effect on the recorded state, written in the same transaction as the transition that
/// caused it, so the state never says more or less than what happened.
public enum Effect: Sendable, Hashable {
    /// Before the driver is asked: the machine will exist under this name (lifecycle `creating`).
    case machineIntent(MachineSpec)
    /// The driver made (or adopted) it (lifecycle `bringing-up`).
    case machineCreated(MachineSpec, MachineHandle)
    /// Its last bring-up step finished (lifecycle `ready`, completed actions cleared).
    case machineReady(name: String)
    /// Its removal started (lifecycle `deleting`).
    case machineDeleting(name: String)
    /// The driver removed it: the machine and its files leave the recorded state.
    case machineDeleted(name: String)
    /// A file now on the machine; `content` is kept for diffs unless it is sensitive.
    case fileUploaded(machine: String, path: String, sha256: String, mode: Int, content: String?)
    /// A value captured from a command's output, by group.
    case captured(group: String, name: String, value: String, secret: Bool)
    /// A bring-up or tear-down step finished on a machine that is not ready (for resume).
    case actionCompleted(machine: String, actionID: String)
}

/// One transition of one action.
public struct Transition: Sendable, Hashable {
    public enum Status: String, Sendable, Codable {
        case started, succeeded, failed, skipped, interrupted
    }

    public var actionID: String
    public var machine: String
    public var status: Status
    public var at: Date
    /// Why it failed or was skipped, safe to print.
    public var message: String?
    /// The last lines a failed command wrote to stderr (secrets already masked).
    public var stderrTail: String?
    public var attempt: Int
    public var effects: [Effect]

    public init(
        actionID: String, machine: String, status: Status, at: Date = Date(), message: String? = nil, stderrTail: String? = nil,
        attempt: Int = 1, effects: [Effect] = []
    ) {
        self.actionID = actionID
        self.machine = machine
        self.status = status
        self.at = at
        self.message = message
        self.stderrTail = stderrTail
        self.attempt = attempt
        self.effects = effects
    }
}

/// Where the engine writes down what happens. `record` returns once the transitions and their effects
/// are durable; the engine never starts an action before its `started` transition is recorded.
public protocol RunJournal: Sendable {
    func record(_ transitions: [Transition]) async throws
    /// The recorded state as it is now (captured values included), for re-rendering actions that needed
    /// values known only after apply.
    func recordedState() async throws -> RecordedState
}
