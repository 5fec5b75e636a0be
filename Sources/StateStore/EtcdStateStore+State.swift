import Crypto
import Engine
import Etcd
import Foundation
import MachineAccess
import PhotonCore
import Planning

extension EtcdStateStore {
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
            throw PhotonError(
                "the deployment '\(deployment)' has no records under \(prefix) in etcd (state/meta is missing)",
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
                let label = SQLiteStateStore.capturedLabel(group: parts.first ?? "", name: parts.count > 1 ? parts[1] : "")
                captured[name] = RecordedValue(value: try secrets.open(sealed, label: label, key: sealingKey), secret: true)
            } else {
                captured[name] = RecordedValue(value: record.value ?? "", secret: false)
            }
        }
        var generated: [String: String] = [:]
        if let sealingKey {
            for (name, record) in snapshot.generated {
                generated[name] = try secrets.open(record.sealed, label: SQLiteStateStore.generatedLabel(name), key: sealingKey)
            }
        }
        let machines = snapshot.machines.values.map(\.machine).sorted { ($0.group, $0.index, $0.name) < ($1.group, $1.index, $1.name) }
        return RecordedState(
            serial: snapshot.meta.serial, machines: machines, captured: captured, generatedSecrets: generated,
            scaledCounts: snapshot.scaled)
    }

    public func currentSerial() async throws -> Int {
        try await snapshot().meta.serial
    }

    public func machineHandles() async throws -> [MachineHandle] {
        try await snapshot().machines.values.compactMap { record -> MachineHandle? in
            guard let driverID = record.driverID else { return nil }
            return MachineHandle(
                name: record.machine.name, address: record.machine.address, port: record.port ?? 22, user: record.user,
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
        throw PhotonError(
            "cannot record the change in etcd: the state of '\(deployment)' kept changing under it (50 attempts)",
            help: "another photon is writing to this deployment without holding its lock; stop it")
    }

    /// Parts of at most 100 operations: etcd takes 128 per transaction.
    static func batches(_ operations: [Etcd.Operation]) -> [[Etcd.Operation]] {
        stride(from: 0, to: operations.count, by: 100).map { Array(operations[$0..<min($0 + 100, operations.count)]) }
    }

    // MARK: - Generated secrets, applied blueprint, scaled counts

    public func storeGeneratedSecrets(_ values: [String: String]) async throws {
        guard !values.isEmpty else { return }
        try await update { snapshot in
            let sealingKey = try secrets.key(creatingIfMissing: { !snapshot.generated.isEmpty || snapshot.captured.values.contains { $0.secret } })
            var operations: [Etcd.Operation] = []
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                let label = SQLiteStateStore.generatedLabel(name)
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
            (
                keys.map {
                    snapshot.scaled[$0] = nil
                    return .delete(key("state/scaled/" + $0))
                }, true
            )
        }
    }

    public func removeAll() async throws {
        try await stopKeepingAlive(revoke: true)
        try await etcd.delete(prefix: prefix)
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
}
