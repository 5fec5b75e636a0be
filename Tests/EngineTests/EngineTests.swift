import Blueprints
import Engine
import EngineTestSupport
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning
import Testing

/// The in-memory shell's behaviour for the toy kind's commands.
func toyResponder(_ shell: InMemoryShell, failJoinOn: Set<String> = []) -> @Sendable (String, String) -> CommandOutput? {
    return { command, machine in
        if command.hasPrefix("toy-init") {
            shell.markExists("/var/lib/toy/initialised", on: machine)
        } else if command.hasPrefix("toy-token") {
            return CommandOutput(stdout: "TOKEN-\(machine)\n")
        } else if command.hasPrefix("toy-join") {
            if failJoinOn.contains(machine) { return CommandOutput(stderr: "toy-join: leader refused the token TOKEN-t-c-leaders-1\n", exitStatus: 3) }
            shell.markExists("/var/lib/toy/joined", on: machine)
        }
        return nil
    }
}

struct Fixture {
    /// The toy kind, loaded into memory from a folder that is removed at once.
    static let catalog: KindCatalog = {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "photon-engine-kinds-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        do { return try KindCatalog.load(directory: ToyKind.install(in: directory).path) } catch { fatalError("\(error)") }
    }()

    static func blueprint(members: Int, leaders: Int = 1, rollout: String = "") -> String {
        """
        name: t
        controlPlane: {driver: local, network: 10.50.0.0/22}
        clusters:
          - name: c
            kind: toy
            roles: {leaders: \(leaders), members: \(members)}
        \(rollout.isEmpty ? "" : "    rollout: \(rollout)")
        """
    }

    static func plan(_ yaml: String, recorded: RecordedState, catalog: KindCatalog = catalog) throws -> (Plan, ActionRenderer) {
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:])).load(bytes: Array(yaml.utf8), file: "bp.yaml")
        let planner = Planner(catalog: catalog, secrets: SecretSource(environment: [:]), photonVersion: "test")
        let resolved = try Resolver(catalog: catalog, secrets: planner.secrets, recorded: recorded).resolve(blueprint)
        return try planner.planForApply(resolved, recorded: recorded)
    }

    /// Plans against the journal's state and runs the plan.
    static func apply(
        _ yaml: String, driver: InMemoryDriver, shell: InMemoryShell, journal: InMemoryJournal, options: EngineOptions = fast,
        stop: StopSignal = StopSignal(), events: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) async throws -> (Plan, RunOutcome) {
        let (plan, renderer) = try plan(yaml, recorded: try await journal.recordedState())
        let engine = Engine(plan: plan, renderer: renderer, driver: driver, shell: shell, journal: journal, options: options)
        return (plan, await engine.run(stop: stop, events: events))
    }

    static let fast = EngineOptions(parallelism: 16, pollInterval: .milliseconds(1), sleep: { _ in })
}

@Suite("Engine")
struct EngineTests {
    @Test("a new cluster comes up: machines made once, files pushed, the captured token used by the joins, machines ready")
    func bringUp() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        let (plan, outcome) = try await Fixture.apply(Fixture.blueprint(members: 3), driver: driver, shell: shell, journal: journal)
        #expect(outcome.status == .succeeded)
        #expect(outcome.failed == 0)
        #expect(outcome.succeeded == plan.summary.actions)
        #expect(driver.creations == ["t-c-leaders-1": 1, "t-c-members-1": 1, "t-c-members-2": 1, "t-c-members-3": 1])
        #expect(shell.file("/etc/toy.conf", on: "t-c-members-2") == "name=t-c-members-2\nport=7000\ntoken=TOKEN-t-c-leaders-1\n")
        #expect(shell.commands(on: "t-c-members-1").contains("toy-join --config /etc/toy.conf 10.50.0.2"))
        #expect(ToyKind.token(inConfig: shell.file("/etc/toy.conf", on: "t-c-members-1")) == "TOKEN-t-c-leaders-1")
        #expect(!shell.allExecutions().contains { $0.command.contains("TOKEN") }, "the token is on no command line")
        let state = journal.state
        #expect(state.machines.count == 4)
        #expect(state.machines.allSatisfy { $0.lifecycle == .ready && $0.completedActions.isEmpty })
        #expect(state.captured["c/token"] == RecordedValue(value: "TOKEN-t-c-leaders-1", secret: true))
        #expect(state.machines.first { $0.name == "t-c-leaders-1" }?.files["/etc/toy.conf"]?.content == "name=t-c-leaders-1\nport=7000\n")
        // Every action was journaled before it started and after it ended.
        for action in plan.actions where action.type != .gate {
            #expect(journal.statuses(of: action.id) == [.started, .succeeded], "\(action.id)")
        }
    }

    @Test("the same blueprint again does nothing; one more member touches only that member")
    func convergence() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        _ = try await Fixture.apply(Fixture.blueprint(members: 2), driver: driver, shell: shell, journal: journal)
        let before = shell.allExecutions().count
        let (again, outcome) = try await Fixture.apply(Fixture.blueprint(members: 2), driver: driver, shell: shell, journal: journal)
        #expect(!again.hasChanges)
        #expect(outcome.status == .succeeded)
        #expect(shell.allExecutions().count == before)
        let (grown, grownOutcome) = try await Fixture.apply(Fixture.blueprint(members: 3), driver: driver, shell: shell, journal: journal)
        #expect(grownOutcome.status == .succeeded)
        #expect(Set(grown.actions.filter { $0.type != .gate }.map(\.machine)) == ["t-c-members-3"])
        #expect(shell.allExecutions().dropFirst(before).allSatisfy { $0.machine == "t-c-members-3" || $0.command.hasPrefix("toy-status") })
        #expect(driver.creations.values.allSatisfy { $0 == 1 })
    }

    @Test("at most `parallelism` actions run at once")
    func parallelism() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        shell.latency = .milliseconds(2)
        let options = EngineOptions(parallelism: 3, pollInterval: .milliseconds(1), sleep: { _ in })
        let (_, outcome) = try await Fixture.apply(
            Fixture.blueprint(members: 12, rollout: "{maxInFlight: 100%}"), driver: driver, shell: shell,
            journal: journal, options: options)
        #expect(outcome.status == .succeeded)
        #expect(shell.maxConcurrent <= 3)
        #expect(shell.maxConcurrent >= 2)
    }

    @Test("maxInFlight bounds the machines of a role being changed at once")
    func maxInFlight() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        let inFlight = Locked<(current: Set<String>, most: Int)>(([], 0))
        let plan = try Fixture.plan(Fixture.blueprint(members: 8, rollout: "{maxInFlight: 25%}"), recorded: .empty).0
        let remaining = Locked(Dictionary(plan.machines.map { ($0.name, $0.actions.count) }, uniquingKeysWith: { a, _ in a }))
        let (_, outcome) = try await Fixture.apply(
            Fixture.blueprint(members: 8, rollout: "{maxInFlight: 25%}"), driver: driver, shell: shell,
            journal: journal
        ) { event in
            switch event {
            case .started(let index, 1):
                let machine = plan.actions[index].machine
                guard machine.contains("members") else { return }
                inFlight.withLock {
                    $0.current.insert(machine)
                    $0.most = max($0.most, $0.current.count)
                }
            case .finished(let index, _, _, _):
                let machine = plan.actions[index].machine
                guard machine.contains("members") else { return }
                let left = remaining.withLock {
                    $0[machine, default: 1] -= 1
                    return $0[machine] ?? 0
                }
                if left == 0 { inFlight.withLock { _ = $0.current.remove(machine) } }
            default: break
            }
        }
        #expect(outcome.status == .succeeded)
        #expect(inFlight.current.most == 2)
    }

    @Test("transient failures are retried with backoff until they pass")
    func transientRetries() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        driver.failCreate = ["t-c-members-1": (3, true)]
        let delays = Locked<[Duration]>([])
        let options = EngineOptions(
            parallelism: 8, transientAttempts: 5, backoffBase: .milliseconds(100), pollInterval: .milliseconds(1),
            sleep: { delay in delays.withLock { $0.append(delay) } })
        let (_, outcome) = try await Fixture.apply(Fixture.blueprint(members: 1), driver: driver, shell: shell, journal: journal, options: options)
        #expect(outcome.status == .succeeded)
        #expect(driver.creations["t-c-members-1"] == 1)
        let retries = delays.current.filter { $0 <= .milliseconds(400) }
        #expect(retries.count >= 3)
        #expect(journal.transitions.filter { $0.actionID == "t-c-members-1/create-machine" }.map(\.attempt).max() == 4)
    }

    @Test("a transient failure that never passes gives up after the attempts, naming them")
    func transientGivesUp() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        driver.failCreate = ["t-c-members-1": (99, true)]
        let (_, outcome) = try await Fixture.apply(Fixture.blueprint(members: 2), driver: driver, shell: shell, journal: journal)
        #expect(outcome.status == .failed)
        #expect(outcome.failures.map(\.actionID) == ["t-c-members-1/create-machine"])
        #expect(outcome.failures.first?.message == "creating machine t-c-members-1: driver busy creating t-c-members-1 (gave up after 5 attempts)")
    }

    @Test("a permanent failure stops what depends on it; independent machines finish")
    func permanentFailure() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell, failJoinOn: ["t-c-members-2"])
        let (plan, outcome) = try await Fixture.apply(Fixture.blueprint(members: 3), driver: driver, shell: shell, journal: journal)
        #expect(outcome.status == .failed)
        #expect(outcome.failures.count == 1)
        let failure = try #require(outcome.failures.first)
        #expect(failure.actionID == "t-c-members-2/join/1")
        #expect(failure.message == "command exited with 3 on t-c-members-2")
        // The captured token it printed is masked.
        #expect(failure.stderrTail == "toy-join: leader refused the token (sensitive)")
        // Its health check never ran; the other members are ready.
        #expect(journal.statuses(of: "t-c-members-2/health/1").isEmpty)
        #expect(outcome.blocked >= 1)
        let ready = journal.state.machines.filter { $0.lifecycle == .ready }.map(\.name).sorted()
        #expect(ready == ["t-c-leaders-1", "t-c-members-1", "t-c-members-3"])
        #expect(plan.actions.count > 0)
        // The token never reaches the failure report.
        #expect(!(failure.stderrTail ?? "").contains("TOKEN"))
    }

    @Test("a step whose guard says it is done is skipped")
    func guards() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        shell.markExists("/var/lib/toy/initialised", on: "t-c-leaders-1")
        let (_, outcome) = try await Fixture.apply(Fixture.blueprint(members: 0), driver: driver, shell: shell, journal: journal)
        #expect(outcome.status == .succeeded)
        #expect(outcome.skipped == 1)
        #expect(!shell.commands(on: "t-c-leaders-1").contains("toy-init"))
        #expect(journal.statuses(of: "t-c-leaders-1/join/1") == [.started, .skipped])
    }

    @Test("a stop lets running actions finish and starts nothing new; the next apply finishes the job")
    func gracefulStopAndResume() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        let stop = StopSignal()
        let finished = Locked(0)
        let (_, outcome) = try await Fixture.apply(
            Fixture.blueprint(members: 6), driver: driver, shell: shell, journal: journal,
            options: EngineOptions(parallelism: 2, pollInterval: .milliseconds(1), sleep: { _ in }),
            stop: stop
        ) { event in
            if case .finished = event,
                finished.withLock({
                    $0 += 1
                    return $0
                }) == 7
            {
                stop.request()
            }
        }
        #expect(outcome.status == .interrupted)
        #expect(outcome.notStarted > 0)
        #expect(journal.transitions.filter { $0.status == .started }.count == journal.transitions.filter { $0.status != .started }.count)
        let (_, resumed) = try await Fixture.apply(Fixture.blueprint(members: 6), driver: driver, shell: shell, journal: journal)
        #expect(resumed.status == .succeeded)
        #expect(driver.creations.count == 7)
        #expect(driver.creations.values.allSatisfy { $0 == 1 })
        #expect(journal.state.machines.allSatisfy { $0.lifecycle == .ready })
        for member in 1...6 {
            #expect(shell.commands(on: "t-c-members-\(member)").filter { $0.hasPrefix("toy-join") }.count == 1)
        }
    }

    @Test("an abort interrupts running actions and journals them as interrupted")
    func abort() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        shell.latency = .seconds(30)
        let (plan, renderer) = try Fixture.plan(Fixture.blueprint(members: 2), recorded: .empty)
        let engine = Engine(plan: plan, renderer: renderer, driver: driver, shell: shell, journal: journal, options: Fixture.fast)
        let task = Task { await engine.run() }
        while journal.transitions.filter({ $0.status == .started }).count < 3 { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(20))
        task.cancel()
        let outcome = await task.value
        #expect(outcome.status == .interrupted)
        #expect(journal.transitions.contains { $0.status == .interrupted })
        #expect(journal.transitions.filter { $0.status == .started }.count == journal.transitions.filter { $0.status != .started }.count)
    }

    @Test("when the journal fails, nothing more starts and the run fails saying why")
    func journalFailure() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        journal.failAfterWrites = 5
        let (_, outcome) = try await Fixture.apply(Fixture.blueprint(members: 3), driver: driver, shell: shell, journal: journal)
        #expect(outcome.status == .failed)
        #expect(outcome.journalError?.contains("disk full") == true)
        #expect(driver.creations.count < 4)
    }

    @Test("scale-down drains through the leader, leaves, and deletes the machine")
    func scaleDown() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        _ = try await Fixture.apply(Fixture.blueprint(members: 3), driver: driver, shell: shell, journal: journal)
        let (_, outcome) = try await Fixture.apply(Fixture.blueprint(members: 1), driver: driver, shell: shell, journal: journal)
        #expect(outcome.status == .succeeded)
        #expect(driver.deletions == ["t-c-members-3": 1, "t-c-members-2": 1])
        #expect(shell.commands(on: "t-c-leaders-1").contains("toy-drain t-c-members-3"))
        #expect(shell.commands(on: "t-c-members-3").contains("toy-leave"))
        #expect(journal.state.machines.map(\.name).sorted() == ["t-c-leaders-1", "t-c-members-1"])
    }
}
