import Blueprints
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning

/// Runs single actions: resolves machines, re-renders what needed captured values, checks guards,
/// retries, and journals each outcome with its effects.
final class ExecutionContext: Sendable {
    let engine: Engine
    let facts: PlanFacts
    let events: @Sendable (EngineEvent) -> Void
    /// Machines reached in this run, by name.
    let handles = Locked<[String: MachineHandle]>([:])
    let commits: GroupCommit

    init(engine: Engine, facts: PlanFacts, events: @escaping @Sendable (EngineEvent) -> Void) {
        self.engine = engine
        self.facts = facts
        self.events = events
        commits = GroupCommit(journal: engine.journal)
    }

    var plan: Plan { engine.plan }

    func spec(for action: PlanAction) -> MachineSpec? {
        guard case .createMachine(let flavor, let address, let needs) = action.detail,
            let machine = plan.machines.first(where: { $0.name == action.machine })
        else { return nil }
        return MachineSpec(
            name: machine.name, group: machine.group, kind: facts.kindOf[machine.group] ?? "", role: machine.role,
            index: machine.index, flavor: flavor, address: address, needs: needs)
    }

    /// The `started` transition, with the effects that must be durable before the action runs.
    func startTransition(_ index: Int) -> Transition {
        let action = plan.actions[index]
        var effects: [Effect] = []
        if let spec = spec(for: action) { effects.append(.machineIntent(spec)) }
        if facts.startsRemoval.contains(index) { effects.append(.machineDeleting(name: action.machine)) }
        return Transition(actionID: action.id, machine: action.machine, status: .started, effects: effects)
    }

    func execute(_ index: Int) async -> Completion {
        let action = plan.actions[index]
        do {
            try await commits.record(startTransition(index))
        } catch {
            return Completion(
                index: index, status: .failed, message: nil,
                journalError: "could not record the start of \(action.id): \(error)", notStarted: true)
        }
        events(.started(action: index, attempt: 1))
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 1
        while true {
            var transition: Transition
            do {
                let result = try await perform(action)
                transition = Transition(
                    actionID: action.id, machine: action.machine, status: result.skipped ? .skipped : .succeeded,
                    message: result.message, attempt: attempt, effects: result.effects + completionEffects(index, action))
            } catch is CancellationError {
                transition = Transition(actionID: action.id, machine: action.machine, status: .interrupted, message: "interrupted", attempt: attempt)
            } catch let failure as ActionFailure {
                if failure.transient, attempt < engine.options.transientAttempts, !Task.isCancelled {
                    let delay = backoff(attempt)
                    events(.retrying(action: index, attempt: attempt + 1, after: delay, reason: failure.message))
                    do { try await engine.options.sleep(delay) } catch {
                        return await finish(
                            index,
                            Transition(
                                actionID: action.id, machine: action.machine, status: .interrupted,
                                message: "interrupted", attempt: attempt), clock.now - start)
                    }
                    attempt += 1
                    events(.started(action: index, attempt: attempt))
                    continue
                }
                let message = failure.transient ? "\(failure.message) (gave up after \(attempt) attempts)" : failure.message
                transition = Transition(
                    actionID: action.id, machine: action.machine, status: .failed, message: message,
                    stderrTail: failure.stderrTail, attempt: attempt)
            } catch {
                transition = Transition(actionID: action.id, machine: action.machine, status: .failed, message: String(describing: error), attempt: attempt)
            }
            return await finish(index, transition, clock.now - start)
        }
    }

    /// Journals the outcome even when the run is being cancelled, then reports it.
    func finish(_ index: Int, _ transition: Transition, _ elapsed: Duration) async -> Completion {
        var journalError: String?
        do {
            try await commits.record(transition)
        } catch {
            journalError = "could not record \(transition.actionID) \(transition.status.rawValue): \(error)"
        }
        events(.finished(action: index, status: transition.status, elapsed: elapsed, message: transition.message))
        return Completion(
            index: index, status: journalError == nil ? transition.status : .failed,
            message: journalError ?? transition.message, stderrTail: transition.stderrTail, journalError: journalError)
    }

    /// Effects of finishing: readiness, removal, and resume bookkeeping.
    func completionEffects(_ index: Int, _ action: PlanAction) -> [Effect] {
        var effects: [Effect] = []
        if facts.recordsCompletion.contains(index), action.type != .createMachine, action.type != .deleteMachine {
            effects.append(.actionCompleted(machine: action.machine, actionID: action.id))
        }
        if facts.makesReady.contains(index) { effects.append(.machineReady(name: action.machine)) }
        return effects
    }

    /// Full jitter: a random delay up to base·2^(attempt−1), capped.
    func backoff(_ attempt: Int) -> Duration {
        let options = engine.options
        let ceiling = min(options.backoffCap, options.backoffBase * (1 << min(attempt - 1, 20)))
        let milliseconds = max(1, Int(ceiling.components.seconds * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000))
        return .milliseconds(Int.random(in: 0...milliseconds))
    }

    // MARK: Machines

    func handle(_ name: String) async throws -> MachineHandle {
        if let known = handles.withLock({ $0[name] }) { return known }
        let found: MachineHandle?
        do {
            found = try await engine.driver.lookup(name: name)
        } catch {
            throw classify(error, "looking up machine \(name)")
        }
        guard let found else {
            throw ActionFailure(
                message: "machine \(name) is recorded but the control plane does not know it (removed outside photon?)",
                stderrTail: nil, transient: false)
        }
        handles.withLock { $0[name] = found }
        return found
    }

    /// The error to throw for a failed driver or shell call: cancellation stays cancellation (the action
    /// is interrupted, not failed); anything else says what was being done and whether a retry may help.
    func classify(_ error: any Error, _ doing: String) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        if let failure = error as? ActionFailure { return failure }
        let transient = (error as? any RetryClassifying)?.isTransient ?? false
        return ActionFailure(message: error is any MachineOperationError ? "\(error)" : "\(doing): \(error)", stderrTail: nil, transient: transient)
    }

    // MARK: Actions

    struct Result {
        var effects: [Effect] = []
        var skipped = false
        var message: String?
    }

    // One switch over every action kind, each case a few lines: the whole dispatch reads best in one place.
    func perform(_ planned: PlanAction) async throws -> Result {
        try Task.checkCancellation()
        var action = planned
        if needsValues(action) { action = try await rerender(action) }
        switch action.detail {
        case .gate:
            return Result()
        case .createMachine:
            guard let spec = spec(for: action) else {
                throw ActionFailure(message: "no machine \(action.machine) in the plan", stderrTail: nil, transient: false)
            }
            let handle: MachineHandle
            do { handle = try await engine.driver.create(spec) } catch { throw classify(error, "creating machine \(spec.name)") }
            handles.withLock { $0[spec.name] = handle }
            return Result(effects: [.machineCreated(spec, handle)])
        case .deleteMachine:
            do { try await engine.driver.delete(name: action.machine) } catch { throw classify(error, "deleting machine \(action.machine)") }
            handles.withLock { $0[action.machine] = nil }
            return Result(effects: [.machineDeleted(name: action.machine)])
        case .upload(let file):
            let target = try await handle(action.runsOn ?? action.machine)
            if let skip = try await guardSkips(action, on: target) { return skip }
            let bytes: [UInt8]
            if file.isArtifact {
                guard let data = FileManager.default.contents(atPath: file.content.text) else {
                    throw ActionFailure(message: "cannot read \(file.source) at \(file.content.text)", stderrTail: nil, transient: false)
                }
                bytes = Array(data)
            } else {
                bytes = Array(file.content.text.utf8)
            }
            do {
                try await engine.shell.upload(bytes, to: file.path, mode: file.mode, owner: file.owner, on: target)
            } catch {
                throw classify(error, "uploading \(file.path) to \(target.name)")
            }
            let digest = file.sha256 ?? ContentDigest.sha256(bytes)
            return Result(effects: [
                .fileUploaded(
                    machine: action.machine, path: file.path, sha256: digest, mode: file.mode,
                    content: file.content.isSensitive || file.isArtifact ? nil : file.content.text)
            ])
        case .command(let argv):
            let target = try await handle(action.runsOn ?? action.machine)
            if let skip = try await guardSkips(action, on: target) { return skip }
            let output = try await runChecked(RenderedText.shellCommand(argv), argv: argv, action: action, on: target)
            return Result(message: Self.waitNote(output))
        case .service(let name, let serviceAction, let exec):
            let target = try await handle(action.runsOn ?? action.machine)
            if let skip = try await guardSkips(action, on: target) { return skip }
            let script = ServiceScript.script(name: name, action: serviceAction, exec: exec?.map(\.text))
            let output = try await runChecked(script, argv: exec ?? [], action: action, on: target)
            return Result(message: Self.waitNote(output))
        case .capture(let name, let argv, let secret):
            let target = try await handle(action.runsOn ?? action.machine)
            let output = try await runChecked(RenderedText.shellCommand(argv), argv: argv, action: action, on: target)
            let value = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            return Result(effects: [.captured(group: facts.groupOf[action.machine] ?? "", name: name, value: value, secret: secret)])
        case .waitPort(let host, let port):
            guard let portNumber = Int(port) else { throw ActionFailure(message: "'\(port)' is not a port", stderrTail: nil, transient: false) }
            let deadline = ContinuousClock.now + (action.timeout.map(Self.duration) ?? engine.options.defaultWaitTimeout)
            var delay = firstPoll
            while true {
                if await engine.shell.isListening(host: host, port: portNumber, timeout: .seconds(3)) { return Result() }
                guard ContinuousClock.now < deadline else {
                    throw ActionFailure(
                        message: "nothing listens on \(host):\(port) after \(action.timeout?.description ?? "the timeout")", stderrTail: nil, transient: false)
                }
                try await engine.options.sleep(delay)
                delay = min(delay * 2, engine.options.pollInterval)
            }
        case .waitCommand(let argv):
            let target = try await handle(action.runsOn ?? action.machine)
            let deadline = ContinuousClock.now + (action.timeout.map(Self.duration) ?? engine.options.defaultWaitTimeout)
            var last = CommandOutput()
            var delay = firstPoll
            while true {
                last = try await execute(RenderedText.shellCommand(argv), on: target, timeout: .seconds(60))
                if last.succeeded { return Result() }
                guard ContinuousClock.now < deadline else {
                    throw ActionFailure(
                        message:
                            "\(RenderedText.displayCommand(argv)) did not succeed within \(action.timeout?.description ?? "the timeout") (last exit \(last.exitStatus))",
                        stderrTail: await masked(tail(last.stderr), argv), transient: false)
                }
                try await engine.options.sleep(delay)
                delay = min(delay * 2, engine.options.pollInterval)
            }
        }
    }

    static func duration(_ span: TimeSpan) -> Duration { .milliseconds(Int64(span.milliseconds)) }

    /// What the progress says when a run waited for the one a stopped photon left on the machine.
    static func waitNote(_ output: CommandOutput) -> String? {
        StepLock.waited(in: output.stderr).map { "waited \($0) s for the run an earlier photon left on the machine to end" }
    }

    /// Waits poll quickly at first (most things come up within a second), then back off to the poll interval.
    var firstPoll: Duration { min(.milliseconds(100), engine.options.pollInterval) }

    /// Runs a command; a non-zero exit fails the action, after the step's own retries if it declares some.
    @discardableResult
    func runChecked(_ command: String, argv: [RenderedText], action: PlanAction, on target: MachineHandle) async throws -> CommandOutput {
        let attempts = action.retry?.attempts ?? 1
        var attempt = 1
        while true {
            let output = try await execute(command, on: target, timeout: action.timeout.map(Self.duration), step: action.id)
            if output.succeeded { return output }
            if attempt < attempts {
                attempt += 1
                try await engine.options.sleep(action.retry.map { Self.duration($0.delay) } ?? .seconds(2))
                continue
            }
            let how = output.signal.map { "was killed by SIG\($0)" } ?? "exited with \(output.exitStatus)"
            throw ActionFailure(
                message: "command \(how) on \(target.name)\(attempts > 1 ? " (after \(attempts) attempts)" : "")",
                stderrTail: await failureTail(output, argv: argv, action: action), transient: false)
        }
    }

    /// Runs a command on the machine; with `step`, as a run of that step (under its lock there).
    func execute(_ command: String, on target: MachineHandle, timeout: Duration?, step: String? = nil) async throws -> CommandOutput {
        do {
            guard let step else { return try await engine.shell.execute(command, on: target, timeout: timeout) }
            return try await engine.shell.execute(command, asStep: step, on: target, timeout: timeout)
        } catch {
            throw classify(error, "running a command on \(target.name)")
        }
    }

    /// `creates` and `unless` guards: the step is already done.
    func guardSkips(_ action: PlanAction, on target: MachineHandle) async throws -> Result? {
        if let path = action.creates, !path.isUnknown {
            let output = try await execute("test -e \(ShellQuoting.quote(path.text))", on: target, timeout: .seconds(60), step: action.id)
            if output.succeeded {
                return Result(skipped: true, message: ["\(path.display) exists", Self.waitNote(output)].compactMap { $0 }.joined(separator: "; "))
            }
        }
        if let unless = action.unless, !unless.contains(where: \.isUnknown) {
            let output = try await execute(RenderedText.shellCommand(unless), on: target, timeout: .seconds(60), step: action.id)
            if output.succeeded {
                let done = "already done (\(RenderedText.displayCommand(unless)) succeeded)"
                return Result(skipped: true, message: [done, Self.waitNote(output)].compactMap { $0 }.joined(separator: "; "))
            }
        }
        return nil
    }

    // MARK: Values known after apply

    func needsValues(_ action: PlanAction) -> Bool {
        switch action.detail {
        case .upload(let file): return file.content.isUnknown && !file.isArtifact
        case .command(let argv), .waitCommand(let argv), .capture(_, let argv, _): return argv.contains(where: \.isUnknown)
        case .service(_, _, let exec): return exec?.contains(where: \.isUnknown) ?? false
        default: return (action.unless?.contains(where: \.isUnknown) ?? false) || (action.creates?.isUnknown ?? false)
        }
    }

    /// Renders the action again with the values captured so far.
    func rerender(_ action: PlanAction) async throws -> PlanAction {
        guard let renderer = engine.renderer else {
            throw ActionFailure(
                message: "\(action.id) needs values known only after apply, and this plan cannot render them", stderrTail: nil, transient: false)
        }
        let recorded: RecordedState
        do { recorded = try await engine.journal.recordedState() } catch { throw classify(error, "reading captured values") }
        let rendered: PlanAction?
        do { rendered = try renderer.rerender(action, captured: recorded.captured) } catch {
            throw ActionFailure(message: error.description, stderrTail: nil, transient: false)
        }
        guard let rendered, !needsValues(rendered) else {
            throw ActionFailure(message: "\(action.id) still needs a value that no step has captured", stderrTail: nil, transient: false)
        }
        return rendered
    }

    // MARK: Output

    func tail(_ text: String, lines: Int = 20) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        return trimmed.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// What a failed command printed, for the error: its stderr (its stdout when stderr is empty, unless
    /// it captures a secret), with every secret photon knows masked, and a secret capture's own output too.
    func failureTail(_ output: CommandOutput, argv: [RenderedText], action: PlanAction) async -> String? {
        guard case .capture(_, _, true) = action.detail else {
            return await masked(tail(output.stderr.isEmpty ? output.stdout : output.stderr), argv)
        }
        let printed = output.stdout.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        return await masked(tail(output.stderr), argv, also: printed)
    }

    /// Removes secret values from what a machine printed: the command's sensitive arguments, the
    /// deployment's secrets and sensitive settings, every secret captured so far, and `also`.
    func masked(_ text: String?, _ argv: [RenderedText], also: [String] = []) async -> String? {
        guard let text else { return nil }
        var secrets = also + argv.filter(\.isSensitive).map(\.text) + (engine.renderer?.sensitiveValues ?? [])
        if let recorded = try? await engine.journal.recordedState() {
            secrets += recorded.captured.values.filter(\.secret).map(\.value)
        }
        return SecretMasking.mask(text, secrets)
    }
}

extension RenderedText {
    /// The command line a machine runs: every argument quoted.
    public static func shellCommand(_ argv: [RenderedText]) -> String {
        ShellQuoting.join(argv.map(\.text))
    }
}
