import Crypto
import Engine
import Foundation
import GRDB
import MachineAccess
import PhotonCore
import Planning

extension SQLiteStateStore {
    // MARK: - Journal

    /// Appends the transitions to the current run's journal and applies their effects to the recorded
    /// state, in one transaction, and bumps the serial once when any effect was applied. Returns when
    /// the transaction is durable (committed with `synchronous = FULL`).
    ///
    /// The write runs on GRDB's writer queue, never on the cooperative pool. It is deliberately not
    /// cancellable: an engine being stopped records its `interrupted` transitions from a cancelled task,
    /// and a journal write abandoned half-way would lose a transition that happened.
    ///
    /// Effects follow the reference semantics of ``Effect`` (`RecordedState.apply`): an effect on a
    /// machine the state does not hold (ready, deleting, file, action) changes nothing.
    public func record(_ transitions: [Transition]) async throws {
        guard !transitions.isEmpty else { return }
        let run = try currentRun()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pool.asyncWrite(
                { db in
                    try self.append(transitions, run: run, db)
                },
                completion: { _, result in
                    continuation.resume(with: result)
                })
        }
    }

    private func currentRun() throws -> Int64 {
        guard let run = session.withLock({ $0.currentRun }) else {
            throw PhotonError(
                "cannot record transitions: no run has begun",
                help: "call beginRun(command:blueprintDigest:) before recording (this is a bug in photon)")
        }
        return run
    }

    private func append(_ transitions: [Transition], run: Int64, _ db: Database) throws {
        var sequence = try Int.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM journal WHERE run_id = ?"), arguments: [run]) ?? 0
        var changed = false
        for transition in transitions {
            sequence += 1
            try db.cachedStatement(
                sql: """
                    INSERT INTO journal (run_id, seq, action_id, machine, status, at, message, stderr_tail, attempt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                run, sequence, transition.actionID, transition.machine, transition.status.rawValue,
                transition.at, transition.message, transition.stderrTail, transition.attempt,
            ])
            for effect in transition.effects {
                try apply(effect, at: transition.at, db)
                changed = true
            }
        }
        if changed { try bumpSerial(db) }
    }

    func bumpSerial(_ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE meta SET serial = serial + 1 WHERE id = 1").execute()
    }

    private func machineExists(_ name: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM machine WHERE name = ?)"), arguments: [name]) ?? false
    }

    private func apply(_ effect: Effect, at date: Date, _ db: Database) throws {
        switch effect {
        case .machineIntent(let spec):
            try insertIntent(spec, at: date, db)
        case .machineCreated(let spec, let handle):
            if try !machineExists(spec.name, db) { try insertIntent(spec, at: date, db) }
            try db.cachedStatement(
                sql: """
                    UPDATE machine SET address = ?, port = ?, ssh_user = ?, host_key_fingerprint = ?, driver_id = ?,
                                       lifecycle = 'bringing-up', updated_at = ?
                    WHERE name = ?
                    """
            ).execute(arguments: [handle.address, handle.port, handle.user, handle.hostKeyFingerprint, handle.driverID, date, spec.name])
        case .machineReady(let name):
            try db.cachedStatement(sql: "UPDATE machine SET lifecycle = 'ready', updated_at = ? WHERE name = ?").execute(arguments: [date, name])
            try db.cachedStatement(sql: "DELETE FROM completed_action WHERE machine = ?").execute(arguments: [name])
        case .machineDeleting(let name):
            try db.cachedStatement(sql: "UPDATE machine SET lifecycle = 'deleting', updated_at = ? WHERE name = ?").execute(arguments: [date, name])
        case .machineDeleted(let name):
            // Files and completed actions go with it (ON DELETE CASCADE).
            try db.cachedStatement(sql: "DELETE FROM machine WHERE name = ?").execute(arguments: [name])
        case .fileUploaded(let machine, let path, let sha256, let mode, let content):
            guard try machineExists(machine, db) else { return }
            try db.cachedStatement(
                sql: """
                    INSERT INTO machine_file (machine, path, sha256, mode, content, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (machine, path) DO UPDATE SET sha256 = excluded.sha256, mode = excluded.mode,
                        content = excluded.content, uploaded_at = excluded.uploaded_at
                    """
            ).execute(arguments: [machine, path, sha256, mode, content, date])
        case .captured(let group, let name, let value, let secret):
            var plain: String? = value
            var sealed: [UInt8]? = nil
            if secret {
                let key = try secrets.key(creatingIfMissing: { try Self.holdsSealedValues(db) })
                sealed = try secrets.seal(value, label: Self.capturedLabel(group: group, name: name), key: key)
                plain = nil
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO captured_value (group_name, name, secret, value, sealed, captured_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (group_name, name) DO UPDATE SET secret = excluded.secret, value = excluded.value,
                        sealed = excluded.sealed, captured_at = excluded.captured_at
                    """
            ).execute(arguments: [group, name, secret, plain, sealed.map { Data($0) }, date])
        case .actionCompleted(let machine, let actionID):
            guard try machineExists(machine, db) else { return }
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO completed_action (machine, action_id, completed_at) VALUES (?, ?, ?)")
                .execute(arguments: [machine, actionID, date])
        }
    }

    private func insertIntent(_ spec: MachineSpec, at date: Date, _ db: Database) throws {
        // An existing machine only goes back to `creating`: the rest of its record (files, address,
        // completed actions: what a resume needs) stays.
        try db.cachedStatement(
            sql: """
                INSERT INTO machine (name, group_name, kind, role, machine_index, address, lifecycle, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 'creating', ?)
                ON CONFLICT (name) DO UPDATE SET lifecycle = 'creating', updated_at = excluded.updated_at
                """
        ).execute(arguments: [spec.name, spec.group, spec.kind, spec.role, spec.index, spec.address ?? "", date])
    }

    static func holdsSealedValues(_ db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM captured_value WHERE sealed IS NOT NULL)
                    OR EXISTS (SELECT 1 FROM generated_secret)
                """) ?? false
    }

    static func capturedLabel(group: String, name: String) -> String { "captured:\(group)/\(name)" }
    static func generatedLabel(_ key: String) -> String { "generated:\(key)" }
}
