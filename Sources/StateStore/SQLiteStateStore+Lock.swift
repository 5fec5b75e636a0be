import Foundation
import GRDB
import PhotonCore

extension SQLiteStateStore {
    /// Takes the deployment's lock for `command` (one writer per deployment).
    ///
    /// The check and the take are one IMMEDIATE transaction: SQLite lets one writer at a time begin one,
    /// so of two processes racing, the second sees the first's row and fails. A holder on this host
    /// whose process no longer exists (`kill(pid, 0)` fails with ESRCH) is taken over, and the
    /// acquisition carries a warning naming it. A live holder, or any holder on another host, makes this
    /// fail at once with an error naming it and how to force it.
    public func acquireLock(command: String) throws -> LockAcquisition {
        let mine = LockHolder(id: UUID(), pid: System.pid, host: System.hostName, command: command, since: Date())
        let warning = try pool.writeWithoutTransaction { db -> String? in
            var warning: String?
            try db.inTransaction(.immediate) {
                if let holder = try Self.fetchLockHolder(db) {
                    guard holder.host == System.hostName, !System.processExists(holder.pid) else {
                        throw lockedError(by: holder)
                    }
                    warning = "took over the lock of \(holder), lock id \(holder.id.uuidString): that process no longer exists on this host"
                    try db.execute(sql: "DELETE FROM lock WHERE id = 1")
                }
                try Self.insertLock(mine, db)
                return .commit
            }
            return warning
        }
        session.withLock { $0.heldLock = mine.id }
        return LockAcquisition(holder: mine, warning: warning)
    }

    /// Releases the lock if `id` still holds it. Returns whether it did (false when it was forced away meanwhile).
    @discardableResult
    public func releaseLock(_ id: UUID) throws -> Bool {
        let released = try pool.write { db -> Bool in
            try db.execute(sql: "DELETE FROM lock WHERE id = 1 AND lower(holder_id) = ?", arguments: [id.uuidString.lowercased()])
            return db.changesCount > 0
        }
        session.withLock { if $0.heldLock == id { $0.heldLock = nil } }
        return released
    }

    /// `photon unlock --force <id>`: removes the lock whoever holds it, provided `id` names the current holder
    /// (so a lock taken since the user looked is not removed by mistake).
    public func forceUnlock(id: String) throws {
        let wanted = id.trimmingCharacters(in: .whitespaces).lowercased()
        try pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                guard let holder = try Self.fetchLockHolder(db) else {
                    throw PhotonError("the deployment '\(deployment)' is not locked", help: "there is nothing to unlock")
                }
                guard holder.id.uuidString.lowercased() == wanted else {
                    throw PhotonError(
                        "the lock of the deployment '\(deployment)' has the id \(holder.id.uuidString), not \(id); it is held by \(holder)",
                        help: "check that this holder is gone, then run `photon unlock --force \(holder.id.uuidString)`")
                }
                try db.execute(sql: "DELETE FROM lock WHERE id = 1")
                return .commit
            }
        }
        session.withLock { if $0.heldLock?.uuidString.lowercased() == wanted { $0.heldLock = nil } }
    }

    /// Who holds the lock, if anyone.
    public func lockHolder() throws -> LockHolder? {
        try pool.read { try Self.fetchLockHolder($0) }
    }

    func lockedError(by holder: LockHolder) -> PhotonError {
        let id = holder.id.uuidString
        let away = holder.host == System.hostName ? "" : " (a holder on another host is never taken over automatically)"
        return PhotonError(
            "the deployment '\(deployment)' is locked by \(holder), lock id \(id); if that process is gone, run `photon unlock --force \(id)`",
            help: "another photon is changing this deployment: wait for it to finish\(away)")
    }

    static func fetchLockHolder(_ db: Database) throws -> LockHolder? {
        guard let row = try Row.fetchOne(db, sql: "SELECT holder_id, pid, host, command, since FROM lock WHERE id = 1") else { return nil }
        let text: String = row["holder_id"]
        return LockHolder(
            id: UUID(uuidString: text) ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), pid: row["pid"],
            host: row["host"], command: row["command"], since: row["since"])
    }

    static func insertLock(_ holder: LockHolder, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO lock (id, holder_id, pid, host, command, since) VALUES (1, ?, ?, ?, ?, ?)",
            arguments: [holder.id.uuidString.lowercased(), holder.pid, holder.host, holder.command, holder.since])
    }

    /// For tests: writes a lock row as another process would have.
    func plantLock(_ holder: LockHolder) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM lock WHERE id = 1")
            try Self.insertLock(holder, db)
        }
    }
}
