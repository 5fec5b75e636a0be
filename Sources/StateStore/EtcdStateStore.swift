import Crypto
import Engine
import Etcd
import Foundation
import MachineAccess
import Planning
import PhotonCore

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
/// Secret values are sealed with AES-GCM exactly as in ``StateStore``, with `secrets.key` in
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
        let result = try await etcd.transaction(if: [.version(key("state/meta"), equals: 0)], then: [.put(key("state/meta"), try Self.encode(meta))],
                                                else: [.get(key("state/meta"))])
        if !result.succeeded, let existing = result.reads.first?.first {
            let recorded = try Self.decode(Meta.self, existing.value, key: existing.key)
            guard recorded.deployment == deployment else {
                throw PhotonError("the etcd prefix \(self.prefix) holds the deployment '\(recorded.deployment)', not '\(deployment)'",
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
        PhotonError("this photon lost the lock of '\(deployment)': its lease expired (the process was stopped or cut off for longer than \(lockTTL) s); it stopped before writing anything more",
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
            throw PhotonError("the etcd key \(key) does not hold a photon \(type) record: \(error)",
                              help: "something other than photon wrote under the deployment's prefix; restore it from a backup of the plane")
        }
    }

    static func runKey(_ id: Int64) -> String { "run/" + String(format: "%012lld", id) }
    static func journalPrefix(_ run: Int64) -> String { "journal/" + String(format: "%012lld", run) + "/" }

    // MARK: - The recorded state, as one snapshot

    /// Everything under `state/`, decoded, and the revision of `state/meta` it was read at.
    struct Snapshot {
        var meta: Meta
        var metaRevision: Int64
        var machines: [String: MachineRecord] = [:]
        var captured: [String: CapturedRecord] = [:]
        var generated: [String: GeneratedRecord] = [:]
        var scaled: [String: ScaledCount] = [:]
    }

    func snapshot() async throws -> Snapshot {
        let (values, _) = try await etcd.list(prefix: key("state/"))
        var snapshot: Snapshot?
        var machines: [String: MachineRecord] = [:]
        var captured: [String: CapturedRecord] = [:]
        var generated: [String: GeneratedRecord] = [:]
        var scaled: [String: ScaledCount] = [:]
        let base = key("state/")
        for value in values {
            let name = String(value.key.dropFirst(base.count))
            if name == "meta" {
                snapshot = Snapshot(meta: try Self.decode(Meta.self, value.value, key: value.key), metaRevision: value.modRevision)
            } else if name.hasPrefix("machine/") {
                machines[String(name.dropFirst("machine/".count))] = try Self.decode(MachineRecord.self, value.value, key: value.key)
            } else if name.hasPrefix("captured/") {
                captured[String(name.dropFirst("captured/".count))] = try Self.decode(CapturedRecord.self, value.value, key: value.key)
            } else if name.hasPrefix("generated/") {
                generated[String(name.dropFirst("generated/".count))] = try Self.decode(GeneratedRecord.self, value.value, key: value.key)
            } else if name.hasPrefix("scaled/") {
                scaled[String(name.dropFirst("scaled/".count))] = try Self.decode(ScaledCount.self, value.value, key: value.key)
            }
        }
        guard var snapshot else {
            throw PhotonError("the deployment '\(deployment)' has no records under \(prefix) in etcd (state/meta is missing)",
                              help: "the plane's state was removed; hand the deployment over again from the installer with 'photon apply --local'")
        }
        snapshot.machines = machines
        snapshot.captured = captured
        snapshot.generated = generated
        snapshot.scaled = scaled
        return snapshot
    }

    public func recordedState() async throws -> RecordedState {
        let snapshot = try await snapshot()
        let needsKey = !snapshot.generated.isEmpty || snapshot.captured.values.contains { $0.secret }
        var sealingKey: SymmetricKey?
        if needsKey {
            guard let existing = try secrets.existingKey() else { throw secrets.missingKeyError() }
            sealingKey = existing
        }
        var captured: [String: RecordedValue] = [:]
        for (name, record) in snapshot.captured {
            if record.secret, let sealingKey, let sealed = record.sealed {
                let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
                let label = StateStore.capturedLabel(group: parts.first ?? "", name: parts.count > 1 ? parts[1] : "")
                captured[name] = RecordedValue(value: try secrets.open(sealed, label: label, key: sealingKey), secret: true)
            } else {
                captured[name] = RecordedValue(value: record.value ?? "", secret: false)
            }
        }
        var generated: [String: String] = [:]
        if let sealingKey {
            for (name, record) in snapshot.generated {
                generated[name] = try secrets.open(record.sealed, label: StateStore.generatedLabel(name), key: sealingKey)
            }
        }
        let machines = snapshot.machines.values.map(\.machine).sorted { ($0.group, $0.index, $0.name) < ($1.group, $1.index, $1.name) }
        return RecordedState(serial: snapshot.meta.serial, machines: machines, captured: captured, generatedSecrets: generated,
                             scaledCounts: snapshot.scaled)
    }

    public func currentSerial() async throws -> Int {
        try await snapshot().meta.serial
    }

    public func machineHandles() async throws -> [MachineHandle] {
        try await snapshot().machines.values.compactMap { record -> MachineHandle? in
            guard let driverID = record.driverID else { return nil }
            return MachineHandle(name: record.machine.name, address: record.machine.address, port: record.port ?? 22, user: record.user,
                                 hostKeyFingerprint: record.machine.hostKeyFingerprint, driverID: driverID)
        }.sorted { $0.name < $1.name }
    }

    /// Reads the state, lets `change` compute the puts and deletes (under `state/` and elsewhere), and
    /// commits them with the serial moved when `change` says the recorded state changed, provided
    /// nothing else changed the state meanwhile; otherwise reads again and retries.
    func update(_ change: (inout Snapshot) throws -> (operations: [Etcd.Operation], changesState: Bool)) async throws {
        for _ in 0..<50 {
            var snapshot = try await snapshot()
            let metaRevision = snapshot.metaRevision
            var (operations, changesState) = try change(&snapshot)
            if changesState {
                snapshot.meta.serial += 1
                operations.append(.put(key("state/meta"), try Self.encode(snapshot.meta)))
            }
            guard !operations.isEmpty else { return }
            // etcd takes at most 128 operations in one transaction: a larger change is committed in
            // parts, each checked against the revision the previous one left, the serial in the last.
            let chunks = Self.batches(operations)
            var expected = metaRevision
            var lost = false
            for (index, chunk) in chunks.enumerated() {
                var parts = chunk
                if index < chunks.count - 1 { parts.append(.put(key("state/meta"), try Self.encode(snapshot.meta))) }
                let fences = try fence()
                let result = try await etcd.transaction(if: [.modRevision(key("state/meta"), equals: expected)] + fences, then: parts)
                if !result.succeeded {
                    try await checkFenceAfterFailure(fences)
                    lost = true
                    break
                }
                expected = result.revision
            }
            if !lost { return }
        }
        throw PhotonError("cannot record the change in etcd: the state of '\(deployment)' kept changing under it (50 attempts)",
                          help: "another photon is writing to this deployment without holding its lock; stop it")
    }

    /// Parts of at most 100 operations: etcd takes 128 per transaction.
    static func batches(_ operations: [Etcd.Operation]) -> [[Etcd.Operation]] {
        stride(from: 0, to: operations.count, by: 100).map { Array(operations[$0..<min($0 + 100, operations.count)]) }
    }

    // MARK: - Journal

    public func record(_ transitions: [Transition]) async throws {
        guard !transitions.isEmpty else { return }
        guard let run = session.withLock({ $0.currentRun }) else {
            throw PhotonError("cannot record transitions: no run has begun",
                              help: "call beginRun(command:blueprintDigest:) before recording (this is a bug in photon)")
        }
        let first = session.withLock { session -> Int in
            let first = session.nextSequence + 1
            session.nextSequence += transitions.count
            return first
        }
        var journal: [Etcd.Operation] = []
        for (offset, transition) in transitions.enumerated() {
            let row = JournalRow(sequence: first + offset, actionID: transition.actionID, machine: transition.machine, status: transition.status,
                                 at: transition.at, message: transition.message, stderrTail: transition.stderrTail, attempt: transition.attempt)
            journal.append(.put(key(Self.journalPrefix(run) + String(format: "%09d", first + offset)), try Self.encode(row)))
        }
        let effects = transitions.flatMap(\.effects)
        // Not cancellable, as in SQLite: an engine being stopped records its interruptions from a cancelled task.
        try await Task.detached { [self] in
            try await update { snapshot in
                var touched = Set<String>()
                var capturedTouched = Set<String>()
                for effect in effects { try apply(effect, to: &snapshot, touched: &touched, captured: &capturedTouched) }
                var operations = journal
                for name in touched.sorted() {
                    if let record = snapshot.machines[name] {
                        operations.append(.put(key("state/machine/" + name), try Self.encode(record)))
                    } else {
                        operations.append(.delete(key("state/machine/" + name)))
                    }
                }
                for name in capturedTouched.sorted() {
                    if let record = snapshot.captured[name] { operations.append(.put(key("state/captured/" + name), try Self.encode(record))) }
                }
                return (operations, !effects.isEmpty)
            }
        }.value
    }

    private func apply(_ effect: Effect, to snapshot: inout Snapshot, touched: inout Set<String>, captured: inout Set<String>) throws {
        // Machines follow the reference semantics through RecordedState.apply; the handle's fields ride along.
        switch effect {
        case .captured(let group, let name, let value, let secret):
            var record = CapturedRecord(secret: secret, value: value, sealed: nil)
            if secret {
                let sealingKey = try secrets.key(creatingIfMissing: { !snapshot.generated.isEmpty || snapshot.captured.values.contains { $0.secret } })
                record.sealed = try secrets.seal(value, label: StateStore.capturedLabel(group: group, name: name), key: sealingKey)
                record.value = nil
            }
            snapshot.captured["\(group)/\(name)"] = record
            captured.insert("\(group)/\(name)")
            return
        default:
            break
        }
        var state = RecordedState(machines: snapshot.machines.values.map(\.machine))
        state.apply(effect)
        let after = Dictionary(state.machines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in Set(snapshot.machines.keys).union(after.keys) where snapshot.machines[name]?.machine != after[name] {
            if let machine = after[name] {
                var record = snapshot.machines[name] ?? MachineRecord(machine: machine)
                record.machine = machine
                snapshot.machines[name] = record
            } else {
                snapshot.machines[name] = nil
            }
            touched.insert(name)
        }
        if case .machineCreated(let spec, let handle) = effect, var record = snapshot.machines[spec.name] {
            record.port = handle.port
            record.user = handle.user
            record.driverID = handle.driverID
            snapshot.machines[spec.name] = record
            touched.insert(spec.name)
        }
    }

    // MARK: - Generated secrets, applied blueprint, scaled counts

    public func storeGeneratedSecrets(_ values: [String: String]) async throws {
        guard !values.isEmpty else { return }
        try await update { snapshot in
            let sealingKey = try secrets.key(creatingIfMissing: { !snapshot.generated.isEmpty || snapshot.captured.values.contains { $0.secret } })
            var operations: [Etcd.Operation] = []
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                let label = StateStore.generatedLabel(name)
                if let existing = snapshot.generated[name], try secrets.open(existing.sealed, label: label, key: sealingKey) == value { continue }
                let record = GeneratedRecord(sealed: try secrets.seal(value, label: label, key: sealingKey))
                snapshot.generated[name] = record
                operations.append(.put(key("state/generated/" + name), try Self.encode(record)))
            }
            return (operations, !operations.isEmpty)
        }
    }

    public func recordApplied(blueprint: [UInt8], digest: String) async throws {
        let existing = try await etcd.get(key("applied")).map { try Self.decode(AppliedRecord.self, $0.value, key: $0.key) }
        if let existing, existing.digest == digest, existing.bytes == blueprint { return }
        let record = try Self.encode(AppliedRecord(bytes: blueprint, digest: digest, appliedAt: Date()))
        try await update { _ in ([.put(key("applied"), record)], true) }
    }

    public func lastApplied() async throws -> (bytes: [UInt8], digest: String, date: Date)? {
        guard let value = try await etcd.get(key("applied")) else { return nil }
        let record = try Self.decode(AppliedRecord.self, value.value, key: value.key)
        return (record.bytes, record.digest, record.appliedAt)
    }

    public func recordScaledCounts(_ counts: [ScaledCount]) async throws {
        try await update { snapshot in
            var operations: [Etcd.Operation] = []
            for count in counts {
                snapshot.scaled[count.key] = count
                operations.append(.put(key("state/scaled/" + count.key), try Self.encode(count)))
            }
            return (operations, true)
        }
    }

    public func forgetScaledCounts(_ keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await update { snapshot in
            (keys.map { snapshot.scaled[$0] = nil; return .delete(key("state/scaled/" + $0)) }, true)
        }
    }

    public func removeAll() async throws {
        try await stopKeepingAlive(revoke: true)
        try await etcd.delete(prefix: prefix)
    }

    // MARK: - Hand-over

    /// Replaces the plane's recorded state with a copy of another store's (the installer's, at
    /// hand-over): machines with their handles, captured values, generated secrets, scaled counts, the
    /// applied blueprint, and the runs with their journals. The serial becomes the source's, so a plan
    /// saved against the installer's state stays valid. Refused while someone holds the plane's lock.
    /// Callers verify the copy with ``recordedState()``.
    public func importState(from source: any DeploymentStore, runs keeping: Int = 100) async throws {
        if let holder = try await lockHolder() {
            throw PhotonError("cannot hand the state over: the plane's deployment is locked by \(holder)",
                              help: "wait for the plane's operation to finish, then apply again")
        }
        let state = try await source.recordedState()
        let handles = Dictionary(try await source.machineHandles().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let applied = try await source.lastApplied()
        var operations: [Etcd.Operation] = []
        let sealingKey = try secrets.key(creatingIfMissing: { false })
        for machine in state.machines {
            let handle = handles[machine.name]
            operations.append(.put(key("state/machine/" + machine.name),
                                   try Self.encode(MachineRecord(machine: machine, port: handle?.port, user: handle?.user, driverID: handle?.driverID))))
        }
        for (name, value) in state.captured {
            var record = CapturedRecord(secret: value.secret, value: value.value, sealed: nil)
            if value.secret {
                let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
                record.sealed = try secrets.seal(value.value, label: StateStore.capturedLabel(group: parts.first ?? "", name: parts.count > 1 ? parts[1] : ""),
                                                 key: sealingKey)
                record.value = nil
            }
            operations.append(.put(key("state/captured/" + name), try Self.encode(record)))
        }
        for (name, value) in state.generatedSecrets {
            let record = GeneratedRecord(sealed: try secrets.seal(value, label: StateStore.generatedLabel(name), key: sealingKey))
            operations.append(.put(key("state/generated/" + name), try Self.encode(record)))
        }
        for count in state.scaledCounts.values { operations.append(.put(key("state/scaled/" + count.key), try Self.encode(count))) }
        if let applied {
            operations.append(.put(key("applied"), try Self.encode(AppliedRecord(bytes: applied.bytes, digest: applied.digest, appliedAt: applied.date))))
        }
        for run in try await source.runs(limit: keeping) {
            operations.append(.put(key(Self.runKey(run.id)), try Self.encode(RunRow(
                id: run.id, command: run.command, startedAt: run.startedAt, finishedAt: run.finishedAt,
                status: run.status == .running ? .interrupted : run.status, blueprintDigest: run.blueprintDigest, summary: run.summary,
                pid: run.pid, host: run.host, lockID: nil))))
            for entry in try await source.journal(run: run.id) {
                operations.append(.put(key(Self.journalPrefix(run.id) + String(format: "%09d", entry.sequence)), try Self.encode(JournalRow(
                    sequence: entry.sequence, actionID: entry.actionID, machine: entry.machine, status: entry.status, at: entry.at,
                    message: entry.message, stderrTail: entry.stderrTail, attempt: entry.attempt))))
            }
        }
        let meta = Meta(deployment: deployment, serial: state.serial, createdAt: Date())
        operations.append(.put(key("state/meta"), try Self.encode(meta)))
        // The copy goes in parts (etcd takes 128 operations per transaction), meta last: until then the
        // plane's state reads as missing, never as half a deployment with the source's serial.
        // (etcd refuses a transaction that deletes a range and puts a key inside it, so the old records go first.)
        _ = try await etcd.transaction(if: [], then: [.deletePrefix(key("state/")), .deletePrefix(key("run/")), .deletePrefix(key("journal/"))])
        let batches = Self.batches(operations)
        for batch in batches {
            _ = try await etcd.transaction(if: [], then: batch)
        }
    }

    // MARK: - The plane's own sealed records

    /// Stores a value under `plane/<name>`, sealed with the deployment's key (the plane's agent
    /// credentials, say). Not part of the recorded state: the serial does not move.
    public func putSealed(_ name: String, _ value: String) async throws {
        let sealingKey = try secrets.key(creatingIfMissing: { false })
        let sealed = try secrets.seal(value, label: "plane:\(name)", key: sealingKey)
        try await etcd.put(key("plane/" + name), sealed)
    }

    /// A value stored with ``putSealed(_:_:)``, opened.
    public func sealed(_ name: String) async throws -> String? {
        guard let value = try await etcd.get(key("plane/" + name)) else { return nil }
        guard let sealingKey = try secrets.existingKey() else { throw secrets.missingKeyError() }
        return try secrets.open(value.value, label: "plane:\(name)", key: sealingKey)
    }

    // MARK: - The lock

    public func acquireLock(command: String) async throws -> LockAcquisition {
        let mine = LockRecord(id: UUID(), pid: System.pid, host: System.hostName, command: command, since: Date())
        let lease = try await etcd.grantLease(ttl: lockTTL)
        let result = try await etcd.transaction(if: [.version(key("lock"), equals: 0)], then: [.put(key("lock"), try Self.encode(mine), lease: lease)],
                                                else: [.get(key("lock"))])
        guard result.succeeded else {
            try? await etcd.revoke(lease: lease)
            if let value = result.reads.first?.first {
                throw lockedError(by: try Self.decode(LockRecord.self, value.value, key: value.key).holder)
            }
            throw PhotonError("the deployment '\(deployment)' is locked", help: "another photon is changing this deployment: wait for it to finish")
        }
        let keepAlive = Task.detached { [etcd, lockTTL, session] in
            // Renewed at a third of the TTL, so two missed renewals still keep it. A renewal that finds the
            // lease expired, or no renewal for a whole TTL, means another photon may hold the lock now.
            var renewed = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(1, lockTTL / 3)))
                if Task.isCancelled { break }
                switch try? await etcd.keepAlive(lease: lease) {
                case true?: renewed = .now
                case false?: session.withLock { $0.lockLost = true }
                case nil: if ContinuousClock.now - renewed > .seconds(lockTTL) { session.withLock { $0.lockLost = true } }
                }
                if session.withLock({ $0.lockLost }) { break }
            }
        }
        session.withLock {
            $0.heldLock = mine.id
            $0.lockRevision = result.revision
            $0.lockLost = false
            $0.lease = lease
            $0.keepAlive = keepAlive
        }
        return LockAcquisition(holder: mine.holder, warning: nil)
    }

    func stopKeepingAlive(revoke: Bool) async throws {
        let (task, lease) = session.withLock { session -> (Task<Void, Never>?, Int64?) in
            defer {
                session.keepAlive = nil
                session.lease = nil
                session.heldLock = nil
                session.lockRevision = nil
                session.lockLost = false
            }
            return (session.keepAlive, session.lease)
        }
        task?.cancel()
        if revoke, let lease { try await etcd.revoke(lease: lease) }
    }

    @discardableResult
    public func releaseLock(_ id: UUID) async throws -> Bool {
        guard session.withLock({ $0.heldLock == id }) else { return false }
        let result = try await etcd.transaction(if: [.value(key("lock"), equals: try lockValue(id))], then: [.delete(key("lock"))])
        try await stopKeepingAlive(revoke: true)
        return result.succeeded
    }

    private func lockValue(_ id: UUID) async throws -> [UInt8] {
        try await etcd.get(key("lock")).map(\.value) ?? []
    }

    public func forceUnlock(id: String) async throws {
        let wanted = id.trimmingCharacters(in: .whitespaces).lowercased()
        guard let value = try await etcd.get(key("lock")) else {
            throw PhotonError("the deployment '\(deployment)' is not locked", help: "there is nothing to unlock")
        }
        let holder = try Self.decode(LockRecord.self, value.value, key: value.key).holder
        guard holder.id.uuidString.lowercased() == wanted else {
            throw PhotonError("the lock of the deployment '\(deployment)' has the id \(holder.id.uuidString), not \(id); it is held by \(holder)",
                              help: "check that this holder is gone, then run `photon unlock --force \(holder.id.uuidString)`")
        }
        _ = try await etcd.transaction(if: [.modRevision(key("lock"), equals: value.modRevision)], then: [.delete(key("lock"))])
        if value.lease != 0 { try? await etcd.revoke(lease: value.lease) }
        if session.withLock({ $0.heldLock?.uuidString.lowercased() == wanted }) { try await stopKeepingAlive(revoke: false) }
    }

    public func lockHolder() async throws -> LockHolder? {
        guard let value = try await etcd.get(key("lock")) else { return nil }
        return try Self.decode(LockRecord.self, value.value, key: value.key).holder
    }

    func lockedError(by holder: LockHolder) -> PhotonError {
        let id = holder.id.uuidString
        return PhotonError("the deployment '\(deployment)' is locked by \(holder), lock id \(id); if that process is gone, its lock expires within \(lockTTL) s, or run `photon unlock --force \(id)`",
                           help: "another operation is changing this deployment: wait for it to finish")
    }

    // MARK: - Runs

    @discardableResult
    public func beginRun(command: String, blueprintDigest: String?) async throws -> Int64 {
        let lockID = session.withLock { $0.heldLock }
        let holder = try await lockHolder()
        let (values, _) = try await etcd.list(prefix: key("run/"))
        var highest: Int64 = 0
        for value in values {
            var row = try Self.decode(RunRow.self, value.value, key: value.key)
            highest = max(highest, row.id)
            if row.status == .running, !StateStore.isLive(pid: row.pid, host: row.host, lockID: row.lockID?.uuidString, holder: holder) {
                let journal = try await etcd.list(prefix: key(Self.journalPrefix(row.id))).values
                let last = try journal.last.map { try Self.decode(JournalRow.self, $0.value, key: $0.key).at }
                row.status = .interrupted
                row.finishedAt = last ?? row.startedAt
                try await etcd.put(value.key, try Self.encode(row))
            }
        }
        // Run ids are claimed with a create-only transaction, so two stores never share one.
        var id = highest + 1
        while true {
            let row = RunRow(id: id, command: command, startedAt: Date(), finishedAt: nil, status: .running, blueprintDigest: blueprintDigest,
                             summary: nil, pid: System.pid, host: System.hostName, lockID: lockID)
            let fences = try fence()
            let result = try await etcd.transaction(if: [.version(key(Self.runKey(id)), equals: 0)] + fences, then: [.put(key(Self.runKey(id)), try Self.encode(row))])
            if result.succeeded { break }
            try await checkFenceAfterFailure(fences)
            id += 1
        }
        session.withLock {
            $0.currentRun = id
            $0.nextSequence = 0
        }
        return id
    }

    public func finishRun(_ id: Int64, status: RunStatus, summary: String?) async throws {
        guard status != .running else {
            throw PhotonError("a run cannot finish with the status 'running'", help: "pass succeeded, failed or interrupted (this is a bug in photon)")
        }
        guard let value = try await etcd.get(key(Self.runKey(id))) else {
            throw PhotonError("there is no run \(id) in the plane's state of '\(deployment)'")
        }
        var row = try Self.decode(RunRow.self, value.value, key: value.key)
        row.status = status
        row.finishedAt = Date()
        if let summary { row.summary = summary }
        let fences = try fence()
        let result = try await etcd.transaction(if: fences, then: [.put(value.key, try Self.encode(row))])
        if !result.succeeded { try await checkFenceAfterFailure(fences) }
        session.withLock { if $0.currentRun == id { $0.currentRun = nil } }
    }

    @discardableResult
    public func pruneRuns(keeping: Int) async throws -> [Int64] {
        _ = try fence()
        let rows = try await etcd.list(prefix: key("run/")).values.map { try Self.decode(RunRow.self, $0.value, key: $0.key) }
        let kept = Set(rows.map(\.id).sorted(by: >).prefix(max(1, keeping)))
        var doomed: [Int64] = []
        for row in rows where row.status != .running && !kept.contains(row.id) {
            try await etcd.delete(prefix: key(Self.journalPrefix(row.id)))
            try await etcd.delete(key(Self.runKey(row.id)))
            doomed.append(row.id)
        }
        return doomed
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        let holder = try await lockHolder()
        let rows = try await etcd.list(prefix: key("run/")).values.map { try Self.decode(RunRow.self, $0.value, key: $0.key) }
        return rows.sorted { $0.id > $1.id }.prefix(max(0, limit)).map { row in
            var status = row.status
            if status == .running, !StateStore.isLive(pid: row.pid, host: row.host, lockID: row.lockID?.uuidString, holder: holder) {
                status = .interrupted
            }
            return RunRecord(id: row.id, command: row.command, startedAt: row.startedAt, finishedAt: row.finishedAt, status: status,
                             blueprintDigest: row.blueprintDigest, summary: row.summary, pid: row.pid, host: row.host)
        }
    }

    public func journal(run: Int64) async throws -> [JournalEntry] {
        try await etcd.list(prefix: key(Self.journalPrefix(run))).values.map { value in
            let row = try Self.decode(JournalRow.self, value.value, key: value.key)
            return JournalEntry(runID: run, sequence: row.sequence, actionID: row.actionID, machine: row.machine, status: row.status, at: row.at,
                                message: row.message, stderrTail: row.stderrTail, attempt: row.attempt)
        }.sorted { $0.sequence < $1.sequence }
    }
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
