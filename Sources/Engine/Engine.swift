import Blueprints
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning

/// How the engine runs a plan.
public struct EngineOptions: Sendable {
    /// Actions running at once across the deployment (sized for SSH fan-out).
    public var parallelism: Int
    /// Attempts for an action that fails transiently (connection refused, timeout, busy driver).
    public var transientAttempts: Int
    /// Backoff between attempts: full jitter over base·2ⁿ, at most `backoffCap`.
    public var backoffBase: Duration
    public var backoffCap: Duration
    /// How often `wait` steps look again.
    public var pollInterval: Duration
    /// A `wait` step's timeout when the kind gives none.
    public var defaultWaitTimeout: Duration
    /// Sleeps between attempts and polls; tests make time pass instantly.
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(
        parallelism: Int = 64, transientAttempts: Int = 5, backoffBase: Duration = .milliseconds(500), backoffCap: Duration = .seconds(30),
        pollInterval: Duration = .seconds(1), defaultWaitTimeout: Duration = .seconds(300),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.parallelism = max(1, parallelism)
        self.transientAttempts = max(1, transientAttempts)
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.pollInterval = pollInterval
        self.defaultWaitTimeout = defaultWaitTimeout
        self.sleep = sleep
    }
}

/// What the engine reports while it runs, for progress views and NDJSON streams.
public enum EngineEvent: Sendable {
    case started(action: Int, attempt: Int)
    case retrying(action: Int, attempt: Int, after: Duration, reason: String)
    case finished(action: Int, status: Transition.Status, elapsed: Duration, message: String?)
    /// Never started because something it depends on failed or was interrupted.
    case blocked(action: Int, by: Int)
}

/// How a run ended.
public struct RunOutcome: Sendable {
    public enum Status: String, Sendable, Codable {
        case succeeded, failed, interrupted
    }

    public struct Failure: Sendable, Hashable {
        public var actionID: String
        public var machine: String
        public var summary: String
        public var message: String
        public var stderrTail: String?
    }

    public var status: Status
    public var succeeded = 0
    public var skipped = 0
    public var failed = 0
    public var blocked = 0
    public var notStarted = 0
    public var failures: [Failure] = []
    /// Set when the journal itself failed: nothing after it is recorded.
    public var journalError: String?
}

/// An action that could not be done, with what the user should know.
struct ActionFailure: Error {
    var message: String
    var stderrTail: String?
    var transient: Bool
}

/// Executes a plan's action graph: bounded parallelism, per-role `maxInFlight`, retries with backoff for
/// transient failures, every transition journaled before and after with its effects, failed actions
/// stopping only what depends on them, and a graceful then an immediate stop.
public struct Engine: Sendable {
    public let plan: Plan
    public let renderer: ActionRenderer?
    public let driver: any MachineDriver
    public let shell: any RemoteShell
    public let journal: any RunJournal
    public let options: EngineOptions

    public init(
        plan: Plan, renderer: ActionRenderer?, driver: any MachineDriver, shell: any RemoteShell, journal: any RunJournal,
        options: EngineOptions = EngineOptions()
    ) {
        self.plan = plan
        self.renderer = renderer
        self.driver = driver
        self.shell = shell
        self.journal = journal
        self.options = options
    }

    /// Runs the plan to the end, a failure, or a stop. Cancelling the calling task aborts running actions.
    public func run(stop: StopSignal = StopSignal(), events: @escaping @Sendable (EngineEvent) -> Void = { _ in }) async -> RunOutcome {
        let facts = PlanFacts(plan)
        var scheduler = Scheduler(plan: plan, facts: facts, parallelism: options.parallelism)
        let context = ExecutionContext(engine: self, facts: facts, events: events)
        var outcome = RunOutcome(status: .succeeded)

        await withTaskGroup(of: Completion.self) { group in
            var running = 0
            while true {
                if !stop.isStopping, !Task.isCancelled, outcome.journalError == nil {
                    // Each action records its own start (grouped with others' records) before it does anything.
                    let batch = scheduler.nextBatch(running: running)
                    for index in batch {
                        group.addTask { await context.execute(index) }
                    }
                    running += batch.count
                }
                if running == 0 { break }
                guard let completion = await group.next() else { break }
                running -= 1
                if let journalError = completion.journalError, outcome.journalError == nil { outcome.journalError = journalError }
                if completion.notStarted {
                    scheduler.unclaim(completion.index)
                    continue
                }
                switch completion.status {
                case .succeeded: outcome.succeeded += 1
                case .skipped: outcome.skipped += 1
                case .failed:
                    outcome.failed += 1
                    let action = plan.actions[completion.index]
                    outcome.failures.append(
                        RunOutcome.Failure(
                            actionID: action.id, machine: action.runsOn ?? action.machine, summary: action.summary,
                            message: completion.message ?? "failed", stderrTail: completion.stderrTail))
                case .interrupted: scheduler.interrupted += 1
                case .started: break
                }
                for blocked in scheduler.complete(completion.index, status: completion.status) {
                    events(.blocked(action: blocked, by: completion.index))
                    outcome.blocked += 1
                }
            }
        }
        outcome.notStarted = scheduler.notStarted
        if outcome.journalError != nil || outcome.failed > 0 {
            outcome.status = .failed
        } else if scheduler.interrupted > 0 || outcome.notStarted > 0 {
            outcome.status = .interrupted
        }
        return outcome
    }
}

/// What an action's task reports back to the scheduler.
struct Completion: Sendable {
    var index: Int
    var status: Transition.Status
    var message: String?
    var stderrTail: String?
    var journalError: String?
    /// Its start could not be recorded, so it never ran.
    var notStarted = false
}

/// Facts about the plan the engine needs often: which machine an action belongs to, where machines start and end.
struct PlanFacts: Sendable {
    /// Per action: the plan machine it belongs to (nil for gates).
    var machineOf: [Int?]
    /// Per plan machine: the role key (`group/role`).
    var roleKey: [String]
    /// Per role key: how many of its machines may be changed at once.
    var roleLimit: [String: Int]
    /// Actions whose success makes their machine ready (the last bring-up action of a machine coming up).
    var makesReady: Set<Int>
    /// Actions that start a machine's removal.
    var startsRemoval: Set<Int>
    /// Actions of machines that are not ready (bring-up of a new machine, or a removal): their completion is recorded for resume.
    var recordsCompletion: Set<Int>
    /// The group of each plan machine.
    var groupOf: [String: String]
    var kindOf: [String: String]

    init(_ plan: Plan) {
        var machineOf = [Int?](repeating: nil, count: plan.actions.count)
        var roleKey: [String] = []
        var makesReady = Set<Int>()
        var startsRemoval = Set<Int>()
        var recordsCompletion = Set<Int>()
        var groupOf: [String: String] = [:]
        var counts: [String: Int] = [:]
        for (position, machine) in plan.machines.enumerated() {
            let key = "\(machine.group)/\(machine.role)"
            roleKey.append(key)
            groupOf[machine.name] = machine.group
            counts[key, default: 0] += 1
            for action in machine.actions { machineOf[action] = position }
            switch machine.change {
            case .create:
                if let last = machine.actions.last { makesReady.insert(last) }
                recordsCompletion.formUnion(machine.actions)
            case .delete:
                if let first = machine.actions.first { startsRemoval.insert(first) }
                recordsCompletion.formUnion(machine.actions)
            case .update:
                // A stopped machine started again goes through bring-up: ready once its last step is done.
                if machine.actions.contains(where: { plan.actions[$0].type == .createMachine }), let last = machine.actions.last {
                    makesReady.insert(last)
                    recordsCompletion.formUnion(machine.actions)
                }
            case .unchanged:
                break
            }
        }
        var roleLimit: [String: Int] = [:]
        for group in plan.groups {
            for role in group.roles {
                let key = "\(group.name)/\(role.name)"
                let total = max(role.count, counts[key] ?? 0, 1)
                roleLimit[key] =
                    InFlightLimit(role.maxInFlight).map { limit -> Int in
                        switch limit {
                        case .count(let value): return max(1, value)
                        case .percent(let value): return max(1, total * value / 100)
                        }
                    } ?? 1
            }
        }
        self.machineOf = machineOf
        self.roleKey = roleKey
        self.roleLimit = roleLimit
        self.makesReady = makesReady
        self.startsRemoval = startsRemoval
        self.recordsCompletion = recordsCompletion
        self.groupOf = groupOf
        kindOf = Dictionary(plan.groups.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
    }
}

/// The dependency bookkeeping: what is ready, what may start under the limits, what a failure blocks.
struct Scheduler {
    enum State { case waiting, ready, running, done, failed, blocked }

    let plan: Plan
    let facts: PlanFacts
    let parallelism: Int
    var remaining: [Int]
    var dependents: [[Int]]
    var state: [State]
    var ready: [Int] = []
    /// Per plan machine: actions not finished yet; a machine is in flight from its first start to its last finish.
    var machineLeft: [Int]
    var machineStarted: [Bool]
    var roleInFlight: [String: Int] = [:]
    /// Roles whose roll stopped: a running machine being changed failed, so none of the role's other
    /// running machines starts changing in this run (they keep what they run; the next apply goes on).
    var haltedRoles: Set<String> = []
    var interrupted = 0

    init(plan: Plan, facts: PlanFacts, parallelism: Int) {
        self.plan = plan
        self.facts = facts
        self.parallelism = parallelism
        remaining = plan.actions.map(\.dependsOn.count)
        dependents = Array(repeating: [], count: plan.actions.count)
        for (index, action) in plan.actions.enumerated() {
            for dependency in action.dependsOn { dependents[dependency].append(index) }
        }
        state = Array(repeating: .waiting, count: plan.actions.count)
        machineLeft = plan.machines.map(\.actions.count)
        machineStarted = Array(repeating: false, count: plan.machines.count)
        for index in plan.actions.indices where remaining[index] == 0 { markReady(index) }
    }

    mutating func markReady(_ index: Int) {
        state[index] = .ready
        ready.append(index)
    }

    /// Actions to start now, in plan order, within the global and per-role limits. Gates pass at once.
    mutating func nextBatch(running: Int) -> [Int] {
        var batch: [Int] = []
        var deferred: [Int] = []
        while running + batch.count < parallelism {
            ready.sort(by: >)
            guard let next = ready.popLast() else { break }
            if plan.actions[next].type == .gate {
                state[next] = .done
                _ = release(next)
                continue
            }
            if let machine = facts.machineOf[next], !machineStarted[machine] {
                let key = facts.roleKey[machine]
                if roleInFlight[key, default: 0] >= facts.roleLimit[key] ?? 1
                    || (haltedRoles.contains(key) && plan.machines[machine].change == .update)
                {
                    deferred.append(next)
                    continue
                }
                machineStarted[machine] = true
                roleInFlight[key, default: 0] += 1
            }
            state[next] = .running
            batch.append(next)
        }
        ready.append(contentsOf: deferred)
        return batch
    }

    /// Puts an action back when its start could not be recorded: it did not run.
    mutating func unclaim(_ index: Int) {
        state[index] = .waiting
        if let machine = facts.machineOf[index], machineLeft[machine] == plan.machines[machine].actions.count {
            machineStarted[machine] = false
            roleInFlight[facts.roleKey[machine], default: 1] -= 1
        }
    }

    /// Marks an action finished; returns the actions a failure blocks. An interrupted action blocks
    /// nothing: what depends on it simply does not start in this run.
    mutating func complete(_ index: Int, status: Transition.Status) -> [Int] {
        let succeeded = status == .succeeded || status == .skipped
        if let machine = facts.machineOf[index] {
            machineLeft[machine] -= 1
            if machineLeft[machine] == 0 || !succeeded { roleInFlight[facts.roleKey[machine], default: 1] -= 1 }
            if status == .failed, plan.machines[machine].change == .update { haltedRoles.insert(facts.roleKey[machine]) }
        }
        if succeeded {
            state[index] = .done
            return release(index)
        }
        state[index] = .failed
        return status == .failed ? block(from: index) : []
    }

    /// Releases dependents of a finished action; gates that become ready pass through.
    mutating func release(_ index: Int) -> [Int] {
        for dependent in dependents[index] {
            remaining[dependent] -= 1
            if remaining[dependent] == 0, state[dependent] == .waiting { markReady(dependent) }
        }
        return []
    }

    /// Everything downstream of a failed action will not run.
    mutating func block(from index: Int) -> [Int] {
        var blocked: [Int] = []
        var stack = dependents[index]
        while let next = stack.popLast() {
            guard state[next] == .waiting || state[next] == .ready else { continue }
            state[next] = .blocked
            ready.removeAll { $0 == next }
            if plan.actions[next].type != .gate { blocked.append(next) }
            stack.append(contentsOf: dependents[next])
        }
        return blocked
    }

    var notStarted: Int {
        state.indices.filter { (state[$0] == .waiting || state[$0] == .ready) && plan.actions[$0].type != .gate }.count
    }
}
