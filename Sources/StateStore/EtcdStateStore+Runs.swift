import Crypto
import Engine
import Etcd
import Foundation
import MachineAccess
import PhotonCore
import Planning

extension EtcdStateStore {
    // MARK: - Runs

    @discardableResult
    public func beginRun(command: String, blueprintDigest: String?) async throws -> Int64 {
        let lockID = session.withLock { $0.heldLock }
        let holder = try await lockHolder()
        let (values, _) = try await etcd.list(prefix: key("run/"))
        var highest: Int64 = 0
        for value in values {
            var row = try Self.decode(RunRow.self, value.value, key: value.key)
            highest = max(highest, row.id)
            if row.status == .running, !SQLiteStateStore.isLive(pid: row.pid, host: row.host, lockID: row.lockID?.uuidString, holder: holder) {
                let journal = try await etcd.list(prefix: key(Self.journalPrefix(row.id))).values
                let last = try journal.last.map { try Self.decode(JournalRow.self, $0.value, key: $0.key).at }
                row.status = .interrupted
                row.finishedAt = last ?? row.startedAt
                try await etcd.put(value.key, try Self.encode(row))
            }
        }
        // Run ids are claimed with a create-only transaction, so two stores never share one.
        var id = highest + 1
        while true {
            let row = RunRow(
                id: id, command: command, startedAt: Date(), finishedAt: nil, status: .running, blueprintDigest: blueprintDigest,
                summary: nil, pid: System.pid, host: System.hostName, lockID: lockID)
            let fences = try fence()
            let result = try await etcd.transaction(
                if: [.version(key(Self.runKey(id)), equals: 0)] + fences, then: [.put(key(Self.runKey(id)), try Self.encode(row))])
            if result.succeeded { break }
            try await checkFenceAfterFailure(fences)
            id += 1
        }
        session.withLock {
            $0.currentRun = id
            $0.nextSequence = 0
        }
        return id
    }

    public func finishRun(_ id: Int64, status: RunStatus, summary: String?) async throws {
        guard status != .running else {
            throw PhotonError("a run cannot finish with the status 'running'", help: "pass succeeded, failed or interrupted (this is a bug in photon)")
        }
        guard let value = try await etcd.get(key(Self.runKey(id))) else {
            throw PhotonError("there is no run \(id) in the plane's state of '\(deployment)'")
        }
        var row = try Self.decode(RunRow.self, value.value, key: value.key)
        row.status = status
        row.finishedAt = Date()
        if let summary { row.summary = summary }
        let fences = try fence()
        let result = try await etcd.transaction(if: fences, then: [.put(value.key, try Self.encode(row))])
        if !result.succeeded { try await checkFenceAfterFailure(fences) }
        session.withLock { if $0.currentRun == id { $0.currentRun = nil } }
    }

    @discardableResult
    public func pruneRuns(keeping: Int) async throws -> [Int64] {
        _ = try fence()
        let rows = try await etcd.list(prefix: key("run/")).values.map { try Self.decode(RunRow.self, $0.value, key: $0.key) }
        let kept = Set(rows.map(\.id).sorted(by: >).prefix(max(1, keeping)))
        var doomed: [Int64] = []
        for row in rows where row.status != .running && !kept.contains(row.id) {
            try await etcd.delete(prefix: key(Self.journalPrefix(row.id)))
            try await etcd.delete(key(Self.runKey(row.id)))
            doomed.append(row.id)
        }
        return doomed
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        let holder = try await lockHolder()
        let rows = try await etcd.list(prefix: key("run/")).values.map { try Self.decode(RunRow.self, $0.value, key: $0.key) }
        return rows.sorted { $0.id > $1.id }.prefix(max(0, limit)).map { row in
            var status = row.status
            if status == .running, !SQLiteStateStore.isLive(pid: row.pid, host: row.host, lockID: row.lockID?.uuidString, holder: holder) {
                status = .interrupted
            }
            return RunRecord(
                id: row.id, command: row.command, startedAt: row.startedAt, finishedAt: row.finishedAt, status: status,
                blueprintDigest: row.blueprintDigest, summary: row.summary, pid: row.pid, host: row.host)
        }
    }

    public func journal(run: Int64) async throws -> [JournalEntry] {
        try await etcd.list(prefix: key(Self.journalPrefix(run))).values.map { value in
            let row = try Self.decode(JournalRow.self, value.value, key: value.key)
            return JournalEntry(
                runID: run, sequence: row.sequence, actionID: row.actionID, machine: row.machine, status: row.status, at: row.at,
                message: row.message, stderrTail: row.stderrTail, attempt: row.attempt)
        }.sorted { $0.sequence < $1.sequence }
    }
}
