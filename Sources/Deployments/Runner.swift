import Blueprints
import Crypto
import Engine
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// Everything apply, scale and destroy share. A run goes through named phases (Runner+Phases.swift):
/// target (what the goal leaves of the blueprint), prepare (resolve once per new fact: scaled counts,
/// generated secrets, certificates, the machines' health; then plan), show, confirm and run, finish.
package struct Runner {
    /// What a run converges to.
    package enum Goal: Equatable {
        /// The whole blueprint.
        case apply
        /// Only the management plane (the installer's part of a bootstrap); clusters are left as they are.
        case applyManagement
        /// No machine, then no recorded state.
        case destroy
        /// These clusters gone (nil: every cluster); the rest stays as recorded.
        case destroyClusters([String]?)

        package var isDestroy: Bool {
            switch self {
            case .apply, .applyManagement: false
            case .destroy, .destroyClusters: true
            }
        }
    }

    /// Runs (with their journals and logs) kept in the recorded state.
    package static let keptRuns = 100

    package let blueprintPath: String
    package let workspace: Workspace
    package let blueprint: Blueprint
    package let state: OpenedState
    package let stateLocation: StateLocation
    package var store: any DeploymentStore { state.store }
    package var stateDirectory: String { state.directory }
    package let options: RunSettings
    package let command: String

    package init(blueprintPath: String, templates: String?, state: StateLocation, options: RunSettings, command: String) async throws {
        self.blueprintPath = blueprintPath
        var workspace = try Workspace(templates: templates)
        try await workspace.receivePlaneSecrets()
        self.workspace = workspace
        blueprint = try workspace.loadBlueprint(blueprintPath)
        self.state = try await state.open(deployment: blueprint.name.value)
        stateLocation = state
        self.options = options
        self.command = command
    }

    /// Whether this command goes to the deployment's management plane: it has one, this photon is not
    /// inside it, and `--local` was not given (its context file decides once the plane exists).
    package var usesPlane: Bool { blueprint.management != nil && !state.inPlane && !stateLocation.local }

    package func execute(saved: SavedPlan?, goal: Goal, scaling: Scaling? = nil, confirmed: Bool = false) async throws {
        let lock = try await acquireLock()
        if let warning = lock.warning { Output.error("warning: \(warning)") }
        do {
            try await converge(saved: saved, goal: goal, scaling: scaling, confirmed: confirmed)
        } catch {
            _ = try? await store.releaseLock(lock.id)
            throw error
        }
        _ = try? await store.releaseLock(lock.id)
    }

    /// Takes the deployment's lock. In the management plane a run resumed by a new leader waits for the
    /// dead leader's lock to expire with its lease (at most its TTL) instead of failing.
    package func acquireLock() async throws -> LockAcquisition {
        let deadline = ContinuousClock.now + (state.inPlane ? .seconds(45) : .zero)
        while true {
            do {
                return try await store.acquireLock(command: "\(command) \(blueprintPath)")
            } catch  where error is PhotonError && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    package func backendContext() async throws -> BackendContext {
        BackendContext(stateDirectory: stateDirectory, recordedHandles: try await store.machineHandles(), agent: state.agent)
    }

    package func blueprintBytes() throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: blueprintPath) else { throw PhotonError("cannot read \(blueprintPath)") }
        return Array(data)
    }

    /// Makes a value for each `generate` secret not recorded yet: 32 random bytes as 64 hex digits
    /// (what kubeadm's certificate key needs, and strong for any token).
    /// Returns the values it stored (the recorded state then has a new serial).
    package func generateSecrets(_ keys: [String], existing: [String: String]) async throws -> [String: String] {
        var fresh: [String: String] = [:]
        for key in keys where existing[key] == nil {
            fresh[key] = SymmetricKey(size: .bits256).withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
        }
        if !fresh.isEmpty { try await store.storeGeneratedSecrets(fresh) }
        return fresh
    }

    /// Asks on a terminal; without one, `--yes` must say so.
    package func confirm(_ question: String) throws {
        try Confirmation.ask(question, yes: options.yes, command: command, changing: "machines")
    }

    package func summary(_ outcome: RunOutcome) -> String {
        "\(outcome.succeeded) done, \(outcome.skipped) already done, \(outcome.failed) failed, \(outcome.blocked) blocked, \(outcome.notStarted) not started"
    }

    package func report(_ outcome: RunOutcome, plan: Plan) {
        var lines: [String] = []
        switch outcome.status {
        case .succeeded: lines.append("\(command) of \(blueprint.name.value) complete: \(summary(outcome)).")
        case .interrupted: lines.append("\(command) of \(blueprint.name.value) interrupted: \(summary(outcome)). Run it again to finish.")
        case .failed: lines.append("\(command) of \(blueprint.name.value) failed: \(summary(outcome)).")
        }
        if let journalError = outcome.journalError { lines.append("error: the state store failed: \(journalError)") }
        for failure in outcome.failures {
            lines.append("error: \(failure.actionID) on \(failure.machine): \(failure.message)")
            lines.append("  step: \(failure.summary)")
            if let tail = failure.stderrTail {
                lines.append(contentsOf: tail.split(separator: "\n", omittingEmptySubsequences: false).map { "  | \($0)" })
            }
        }
        if outcome.status != .succeeded { lines.append("The log of this run is in \(stateDirectory)/runs/.") }
        Output.error(TerminalText.visible(lines.joined(separator: "\n")))
    }

    package func removeState() async throws {
        try await store.removeAll()
        Output.error("Removed the recorded state of \(blueprint.name.value) (\(stateDirectory)).")
    }
}

/// The one way photon asks before it changes something.
package enum Confirmation {
    /// Asks on a terminal (only "yes" proceeds); without one, `yes` (the --yes flag) must say so.
    package static func ask(_ question: String, yes: Bool, command: String, changing what: String) throws {
        if yes { return }
        guard isatty(STDIN_FILENO) == 1 else {
            throw PhotonError("\(command) changes \(what) and there is no terminal to ask on", help: "add --yes to \(command) without asking")
        }
        Output.error("\(question) Only 'yes' proceeds: ", newline: false)
        guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
            Output.error("Nothing was changed.")
            throw OperationExit.failure
        }
    }
}
