import Blueprints
import Engine
import EngineTestSupport
import Etcd
import Foundation
import GRDB
import MachineAccess
import PhotonCore
import Planning
import Testing

@testable import StateStore

/// A fresh directory for one test, removed when the body returns or throws.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let base = FileManager.default.temporaryDirectory
        .appendingPathComponent("photon-statestore-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: base) }
    return try await body(base)
}

/// The state directory photon would use for a deployment: created by the store, not by the test.
func stateDirectory(in base: String, deployment: String = "demo") -> String {
    "\(base)/.photon/\(deployment)"
}

func spec(_ name: String, group: String = "s", role: String = "workers", index: Int = 1, address: String? = "10.0.0.5") -> MachineSpec {
    MachineSpec(
        name: name, group: group, kind: "swarm", role: role, index: index,
        flavor: Flavor(name: "small", milliCPU: 1000, memory: ByteSize(bytes: 1 << 30), disk: ByteSize(bytes: 10 << 30)),
        address: address, needs: [])
}

func handle(_ name: String, address: String = "10.0.0.5") -> MachineHandle {
    MachineHandle(name: name, address: address, port: 2222, user: "root", hostKeyFingerprint: "SHA256:\(name)-key", driverID: "lxc-\(name)")
}

func transition(_ action: String, machine: String = "", _ status: Transition.Status = .succeeded, effects: [Effect] = []) -> Transition {
    Transition(actionID: action, machine: machine, status: status, at: Date(), effects: effects)
}

/// The id of a process that existed and no longer does.
func deadPID() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

func fileBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

func mode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
}

extension [UInt8] {
    func contains(_ needle: String) -> Bool {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, count >= pattern.count else { return false }
        for start in 0...(count - pattern.count) where self[start] == pattern[0] {
            if Array(self[start..<(start + pattern.count)]) == pattern { return true }
        }
        return false
    }
}

/// Runs `body` and returns the PhotonError it throws; records an issue if it throws nothing or something else.
func photonError(sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> PhotonError? {
    do {
        try body()
        Issue.record("expected a PhotonError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as PhotonError {
        return error
    } catch {
        Issue.record("expected a PhotonError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

func asyncPhotonError(sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> PhotonError? {
    do {
        try await body()
        Issue.record("expected a PhotonError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as PhotonError {
        return error
    } catch {
        Issue.record("expected a PhotonError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// The two implementations of the state-store protocol; the shared tests run against both.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, etcd
    var testDescription: String { rawValue }
}

/// Where one test's deployment state lives: a temporary folder (SQLite's files, or the etcd store's
/// secrets key) and, for etcd, a real etcd of the test's own.
final class StoreFixture: Sendable {
    let backend: Backend
    let directory: String
    let etcd: LocalEtcd?

    init(backend: Backend, base: String) throws {
        self.backend = backend
        self.directory = stateDirectory(in: base)
        self.etcd = backend == .etcd ? try LocalEtcd() : nil
    }

    /// A store on the deployment's state, as another process would open it.
    func open(deployment: String = "demo") async throws -> any DeploymentStore {
        switch backend {
        case .sqlite:
            return try SQLiteStateStore.open(directory: directory, deployment: deployment)
        case .etcd:
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            return try await EtcdStateStore(
                etcd: try etcd!.client(), prefix: "/photon/\(deployment)/",
                deployment: deployment, keyDirectory: directory)
        }
    }

    /// Ends a store's use as a process exit would (SQLite checkpoints and closes).
    func close(_ store: any DeploymentStore) throws {
        if let sqlite = store as? SQLiteStateStore { try sqlite.close() }
    }
}

func withStore<T>(_ backend: Backend, _ body: (StoreFixture) async throws -> T) async throws -> T {
    try await withTemporaryDirectory { base in
        let fixture = try StoreFixture(backend: backend, base: base)
        defer { fixture.etcd?.stop() }
        return try await body(fixture)
    }
}

/// A run's status as stored, without the interpretation `runs(limit:)` adds.
func rawRunStatus(_ store: any DeploymentStore, _ run: Int64) async throws -> String? {
    if let sqlite = store as? SQLiteStateStore {
        return try await sqlite.pool.read { try String.fetchOne($0, sql: "SELECT status FROM run WHERE id = ?", arguments: [run]) }
    }
    let etcd = try #require(store as? EtcdStateStore)
    guard let value = try await etcd.etcd.get(etcd.key(EtcdStateStore.runKey(run))) else { return nil }
    return try EtcdStateStore.decode(EtcdStateStore.RunRow.self, value.value, key: value.key).status.rawValue
}
