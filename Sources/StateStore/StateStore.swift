import Crypto
import Engine
import Foundation
import GRDB
import MachineAccess
import Planning
import PhotonCore

/// photon's recorded state of one deployment, in `<directory>/state.sqlite` (SQLite in WAL mode,
/// `synchronous = FULL`, file mode 0600), with the key that seals its secrets in
/// `<directory>/secrets.key` (0600).
///
/// It holds the machines (with their files and, while they are not ready, the actions completed on them),
/// captured values and generated secrets (secret ones sealed with AES-GCM), the runs and their journal,
/// the last-applied blueprint, a serial that every change of recorded state increments, and the lock that
/// keeps a deployment to one writer.
///
/// `record` and `recordedState` are asynchronous and run on GRDB's own queues; the other methods are
/// synchronous and short (one transaction each).
public final class StateStore: RunJournal, Sendable {
    public static let databaseFileName = "state.sqlite"

    public let directory: String
    public let deployment: String
    public let databasePath: String
    public var keyPath: String { secrets.keyPath }

    let pool: DatabasePool
    let secrets: SecretBox
    let session = Locked(Session())

    struct Session {
        /// The run `record` appends to.
        var currentRun: Int64?
        /// The lock this store acquired, if it holds it.
        var heldLock: UUID?
    }

    private init(directory: String, deployment: String, databasePath: String, pool: DatabasePool) {
        self.directory = directory
        self.deployment = deployment
        self.databasePath = databasePath
        self.pool = pool
        self.secrets = SecretBox(directory: directory)
    }

    // MARK: - Opening

    /// Opens the state of `deployment` in `directory`, creating the directory (0700) and the database
    /// (0600) when missing. An existing file is checked before anything writes to it: one that is not a
    /// photon state file, is damaged, or was written by a newer photon is refused with an error naming
    /// it, and left exactly as it was.
    public static func open(directory: String, deployment: String) throws -> StateStore {
        try System.makeDirectory(directory)
        let path = (directory as NSString).appendingPathComponent(databaseFileName)
        if !System.exists(path) {
            try createDatabase(at: path, directory: directory, deployment: deployment)
        }
        try Validation.check(path, deployment: deployment)
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration())
            // GRDB sets `synchronous = NORMAL` on the writer after switching to WAL (after
            // `prepareDatabase` ran): with NORMAL a power cut can lose the last commits. An apply must
            // survive one, so the writer goes back to FULL: every commit syncs the WAL.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            try Schema.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw PhotonError("cannot open the state file \(path): \(error.message ?? "SQLite error \(error.resultCode.rawValue)")",
                              help: "check that you may read and write \(directory) and that no other program holds the file")
        }
        return StateStore(directory: directory, deployment: deployment, databasePath: path, pool: pool)
    }

    /// Copies the WAL into the database file and closes the connections; the store cannot be used
    /// afterwards. (GRDB closes the writer before the readers, so without the explicit checkpoint the
    /// last commits would stay in `state.sqlite-wal`: durable, but not in the main file.)
    public func close() throws {
        pool.writeWithoutTransaction { db in
            _ = try? db.checkpoint(.truncate)
        }
        try pool.close()
    }

    static func configuration(readonly: Bool = false) -> Configuration {
        var config = Configuration()
        config.label = "photon.state"
        config.readonly = readonly
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
        }
        return config
    }

    /// Makes a complete database under a temporary name and then gives it its name with a hard link, so
    /// `state.sqlite` either does not exist or is a fully initialised photon state file: an existing
    /// empty or half-written one is damage, never "new". Two processes racing here both succeed, with
    /// the first one's file.
    private static func createDatabase(at path: String, directory: String, deployment: String) throws {
        let temporary = path + ".creating-\(System.pid)-\(UUID().uuidString)"
        try System.createFile(temporary, mode: 0o600, bytes: [])
        defer {
            for suffix in ["", "-wal", "-shm", "-journal"] { System.remove(temporary + suffix) }
        }
        do {
            let queue = try DatabaseQueue(path: temporary, configuration: configuration())
            try Schema.migrator.migrate(queue)
            try queue.write { db in
                try db.execute(sql: "INSERT INTO meta (id, deployment, serial, created_at) VALUES (1, ?, 0, ?)",
                               arguments: [deployment, Date()])
            }
            try queue.writeWithoutTransaction { db in
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            }
            try queue.close()
        } catch let error as DatabaseError {
            throw PhotonError("cannot create the state file \(path): \(error.message ?? "SQLite error \(error.resultCode.rawValue)")",
                              help: "check that you may write to \(directory)")
        }
        if try System.linkIfAbsent(temporary, to: path) {
            System.syncDirectory(directory)
        }
    }

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
            pool.asyncWrite({ db in
                try self.append(transitions, run: run, db)
            }, completion: { _, result in
                continuation.resume(with: result)
            })
        }
    }

    private func currentRun() throws -> Int64 {
        guard let run = session.withLock({ $0.currentRun }) else {
            throw PhotonError("cannot record transitions: no run has begun",
                              help: "call beginRun(command:blueprintDigest:) before recording (this is a bug in photon)")
        }
        return run
    }

    private func append(_ transitions: [Transition], run: Int64, _ db: Database) throws {
        var sequence = try Int.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM journal WHERE run_id = ?"), arguments: [run]) ?? 0
        var changed = false
        for transition in transitions {
            sequence += 1
            try db.cachedStatement(sql: """
                INSERT INTO journal (run_id, seq, action_id, machine, status, at, message, stderr_tail, attempt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [run, sequence, transition.actionID, transition.machine, transition.status.rawValue,
                                 transition.at, transition.message, transition.stderrTail, transition.attempt])
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
            try db.cachedStatement(sql: """
                UPDATE machine SET address = ?, port = ?, ssh_user = ?, host_key_fingerprint = ?, driver_id = ?,
                                   lifecycle = 'bringing-up', updated_at = ?
                WHERE name = ?
                """).execute(arguments: [handle.address, handle.port, handle.user, handle.hostKeyFingerprint, handle.driverID, date, spec.name])
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
            try db.cachedStatement(sql: """
                INSERT INTO machine_file (machine, path, sha256, mode, content, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (machine, path) DO UPDATE SET sha256 = excluded.sha256, mode = excluded.mode,
                    content = excluded.content, uploaded_at = excluded.uploaded_at
                """).execute(arguments: [machine, path, sha256, mode, content, date])
        case .captured(let group, let name, let value, let secret):
            var plain: String? = value
            var sealed: [UInt8]? = nil
            if secret {
                let key = try secrets.key(creatingIfMissing: { try Self.holdsSealedValues(db) })
                sealed = try secrets.seal(value, label: Self.capturedLabel(group: group, name: name), key: key)
                plain = nil
            }
            try db.cachedStatement(sql: """
                INSERT INTO captured_value (group_name, name, secret, value, sealed, captured_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (group_name, name) DO UPDATE SET secret = excluded.secret, value = excluded.value,
                    sealed = excluded.sealed, captured_at = excluded.captured_at
                """).execute(arguments: [group, name, secret, plain, sealed.map { Data($0) }, date])
        case .actionCompleted(let machine, let actionID):
            guard try machineExists(machine, db) else { return }
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO completed_action (machine, action_id, completed_at) VALUES (?, ?, ?)")
                .execute(arguments: [machine, actionID, date])
        }
    }

    private func insertIntent(_ spec: MachineSpec, at date: Date, _ db: Database) throws {
        // An existing machine only goes back to `creating`: the rest of its record (files, address,
        // completed actions: what a resume needs) stays.
        try db.cachedStatement(sql: """
            INSERT INTO machine (name, group_name, kind, role, machine_index, address, lifecycle, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 'creating', ?)
            ON CONFLICT (name) DO UPDATE SET lifecycle = 'creating', updated_at = excluded.updated_at
            """).execute(arguments: [spec.name, spec.group, spec.kind, spec.role, spec.index, spec.address ?? "", date])
    }

    static func holdsSealedValues(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM captured_value WHERE sealed IS NOT NULL)
                OR EXISTS (SELECT 1 FROM generated_secret)
            """) ?? false
    }

    static func capturedLabel(group: String, name: String) -> String { "captured:\(group)/\(name)" }
    static func generatedLabel(_ key: String) -> String { "generated:\(key)" }

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

    private func readState(_ db: Database) throws -> RecordedState {
        var files: [String: [String: RecordedFile]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT machine, path, sha256, mode, content FROM machine_file") {
            files[row["machine"], default: [:]][row["path"]] = RecordedFile(sha256: row["sha256"], mode: row["mode"], content: row["content"])
        }
        var actions: [String: Set<String>] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT machine, action_id FROM completed_action") {
            actions[row["machine"], default: []].insert(row["action_id"])
        }
        let machines = try Row.fetchAll(db, sql: """
            SELECT name, group_name, kind, role, machine_index, address, host_key_fingerprint, lifecycle
            FROM machine ORDER BY group_name, machine_index, name
            """).map { row -> RecordedMachine in
            let name: String = row["name"]
            let lifecycleText: String = row["lifecycle"]
            guard let lifecycle = MachineLifecycle(rawValue: lifecycleText) else {
                throw PhotonError("the state file \(databasePath) records machine \(name) with an unknown lifecycle '\(lifecycleText)'")
            }
            return RecordedMachine(name: name, group: row["group_name"], kind: row["kind"], role: row["role"], index: row["machine_index"],
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
                captured["\(group)/\(name)"] = RecordedValue(value: try secrets.open(Array(sealed), label: Self.capturedLabel(group: group, name: name), key: key),
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
            try Row.fetchAll(db, sql: """
                SELECT name, address, port, ssh_user, host_key_fingerprint, driver_id FROM machine
                WHERE driver_id IS NOT NULL ORDER BY name
                """).map { row in
                MachineHandle(name: row["name"], address: row["address"], port: row["port"] ?? 22, user: row["ssh_user"],
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
                   try secrets.open(Array(existing), label: label, key: key) == value {
                    continue
                }
                let sealed = try secrets.seal(value, label: label, key: key)
                try db.execute(sql: """
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
               row["digest"] as String == digest, (row["bytes"] as Data) == Data(blueprint) {
                return
            }
            try db.execute(sql: """
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
                try db.execute(sql: """
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
