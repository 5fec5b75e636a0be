import Engine
import Foundation
import GRDB
import PhotonCore
import Testing

@testable import StateStore

@Suite("Runs and their journal")
struct RunTests {
    @Test("a run and its journal round-trip", arguments: Backend.allCases)
    func runAndJournal(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            #expect(try await store.lastRun() == nil)
            let run = try await store.beginRun(command: "apply", blueprintDigest: "sha256:bp")
            let at = Date(timeIntervalSince1970: 1_750_000_000.25)
            try await store.record([
                Transition(actionID: "create:m", machine: "m", status: .started, at: at),
                Transition(
                    actionID: "create:m", machine: "m", status: .failed, at: at.addingTimeInterval(1), message: "connection refused",
                    stderrTail: "ssh: connect to host 10.0.0.5 port 22: Connection refused", attempt: 3),
            ])
            var last = try #require(try await store.lastRun())
            #expect(last.id == run && last.status == .running && last.command == "apply" && last.blueprintDigest == "sha256:bp")
            #expect(last.finishedAt == nil && last.pid == getpid())
            try await store.finishRun(run, status: .failed, summary: #"{"create":1}"#)
            last = try #require(try await store.lastRun())
            #expect(last.status == .failed && last.summary == #"{"create":1}"# && last.finishedAt != nil)

            let journal = try await store.journal(run: run)
            #expect(journal.count == 2)
            #expect(journal[0].sequence == 1 && journal[0].status == .started && journal[0].attempt == 1)
            #expect(journal[1].sequence == 2 && journal[1].status == .failed && journal[1].attempt == 3)
            #expect(journal[1].message == "connection refused")
            #expect(journal[1].stderrTail == "ssh: connect to host 10.0.0.5 port 22: Connection refused")
            #expect(abs(journal[0].at.timeIntervalSince(at)) < 0.002)

            let error = await asyncPhotonError { try await store.record([transition("late")]) }
            #expect(error?.message.contains("no run has begun") == true)

            let second = try await store.beginRun(command: "scale", blueprintDigest: nil)
            try await store.finishRun(second, status: .succeeded, summary: nil)
            #expect(try await store.runs(limit: 10).map(\.id) == [second, run])
            #expect(try await store.runs(limit: 1).map(\.id) == [second])
            #expect(try await store.journal(run: second).isEmpty)
            #expect(await asyncPhotonError { try await store.finishRun(second, status: .running, summary: nil) } != nil)
            #expect(await asyncPhotonError { try await store.finishRun(9999, status: .failed, summary: nil) } != nil)
        }
    }

    @Test("old runs and their journals are pruned; the newest and a running one stay", arguments: Backend.allCases)
    func pruning(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            var ids: [Int64] = []
            for _ in 0..<5 {
                let id = try await store.beginRun(command: "apply", blueprintDigest: nil)
                try await store.record([transition("step")])
                try await store.finishRun(id, status: .succeeded, summary: nil)
                ids.append(id)
            }
            let running = try await store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record([transition("step")])
            let removed = try await store.pruneRuns(keeping: 2)
            #expect(removed == Array(ids[0..<4]))
            #expect(try await store.runs(limit: 10).map(\.id) == [running, ids[4]])
            #expect(try await store.journal(run: ids[0]).isEmpty)
            #expect(try await store.journal(run: ids[4]).count == 1)
            #expect(try await store.pruneRuns(keeping: 1) == [ids[4]], "the running run is never removed")
            #expect(try await store.runs(limit: 10).map(\.id) == [running])
        }
    }

    @Test("a run left running by a dead process reads interrupted, and is marked so when the next run begins")
    func crashedRunIsInterrupted() async throws {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            let crashed = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            let run = try crashed.beginRun(command: "apply", blueprintDigest: nil)
            try await crashed.record([Transition(actionID: "a", machine: "m", status: .started, at: Date(timeIntervalSince1970: 1_750_000_000))])
            let pid = try deadPID()
            try await crashed.pool.write { try $0.execute(sql: "UPDATE run SET pid = ? WHERE id = ?", arguments: [pid, run]) }

            let next = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            #expect(try await next.lastRun()?.status == .interrupted)
            #expect(try rawStatus(next, run) == "running", "reading does not write")
            let newRun = try next.beginRun(command: "apply", blueprintDigest: nil)
            #expect(try rawStatus(next, run) == "interrupted")
            let old = try #require(try next.runs(limit: 5).first { $0.id == run })
            #expect(old.finishedAt == Date(timeIntervalSince1970: 1_750_000_000), "finished at its last journaled transition")
            #expect(try await next.lastRun()?.id == newRun)
            #expect(try await next.lastRun()?.status == .running)
        }
    }

    @Test("a run whose lock was released or taken over reads interrupted; one whose lock is held is running", arguments: Backend.allCases)
    func runsFollowTheirLock(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            let lock = try await store.acquireLock(command: "photon apply")
            let run = try await store.beginRun(command: "apply", blueprintDigest: nil)
            let other = try await fixture.open()
            #expect(try await other.lastRun()?.status == .running)
            #expect(try await other.beginRun(command: "plan-like", blueprintDigest: nil) > run)
            #expect(try await rawRunStatus(other, run) == "running", "a live run is left alone by another beginRun")
            try await store.forceUnlock(id: lock.id.uuidString)
            #expect(try await other.runs(limit: 5).first { $0.id == run }?.status == .interrupted)
        }
    }

    func rawStatus(_ store: SQLiteStateStore, _ run: Int64) throws -> String? {
        try store.pool.read { try String.fetchOne($0, sql: "SELECT status FROM run WHERE id = ?", arguments: [run]) }
    }
}
