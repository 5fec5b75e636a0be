import Engine
import Foundation
import MachineAccess
import PhotonCore
import Planning

/// Errors a fake can throw, transient or not, to exercise the engine's retries.
public struct FakeError: Error, RetryClassifying, CustomStringConvertible {
    public var description: String
    public var isTransient: Bool
    public init(_ description: String, transient: Bool) {
        self.description = description
        self.isTransient = transient
    }
}

/// A control plane in memory: machines are names with addresses and generated fingerprints.
public final class InMemoryDriver: MachineDriver, @unchecked Sendable {
    private let lock = NSLock()
    public private(set) var machines: [String: MachineHandle] = [:]
    /// How many times the driver really made each machine (adoption does not count).
    public private(set) var creations: [String: Int] = [:]
    public private(set) var deletions: [String: Int] = [:]
    /// Makes `create` fail before succeeding: name → remaining failures.
    public var failCreate: [String: (count: Int, transient: Bool)] = [:]

    public init() {}

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    public func create(_ spec: MachineSpec) async throws -> MachineHandle {
        try locked {
            if let failure = failCreate[spec.name], failure.count > 0 {
                failCreate[spec.name] = (failure.count - 1, failure.transient)
                throw FakeError("driver busy creating \(spec.name)", transient: failure.transient)
            }
            if let existing = machines[spec.name] { return existing }
            let handle = MachineHandle(
                name: spec.name, address: spec.address ?? "192.0.2.\(machines.count + 10)", hostKeyFingerprint: "SHA256:fake-\(spec.name)",
                driverID: "mem-\(spec.name)")
            machines[spec.name] = handle
            creations[spec.name, default: 0] += 1
            return handle
        }
    }

    public func delete(name: String) async throws {
        locked {
            if machines.removeValue(forKey: name) != nil { deletions[name, default: 0] += 1 }
        }
    }

    public func lookup(name: String) async throws -> MachineHandle? { locked { machines[name] } }

    public func list() async throws -> [MachineHandle] { locked { machines.values.sorted { $0.name < $1.name } } }
}

/// A remote shell in memory: it records every upload and command, answers `test -e` from what was
/// uploaded or created, and lets a test decide what other commands print and return.
public final class InMemoryShell: RemoteShell, @unchecked Sendable {
    public struct Execution: Sendable, Hashable {
        public var machine: String
        public var command: String
    }

    private let lock = NSLock()
    public private(set) var executions: [Execution] = []
    public private(set) var files: [String: [String: (bytes: [UInt8], mode: Int)]] = [:]
    /// Paths that exist on each machine besides uploaded files.
    public var paths: [String: Set<String>] = [:]
    /// Answers commands; nil means "succeed with no output".
    public var responder: (@Sendable (_ command: String, _ machine: String) -> CommandOutput?)?
    /// Ports that accept connections, as `host:port`.
    public var listening: Set<String> = []
    public var listenEverywhere = true
    public private(set) var concurrent = 0
    public private(set) var maxConcurrent = 0
    /// Added to every operation, so concurrency can be observed.
    public var latency: Duration = .zero

    public init() {}

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func enter() {
        locked {
            concurrent += 1
            maxConcurrent = max(maxConcurrent, concurrent)
        }
    }
    func leave() { locked { concurrent -= 1 } }

    public func upload(_ data: [UInt8], to path: String, mode: Int, owner: String?, on machine: MachineHandle) async throws {
        enter()
        defer { leave() }
        if latency > .zero { try await Task.sleep(for: latency) }
        locked { files[machine.name, default: [:]][path] = (data, mode) }
    }

    public func execute(_ command: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput {
        enter()
        defer { leave() }
        if latency > .zero { try await Task.sleep(for: latency) }
        try Task.checkCancellation()
        let answer: CommandOutput? = locked {
            executions.append(Execution(machine: machine.name, command: command))
            guard command.hasPrefix("test -e ") else { return nil }
            let path = String(command.dropFirst("test -e ".count)).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            let exists = files[machine.name]?[path] != nil || paths[machine.name]?.contains(path) == true
            return CommandOutput(exitStatus: exists ? 0 : 1)
        }
        if let answer { return answer }
        // Outside the lock: a responder may change the shell's files.
        let responder = locked { self.responder }
        return responder?(command, machine.name) ?? CommandOutput()
    }

    public func isListening(host: String, port: Int, timeout: Duration) async -> Bool {
        listenEverywhere || locked { listening.contains("\(host):\(port)") }
    }

    /// Commands run on a machine, in order.
    public func commands(on machine: String) -> [String] { locked { executions.filter { $0.machine == machine }.map(\.command) } }

    public func allExecutions() -> [Execution] { locked { executions } }

    public func file(_ path: String, on machine: String) -> String? {
        locked { files[machine]?[path].map { String(decoding: $0.bytes, as: UTF8.self) } }
    }

    public func markExists(_ path: String, on machine: String) { locked { _ = paths[machine, default: []].insert(path) } }
}

/// A journal in memory that applies effects with the reference semantics.
public final class InMemoryJournal: RunJournal, @unchecked Sendable {
    private let lock = NSLock()
    public private(set) var state: RecordedState
    public private(set) var transitions: [Transition] = []
    public private(set) var writes = 0
    /// Makes `record` fail after this many writes.
    public var failAfterWrites: Int?

    public init(state: RecordedState = .empty) { self.state = state }

    public func record(_ batch: [Transition]) async throws {
        try lock.withLock {
            if let limit = failAfterWrites, writes >= limit { throw FakeError("disk full", transient: false) }
            writes += 1
            transitions.append(contentsOf: batch)
            for transition in batch { for effect in transition.effects { state.apply(effect) } }
            state.serial += 1
        }
    }

    public func recordedState() async throws -> RecordedState { lock.withLock { state } }

    public func statuses(of actionID: String) -> [Transition.Status] {
        lock.withLock { transitions.filter { $0.actionID == actionID }.map(\.status) }
    }
}
