import Foundation
import GRDB
import PhotonCore

/// Checks an existing state file before anything may write to it. Every refusal names the file, says
/// it was left untouched, and what to do; photon never resets, repairs or migrates a damaged file.
enum Validation {
    static let sqliteMagic = Array("SQLite format 3\u{0}".utf8)

    // Long: the state folder's checks in the order an attacker's tricks would be met (owner, mode, links).
    static func check(_ path: String, deployment: String) throws {
        guard let size = System.fileSize(path) else {
            throw PhotonError("cannot read the state file \(path): \(System.errorText())")
        }
        if size == 0 {
            throw damaged(path, "it is empty: 0 bytes, where photon always writes a complete database")
        }
        let header = try System.readPrefix(path, count: 100)
        guard header.count >= sqliteMagic.count, Array(header.prefix(sqliteMagic.count)) == sqliteMagic else {
            throw damaged(path, "it is not an SQLite database")
        }
        guard header.count == 100 else {
            throw damaged(path, "it is truncated: \(size) bytes, shorter than an SQLite header")
        }
        // SQLite reads a missing tail as zeros, so a file cut short can pass its checks. A database file
        // is whole pages, as many as its header says, unless a WAL still holds pages to copy into it
        // (a checkpoint interrupted by a crash): then SQLite's own recovery decides.
        if (System.fileSize(path + "-wal") ?? 0) == 0 {
            let rawPageSize = Int(header[16]) << 8 | Int(header[17])
            let pageSize = rawPageSize == 1 ? 65536 : rawPageSize
            guard pageSize >= 512, pageSize & (pageSize - 1) == 0 else {
                throw damaged(path, "its header is invalid")
            }
            guard size % pageSize == 0 else {
                throw damaged(path, "it is truncated: \(size) bytes is not a whole number of \(pageSize)-byte pages")
            }
            let pageCount = header[28..<32].reduce(0) { $0 << 8 | Int($1) }
            let countIsValid = header[24..<28] == header[92..<96]
            if countIsValid, pageCount > 0, pageCount * pageSize > size {
                throw damaged(path, "it is truncated: its header counts \(pageCount) pages of \(pageSize) bytes, the file holds \(size) bytes")
            }
        }

        // An ordinary connection (no journal-mode change, reads only): opening and reading leave the
        // file's bytes as they are.
        do {
            let queue = try DatabaseQueue(path: path, configuration: SQLiteStateStore.configuration())
            defer { try? queue.close() }
            try queue.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    throw damaged(path, "SQLite's integrity check reports: \(check.prefix(3).joined(separator: "; "))")
                }
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                guard applicationID == Schema.applicationID, try db.tableExists("grdb_migrations") else {
                    throw foreign(path)
                }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                let known = Set(Schema.knownMigrations)
                let unknown = applied.filter { !known.contains($0) }.sorted()
                guard unknown.isEmpty else {
                    throw PhotonError(
                        "the state file \(path) was written by a newer photon (it has the schema changes \(unknown.joined(separator: ", ")), which this photon does not know); photon left it untouched",
                        help: "use the newer photon, or restore a backup of state.sqlite taken with this version")
                }
                guard applied.contains("v1-initial"), try db.tableExists("meta"),
                    let recorded = try String.fetchOne(db, sql: "SELECT deployment FROM meta WHERE id = 1")
                else {
                    throw damaged(path, "its schema is incomplete")
                }
                guard recorded == deployment else {
                    throw PhotonError(
                        "the state file \(path) belongs to the deployment '\(recorded)', not '\(deployment)'; photon left it untouched",
                        help: "use the state directory of '\(deployment)', or name the deployment '\(recorded)'")
                }
            }
        } catch let error as PhotonError {
            throw error
        } catch let error as DatabaseError {
            throw damaged(path, "SQLite says: \(error.message ?? "error \(error.resultCode.rawValue)")")
        }
    }

    static func damaged(_ path: String, _ reason: String) -> PhotonError {
        PhotonError(
            "the state file \(path) is damaged (\(reason)); photon left it untouched",
            help:
                "'photon state restore -f BLUEPRINT BACKUP.tar' puts back what 'photon state backup' saved (the damaged file is kept aside); photon never resets, repairs or migrates a damaged state file by itself"
        )
    }

    static func foreign(_ path: String) -> PhotonError {
        PhotonError(
            "the file \(path) is an SQLite database but not a photon state file; photon left it untouched",
            help: "move that file away or pass another state directory; if it was a photon state file, 'photon state restore' puts back a backup")
    }
}
