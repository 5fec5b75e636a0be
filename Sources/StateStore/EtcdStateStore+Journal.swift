import Crypto
import Engine
import Etcd
import Foundation
import MachineAccess
import PhotonCore
import Planning

extension EtcdStateStore {
    // MARK: - Journal

    public func record(_ transitions: [Transition]) async throws {
        guard !transitions.isEmpty else { return }
        guard let run = session.withLock({ $0.currentRun }) else {
            throw PhotonError(
                "cannot record transitions: no run has begun",
                help: "call beginRun(command:blueprintDigest:) before recording (this is a bug in photon)")
        }
        let first = session.withLock { session -> Int in
            let first = session.nextSequence + 1
            session.nextSequence += transitions.count
            return first
        }
        var journal: [Etcd.Operation] = []
        for (offset, transition) in transitions.enumerated() {
            let row = JournalRow(
                sequence: first + offset, actionID: transition.actionID, machine: transition.machine, status: transition.status,
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

    func apply(_ effect: Effect, to snapshot: inout Snapshot, touched: inout Set<String>, captured: inout Set<String>) throws {
        // Machines follow the reference semantics through RecordedState.apply; the handle's fields ride along.
        switch effect {
        case .captured(let group, let name, let value, let secret):
            var record = CapturedRecord(secret: secret, value: value, sealed: nil)
            if secret {
                let sealingKey = try secrets.key(creatingIfMissing: { !snapshot.generated.isEmpty || snapshot.captured.values.contains { $0.secret } })
                record.sealed = try secrets.seal(value, label: SQLiteStateStore.capturedLabel(group: group, name: name), key: sealingKey)
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
}
