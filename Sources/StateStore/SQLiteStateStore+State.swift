import Crypto
import Engine
import Foundation
import GRDB
import MachineAccess
import PhotonCore
import Planning

extension SQLiteStateStore {
    // MARK: - Recorded state

    /// The recorded state as it is now, secrets decrypted (captured secret values have `secret` set).
    /// One read transaction: machines, values and serial are from the same moment.
    public func recordedState() async throws -> RecordedState {
        try await pool.read { db in try self.readState(db) }
    }

    /// The recorded state, for callers that are not asynchronous.
    public func readRecordedState() throws -> RecordedState {
        try pool.read { db in try self.readState(db) }
    }

    /// Increases with every change of recorded state (machines, files, completed actions, captured values,
    /// generated secrets, last-applied blueprint); never decreases.
    public var serial: Int {
        get throws { try pool.read { try Self.readSerial($0) } }
    }

    static func readSerial(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT serial FROM meta WHERE id = 1") ?? 0
    }

    // Long: one read of each table inside one transaction, so the state is read at one moment.
    private func readState(_ db: Database) throws -> RecordedState {
        var files: [String: [String: RecordedFile]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT machine, path, sha256, mode, content FROM machine_file") {
            files[row["machine"], default: [:]][row["path"]] = RecordedFile(sha256: row["sha256"], mode: row["mode"], content: row["content"])
        }
        var actions: [String: Set<String>] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT machine, action_id FROM completed_action") {
            actions[row["machine"], default: []].insert(row["action_id"])
        }
        let machines = try Row.fetchAll(
            db,
            sql: """
                SELECT name, group_name, kind, role, machine_index, address, host_key_fingerprint, lifecycle
                FROM machine ORDER BY group_name, machine_index, name
                """
        ).map { row -> RecordedMachine in
            let name: String = row["name"]
            let lifecycleText: String = row["lifecycle"]
            guard let lifecycle = MachineLifecycle(rawValue: lifecycleText) else {
                throw PhotonError("the state file \(databasePath) records machine \(name) with an unknown lifecycle '\(lifecycleText)'")
            }
            return RecordedMachine(
                name: name, group: row["group_name"], kind: row["kind"], role: row["role"], index: row["machine_index"],
                address: row["address"], hostKeyFingerprint: row["host_key_fingerprint"], files: files[name] ?? [:],
                lifecycle: lifecycle, completedActions: actions[name] ?? [])
        }

        var scaled: [String: ScaledCount] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT group_name, role, count, base_count FROM scaled_count") {
            let count = ScaledCount(group: row["group_name"], role: row["role"], count: row["count"], baseCount: row["base_count"])
            scaled[count.key] = count
        }
        let capturedRows = try Row.fetchAll(db, sql: "SELECT group_name, name, secret, value, sealed FROM captured_value")
        let generatedRows = try Row.fetchAll(db, sql: "SELECT key, sealed FROM generated_secret")
        let needsKey = !generatedRows.isEmpty || capturedRows.contains { ($0["secret"] as Bool) }
        var key: SymmetricKey?
        if needsKey {
            guard let existing = try secrets.existingKey() else { throw secrets.missingKeyError() }
            key = existing
        }
        var captured: [String: RecordedValue] = [:]
        for row in capturedRows {
            let group: String = row["group_name"]
            let name: String = row["name"]
            if row["secret"] as Bool, let key {
                let sealed: Data = row["sealed"]
                captured["\(group)/\(name)"] = RecordedValue(
                    value: try secrets.open(Array(sealed), label: Self.capturedLabel(group: group, name: name), key: key),
                    secret: true)
            } else {
                captured["\(group)/\(name)"] = RecordedValue(value: row["value"], secret: false)
            }
        }
        var generated: [String: String] = [:]
        for row in generatedRows {
            let name: String = row["key"]
            let sealed: Data = row["sealed"]
            if let key { generated[name] = try secrets.open(Array(sealed), label: Self.generatedLabel(name), key: key) }
        }
        return RecordedState(serial: try Self.readSerial(db), machines: machines, captured: captured, generatedSecrets: generated, scaledCounts: scaled)
    }

    /// How to reach each recorded machine that a driver has reported (address, port, user, host key, driver id).
    public func machineHandles() throws -> [MachineHandle] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT name, address, port, ssh_user, host_key_fingerprint, driver_id FROM machine
                    WHERE driver_id IS NOT NULL ORDER BY name
                    """
            ).map { row in
                MachineHandle(
                    name: row["name"], address: row["address"], port: row["port"] ?? 22, user: row["ssh_user"],
                    hostKeyFingerprint: row["host_key_fingerprint"], driverID: row["driver_id"])
            }
        }
    }

    /// Makes the key that seals secrets if there is none yet (the management plane receives a copy).
    /// Returns its path.
    @discardableResult
    public func ensureSecretsKey() throws -> String {
        _ = try secrets.key(creatingIfMissing: { try pool.read { try Self.holdsSealedValues($0) } })
        return keyPath
    }

    // MARK: - Generated secrets and the applied blueprint

    /// Records values photon generated for `generate` secrets (keys such as `secrets.apiToken` or
    /// `<group>/settings.<name>`), sealed. A key already recorded with the same value is left alone; a
    /// different value replaces it. The serial moves when anything changed.
    public func storeGeneratedSecrets(_ values: [String: String]) throws {
        guard !values.isEmpty else { return }
        try pool.write { db in
            let key = try secrets.key(creatingIfMissing: { try Self.holdsSealedValues(db) })
            var changed = false
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                let label = Self.generatedLabel(name)
                if let existing = try Data.fetchOne(db, sql: "SELECT sealed FROM generated_secret WHERE key = ?", arguments: [name]),
                    try secrets.open(Array(existing), label: label, key: key) == value
                {
                    continue
                }
                let sealed = try secrets.seal(value, label: label, key: key)
                try db.execute(
                    sql: """
                        INSERT INTO generated_secret (key, sealed, generated_at) VALUES (?, ?, ?)
                        ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, generated_at = excluded.generated_at
                        """, arguments: [name, Data(sealed), Date()])
                changed = true
            }
            if changed { try bumpSerial(db) }
        }
    }

    /// Records the blueprint an apply converged to (the base of the three-way merge with `scale`).
    /// The serial moves when it differs from the one recorded.
    public func recordApplied(blueprint: [UInt8], digest: String) throws {
        try pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT bytes, digest FROM applied_blueprint WHERE id = 1"),
                row["digest"] as String == digest, (row["bytes"] as Data) == Data(blueprint)
            {
                return
            }
            try db.execute(
                sql: """
                    INSERT INTO applied_blueprint (id, bytes, digest, applied_at) VALUES (1, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET bytes = excluded.bytes, digest = excluded.digest, applied_at = excluded.applied_at
                    """, arguments: [Data(blueprint), digest, Date()])
            try bumpSerial(db)
        }
    }

    /// Records counts set by `photon scale` (replacing earlier ones for the same roles); the serial moves.
    public func recordScaledCounts(_ counts: [ScaledCount]) throws {
        try pool.write { db in
            for count in counts {
                try db.execute(
                    sql: """
                        INSERT INTO scaled_count (group_name, role, count, base_count, scaled_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (group_name, role) DO UPDATE SET count = excluded.count, base_count = excluded.base_count, scaled_at = excluded.scaled_at
                        """, arguments: [count.group, count.role, count.count, count.baseCount, Date()])
            }
            try bumpSerial(db)
        }
    }

    /// Forgets scaled counts the blueprint has overridden (or whose cluster is gone), by `<group>/<role>`.
    public func forgetScaledCounts(_ keys: [String]) throws {
        guard !keys.isEmpty else { return }
        try pool.write { db in
            for key in keys {
                let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                try db.execute(sql: "DELETE FROM scaled_count WHERE group_name = ? AND role = ?", arguments: [parts[0], parts[1]])
            }
            try bumpSerial(db)
        }
    }

    /// The blueprint last recorded by ``recordApplied(blueprint:digest:)``.
    public func lastApplied() throws -> (bytes: [UInt8], digest: String, date: Date)? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT bytes, digest, applied_at FROM applied_blueprint WHERE id = 1") else { return nil }
            return (bytes: Array(row["bytes"] as Data), digest: row["digest"], date: row["applied_at"])
        }
    }
}
