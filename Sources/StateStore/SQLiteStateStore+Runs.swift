import Engine
import Foundation
import GRDB
import PhotonCore

extension SQLiteStateStore {
    /// Starts a run; `record` appends to it until ``finishRun(_:status:summary:)``.
    ///
    /// Runs left `running` by a process that died (kill -9, power cut) are marked `interrupted` here,
    /// in the same transaction (their finish time is their last journaled transition).
    /// ``lastRun()`` and ``runs(limit:)`` already report such a run as `interrupted` before that,
    /// without writing. A run's process is gone when it ran on this host and its pid no longer exists,
    /// or when the lock it held is no longer held (released, forced or taken over).
    @discardableResult
    public func beginRun(command: String, blueprintDigest: String?) throws -> Int64 {
        let lockID = session.withLock { $0.heldLock }
        let id = try pool.write { db -> Int64 in
            let holder = try Self.fetchLockHolder(db)
            for row in try Row.fetchAll(db, sql: "SELECT id, pid, host, lock_id FROM run WHERE status = 'running'")
            where !Self.isLive(pid: row["pid"], host: row["host"], lockID: row["lock_id"], holder: holder) {
                try db.execute(
                    sql: """
                        UPDATE run SET status = 'interrupted',
                            finished_at = COALESCE((SELECT MAX(at) FROM journal WHERE run_id = run.id), started_at)
                        WHERE id = ?
                        """, arguments: [row["id"] as Int64])
            }
            try db.execute(
                sql: """
                    INSERT INTO run (command, started_at, status, blueprint_digest, pid, host, lock_id)
                    VALUES (?, ?, 'running', ?, ?, ?, ?)
                    """, arguments: [command, Date(), blueprintDigest, System.pid, System.hostName, lockID?.uuidString.lowercased()])
            return db.lastInsertedRowID
        }
        session.withLock { $0.currentRun = id }
        return id
    }

    /// Forgets all but the `keeping` most recent runs (and their journals), never a running one, so the
    /// state file does not grow with every apply. Returns the ids removed (their logs can go too).
    @discardableResult
    public func pruneRuns(keeping: Int) throws -> [Int64] {
        try pool.write { db in
            let doomed = try Int64.fetchAll(
                db,
                sql: """
                    SELECT id FROM run WHERE status != 'running' AND id NOT IN (SELECT id FROM run ORDER BY id DESC LIMIT ?)
                    """, arguments: [max(1, keeping)])
            for id in doomed {
                try db.execute(sql: "DELETE FROM journal WHERE run_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM run WHERE id = ?", arguments: [id])
            }
            return doomed
        }
    }

    /// Ends a run with its outcome and, optionally, the plan summary (JSON). Recording into it afterwards fails.
    public func finishRun(_ id: Int64, status: RunStatus, summary: String?) throws {
        guard status != .running else {
            throw PhotonError("a run cannot finish with the status 'running'", help: "pass succeeded, failed or interrupted (this is a bug in photon)")
        }
        try pool.write { db in
            try db.execute(
                sql: "UPDATE run SET status = ?, finished_at = ?, plan_summary = COALESCE(?, plan_summary) WHERE id = ?",
                arguments: [status.rawValue, Date(), summary, id])
            guard db.changesCount == 1 else {
                throw PhotonError("there is no run \(id) in the state file \(databasePath)")
            }
        }
        session.withLock { if $0.currentRun == id { $0.currentRun = nil } }
    }

    /// The most recent runs, newest first.
    public func runs(limit: Int = 20) throws -> [RunRecord] {
        try pool.read { db in
            let holder = try Self.fetchLockHolder(db)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT id, command, started_at, finished_at, status, blueprint_digest, plan_summary, pid, host, lock_id
                    FROM run ORDER BY id DESC LIMIT ?
                    """, arguments: [max(0, limit)]
            ).map { row in
                var status = RunStatus(rawValue: row["status"]) ?? .interrupted
                if status == .running, !Self.isLive(pid: row["pid"], host: row["host"], lockID: row["lock_id"], holder: holder) {
                    status = .interrupted
                }
                return RunRecord(
                    id: row["id"], command: row["command"], startedAt: row["started_at"], finishedAt: row["finished_at"],
                    status: status, blueprintDigest: row["blueprint_digest"], summary: row["plan_summary"],
                    pid: row["pid"], host: row["host"])
            }
        }
    }

    /// A run's transitions, in the order they were recorded.
    public func journal(run: Int64) throws -> [JournalEntry] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT run_id, seq, action_id, machine, status, at, message, stderr_tail, attempt
                    FROM journal WHERE run_id = ? ORDER BY seq
                    """, arguments: [run]
            ).map { row in
                JournalEntry(
                    runID: row["run_id"], sequence: row["seq"], actionID: row["action_id"], machine: row["machine"],
                    status: Transition.Status(rawValue: row["status"]) ?? .interrupted, at: row["at"],
                    message: row["message"], stderrTail: row["stderr_tail"], attempt: row["attempt"])
            }
        }
    }

    /// Whether the process of a run recorded as `running` may still be running it.
    static func isLive(pid: Int32, host: String, lockID: String?, holder: LockHolder?) -> Bool {
        if host == System.hostName, !System.processExists(pid) { return false }
        if let lockID, lockID.lowercased() != holder?.id.uuidString.lowercased() { return false }
        return true
    }
}
