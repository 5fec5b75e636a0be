import Crypto
import Engine
import Foundation
import GRDB
import MachineAccess
import PhotonCore
import Planning

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
public final class SQLiteStateStore: RunJournal, Sendable {
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
    public static func open(directory: String, deployment: String) throws -> SQLiteStateStore {
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
            throw PhotonError(
                "cannot open the state file \(path): \(error.message ?? "SQLite error \(error.resultCode.rawValue)")",
                help: "check that you may read and write \(directory) and that no other program holds the file")
        }
        return SQLiteStateStore(directory: directory, deployment: deployment, databasePath: path, pool: pool)
    }

    /// A consistent copy of the database at `path` (0600), taken with SQLite's online backup while
    /// the store stays usable (`photon state backup`).
    public func copyDatabase(to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw PhotonError("cannot write \(path)")
        }
        let copy = try DatabaseQueue(path: path)
        try pool.backup(to: copy)
        try copy.close()
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
                try db.execute(
                    sql: "INSERT INTO meta (id, deployment, serial, created_at) VALUES (1, ?, 0, ?)",
                    arguments: [deployment, Date()])
            }
            try queue.writeWithoutTransaction { db in
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            }
            try queue.close()
        } catch let error as DatabaseError {
            throw PhotonError(
                "cannot create the state file \(path): \(error.message ?? "SQLite error \(error.resultCode.rawValue)")",
                help: "check that you may write to \(directory)")
        }
        if try System.linkIfAbsent(temporary, to: path) {
            System.syncDirectory(directory)
        }
    }
}
