import Crypto
import Engine
import Etcd
import Foundation
import MachineAccess
import PhotonCore
import Planning

/// The recorded state of one deployment in etcd: the management plane's store.
///
/// Every record is a JSON value under the deployment's prefix:
/// `state/meta` (deployment, serial), `state/machine/<name>`, `state/captured/<group>/<name>`,
/// `state/generated/<key>`, `state/scaled/<group>/<role>` — the recorded state, read in one range
/// request, so it is one consistent snapshot — and `applied`, `lock`, `run/<id>`,
/// `journal/<run>/<seq>`. Changes that must not race are etcd transactions that compare the
/// revision of `state/meta` (or the lock key) with the one read: a lost race reads again and retries.
///
/// The lock is attached to an etcd lease that this store keeps alive while it holds the lock: when
/// the holder dies (its process or its machine), the lease expires within its TTL and the lock is
/// free for the next leader, which resumes the run from the journal.
///
/// Secret values are sealed with AES-GCM exactly as in ``SQLiteStateStore``, with `secrets.key` in
/// `keyDirectory`, never in etcd.
public final class EtcdStateStore: DeploymentStore {
    public let deployment: String
    public let prefix: String
    public let etcd: EtcdClient
    let secrets: SecretBox
    let lockTTL: Int
    let session = Locked(Session())

    struct Session {
        var currentRun: Int64?
        var nextSequence = 0
        var heldLock: UUID?
        /// The revision at which this store wrote the lock: every write under the lock compares it (fencing).
        var lockRevision: Int64?
        /// The lease was found expired (or could not be renewed within its TTL): no write may follow.
        var lockLost = false
        var lease: Int64?
        var keepAlive: Task<Void, Never>?
    }

    /// - Parameters:
    ///   - prefix: where the deployment's keys live, ending in `/` (`/photon/<deployment>/`).
    ///   - keyDirectory: the folder of `secrets.key`.
    ///   - lockTTL: seconds a dead holder keeps the lock.
    public init(etcd: EtcdClient, prefix: String, deployment: String, keyDirectory: String, lockTTL: Int = 10) async throws {
        self.etcd = etcd
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.deployment = deployment
        self.secrets = SecretBox(directory: keyDirectory)
        self.lockTTL = lockTTL
        let meta = Meta(deployment: deployment, serial: 0, createdAt: Date())
        let result = try await etcd.transaction(
            if: [.version(key("state/meta"), equals: 0)], then: [.put(key("state/meta"), try Self.encode(meta))],
            else: [.get(key("state/meta"))])
        if !result.succeeded, let existing = result.reads.first?.first {
            let recorded = try Self.decode(Meta.self, existing.value, key: existing.key)
            guard recorded.deployment == deployment else {
                throw PhotonError(
                    "the etcd prefix \(self.prefix) holds the deployment '\(recorded.deployment)', not '\(deployment)'",
                    help: "use the prefix of the deployment '\(deployment)' (/photon/\(deployment)/)")
            }
        }
    }

    func key(_ suffix: String) -> String { prefix + suffix }

    // MARK: - Fencing

    /// The comparisons that keep a write to the holder of the lock: the lock key is still the one this
    /// store wrote. Throws at once when the lease is known to be gone.
    func fence() throws -> [Compare] {
        let (held, revision, lost) = session.withLock { ($0.heldLock, $0.lockRevision, $0.lockLost) }
        if lost { throw lostLockError() }
        guard held != nil, let revision else { return [] }
        return [.modRevision(key("lock"), equals: revision)]
    }

    /// After a transaction with ``fence()`` failed: whether the lock is gone (then it says so and throws).
    func checkFenceAfterFailure(_ fences: [Compare]) async throws {
        guard !fences.isEmpty, let revision = session.withLock({ $0.lockRevision }) else { return }
        if try await etcd.get(key("lock"))?.modRevision != revision {
            session.withLock { $0.lockLost = true }
            throw lostLockError()
        }
    }

    func lostLockError() -> PhotonError {
        PhotonError(
            "this photon lost the lock of '\(deployment)': its lease expired (the process was stopped or cut off for longer than \(lockTTL) s); it stopped before writing anything more",
            help: "another photon may now hold the lock; run apply again to finish from the journal")
    }

    // MARK: - Records

    struct Meta: Codable {
        var deployment: String
        var serial: Int
        var createdAt: Date
    }

    struct MachineRecord: Codable {
        var machine: RecordedMachine
        var port: Int?
        var user: String?
        var driverID: String?
    }

    struct CapturedRecord: Codable {
        var secret: Bool
        var value: String?
        var sealed: [UInt8]?
    }

    struct GeneratedRecord: Codable {
        var sealed: [UInt8]
    }

    struct AppliedRecord: Codable {
        var bytes: [UInt8]
        var digest: String
        var appliedAt: Date
    }

    struct LockRecord: Codable {
        var id: UUID
        var pid: Int32
        var host: String
        var command: String
        var since: Date

        var holder: LockHolder { LockHolder(id: id, pid: pid, host: host, command: command, since: since) }
    }

    struct RunRow: Codable {
        var id: Int64
        var command: String
        var startedAt: Date
        var finishedAt: Date?
        var status: RunStatus
        var blueprintDigest: String?
        var summary: String?
        var pid: Int32
        var host: String
        var lockID: UUID?
    }

    struct JournalRow: Codable {
        var sequence: Int
        var actionID: String
        var machine: String
        var status: Transition.Status
        var at: Date
        var message: String?
        var stderrTail: String?
        var attempt: Int
    }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .referenceSeconds
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], key: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .referenceSeconds
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch {
            throw PhotonError(
                "the etcd key \(key) does not hold a photon \(type) record: \(error)",
                help: "something other than photon wrote under the deployment's prefix; restore it from a backup of the plane")
        }
    }

    static func runKey(_ id: Int64) -> String { "run/" + String(format: "%012lld", id) }
    static func journalPrefix(_ run: Int64) -> String { "journal/" + String(format: "%012lld", run) + "/" }
}

extension JSONEncoder.DateEncodingStrategy {
    /// Seconds since 2001 (Foundation's own reference) with their fraction: exact round trips, and
    /// journal times keep their order within a second.
    static let referenceSeconds = JSONEncoder.DateEncodingStrategy.custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(date.timeIntervalSinceReferenceDate)
    }
}

extension JSONDecoder.DateDecodingStrategy {
    static let referenceSeconds = JSONDecoder.DateDecodingStrategy.custom { decoder in
        Date(timeIntervalSinceReferenceDate: try decoder.singleValueContainer().decode(Double.self))
    }
}
