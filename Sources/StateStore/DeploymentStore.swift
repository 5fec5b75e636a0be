import Engine
import Foundation
import MachineAccess
import PhotonCore
import Planning

/// The recorded state of one deployment, wherever it is kept: in SQLite on the installer
/// (``StateStore``) or in the management plane's etcd (``EtcdStateStore``). Both hold to the same
/// semantics, checked by the same tests: the lock keeps a deployment to one writer; a run's
/// transitions and their effects are durable together; the serial moves with every change of
/// recorded state and never back; secrets are sealed with a key kept beside the store, never in it.
public protocol DeploymentStore: RunJournal, Sendable {
    var deployment: String { get }

    // The lock
    func acquireLock(command: String) async throws -> LockAcquisition
    @discardableResult func releaseLock(_ id: UUID) async throws -> Bool
    func forceUnlock(id: String) async throws
    func lockHolder() async throws -> LockHolder?

    // Runs and their journals
    @discardableResult func beginRun(command: String, blueprintDigest: String?) async throws -> Int64
    func finishRun(_ id: Int64, status: RunStatus, summary: String?) async throws
    @discardableResult func pruneRuns(keeping: Int) async throws -> [Int64]
    func runs(limit: Int) async throws -> [RunRecord]
    func journal(run: Int64) async throws -> [JournalEntry]

    // Recorded state besides the journal's effects
    func currentSerial() async throws -> Int
    func machineHandles() async throws -> [MachineHandle]
    func storeGeneratedSecrets(_ values: [String: String]) async throws
    func recordApplied(blueprint: [UInt8], digest: String) async throws
    func lastApplied() async throws -> (bytes: [UInt8], digest: String, date: Date)?
    func recordScaledCounts(_ counts: [ScaledCount]) async throws
    func forgetScaledCounts(_ keys: [String]) async throws

    /// Removes every record of the deployment (after a destroy). The store cannot be used afterwards.
    func removeAll() async throws
}

extension DeploymentStore {
    public func lastRun() async throws -> RunRecord? {
        try await runs(limit: 1).first
    }
}

extension SQLiteStateStore: DeploymentStore {
    public func currentSerial() async throws -> Int { try serial }

    /// The database goes first, in one unlink: a kill part way leaves either the whole state or none of
    /// it, never a database without the key that opens its secrets (the folder's order would decide).
    public func removeAll() async throws {
        try close()
        for suffix in ["-wal", "-shm", ""] {
            let path = databasePath + suffix
            guard unlink(path) == 0 || errno == ENOENT else {
                throw PhotonError("cannot remove \(path): \(String(cString: strerror(errno)))")
            }
        }
        try FileManager.default.removeItem(atPath: directory)
    }
}
