import Crypto
import Engine
import Etcd
import Foundation
import MachineAccess
import PhotonCore
import Planning

extension EtcdStateStore {
    // MARK: - Hand-over

    /// Replaces the plane's recorded state with a copy of another store's (the installer's, at
    /// hand-over): machines with their handles, captured values, generated secrets, scaled counts, the
    /// applied blueprint, and the runs with their journals. The serial becomes the source's, so a plan
    /// saved against the installer's state stays valid. Refused while someone holds the plane's lock.
    /// Callers verify the copy with ``recordedState()``.
    // Long: the copy of every record kind goes in one transaction, so the hand-over is all or nothing.
    public func importState(from source: any DeploymentStore, runs keeping: Int = 100) async throws {
        if let holder = try await lockHolder() {
            throw PhotonError(
                "cannot hand the state over: the plane's deployment is locked by \(holder)",
                help: "wait for the plane's operation to finish, then apply again")
        }
        let state = try await source.recordedState()
        let handles = Dictionary(try await source.machineHandles().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let applied = try await source.lastApplied()
        var operations: [Etcd.Operation] = []
        let sealingKey = try secrets.key(creatingIfMissing: { false })
        for machine in state.machines {
            let handle = handles[machine.name]
            operations.append(
                .put(
                    key("state/machine/" + machine.name),
                    try Self.encode(MachineRecord(machine: machine, port: handle?.port, user: handle?.user, driverID: handle?.driverID))))
        }
        for (name, value) in state.captured {
            var record = CapturedRecord(secret: value.secret, value: value.value, sealed: nil)
            if value.secret {
                let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
                record.sealed = try secrets.seal(
                    value.value, label: SQLiteStateStore.capturedLabel(group: parts.first ?? "", name: parts.count > 1 ? parts[1] : ""),
                    key: sealingKey)
                record.value = nil
            }
            operations.append(.put(key("state/captured/" + name), try Self.encode(record)))
        }
        for (name, value) in state.generatedSecrets {
            let record = GeneratedRecord(sealed: try secrets.seal(value, label: SQLiteStateStore.generatedLabel(name), key: sealingKey))
            operations.append(.put(key("state/generated/" + name), try Self.encode(record)))
        }
        for count in state.scaledCounts.values { operations.append(.put(key("state/scaled/" + count.key), try Self.encode(count))) }
        if let applied {
            operations.append(.put(key("applied"), try Self.encode(AppliedRecord(bytes: applied.bytes, digest: applied.digest, appliedAt: applied.date))))
        }
        for run in try await source.runs(limit: keeping) {
            operations.append(
                .put(
                    key(Self.runKey(run.id)),
                    try Self.encode(
                        RunRow(
                            id: run.id, command: run.command, startedAt: run.startedAt, finishedAt: run.finishedAt,
                            status: run.status == .running ? .interrupted : run.status, blueprintDigest: run.blueprintDigest, summary: run.summary,
                            pid: run.pid, host: run.host, lockID: nil))))
            for entry in try await source.journal(run: run.id) {
                operations.append(
                    .put(
                        key(Self.journalPrefix(run.id) + String(format: "%09d", entry.sequence)),
                        try Self.encode(
                            JournalRow(
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
}
