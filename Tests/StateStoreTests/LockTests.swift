import Etcd
import Foundation
import PhotonCore
import Testing

@testable import StateStore

@Suite("The deployment lock")
struct LockTests {
    @Test("a second acquire fails at once, naming the holder and how to force it", arguments: Backend.allCases)
    func secondAcquireFails(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let first = try await fixture.open()
            let second = try await fixture.open()
            let held = try await first.acquireLock(command: "photon apply blueprint.yaml")
            #expect(held.warning == nil)
            #expect(held.holder.pid == getpid())
            #expect(try await second.lockHolder() == held.holder.with(since: try #require(try await second.lockHolder()).since))

            let started = Date()
            let error = try #require(await asyncPhotonError { _ = try await second.acquireLock(command: "photon scale s workers=3") })
            #expect(Date().timeIntervalSince(started) < 2, "fails at once, does not wait")
            let id = held.id.uuidString
            #expect(error.message.contains("photon apply blueprint.yaml"))
            #expect(error.message.contains("pid \(getpid())"))
            #expect(error.message.contains("host \(System.hostName)"))
            #expect(error.message.contains("since "))
            #expect(error.message.contains("photon unlock --force \(id)"))

            // Released, it can be taken again.
            #expect(try await first.releaseLock(held.id))
            let taken = try await second.acquireLock(command: "photon scale s workers=3")
            #expect(try await first.lockHolder()?.id == taken.id)
            #expect(try await first.releaseLock(held.id) == false, "releasing a lock one no longer holds removes nothing")
            #expect(try await first.lockHolder()?.id == taken.id)
        }
    }

    @Test("a holder on this host whose process is gone is taken over, with a warning naming it")
    func deadHolderIsTakenOver() async throws {
        try await withTemporaryDirectory { base in
            let store = try SQLiteStateStore.open(directory: stateDirectory(in: base), deployment: "demo")
            let pid = try deadPID()
            let stale = LockHolder(
                id: UUID(), pid: pid, host: System.hostName, command: "photon apply old.yaml", since: Date(timeIntervalSince1970: 1_700_000_000))
            try store.plantLock(stale)
            let acquisition = try store.acquireLock(command: "photon apply new.yaml")
            let warning = try #require(acquisition.warning)
            #expect(warning.contains("pid \(pid)"))
            #expect(warning.contains("photon apply old.yaml"))
            #expect(warning.contains(stale.id.uuidString))
            #expect(warning.contains("2023-11-14T22:13:20Z"))
            #expect(try store.lockHolder()?.id == acquisition.id)
            #expect(try store.lockHolder()?.command == "photon apply new.yaml")
        }
    }

    @Test("a holder on this host whose process lives is not taken over")
    func liveHolderOnThisHost() async throws {
        try await withTemporaryDirectory { base in
            let store = try SQLiteStateStore.open(directory: stateDirectory(in: base), deployment: "demo")
            // pid 1 exists (and may belong to another user: EPERM still means alive).
            try store.plantLock(LockHolder(id: UUID(), pid: 1, host: System.hostName, command: "photon destroy", since: Date()))
            let error = photonError { _ = try store.acquireLock(command: "photon apply") }
            #expect(error?.message.contains("photon destroy") == true)
        }
    }

    @Test("a holder on another host is never taken over, even with a pid that does not exist here")
    func holderOnAnotherHost() async throws {
        try await withTemporaryDirectory { base in
            let store = try SQLiteStateStore.open(directory: stateDirectory(in: base), deployment: "demo")
            let remote = LockHolder(id: UUID(), pid: try deadPID(), host: "elsewhere.example", command: "photon apply", since: Date())
            try store.plantLock(remote)
            let error = try #require(photonError { _ = try store.acquireLock(command: "photon apply") })
            #expect(error.message.contains("host elsewhere.example"))
            #expect(error.message.contains("photon unlock --force \(remote.id.uuidString)"))
            #expect(error.help?.contains("another host is never taken over") == true)
            #expect(try store.lockHolder()?.id == remote.id)
        }
    }

    @Test("force unlock needs the holder's id")
    func forceUnlock() async throws {
        try await withTemporaryDirectory { base in
            let store = try SQLiteStateStore.open(directory: stateDirectory(in: base), deployment: "demo")
            var error = photonError { try store.forceUnlock(id: UUID().uuidString) }
            #expect(error?.message.contains("is not locked") == true)

            let remote = LockHolder(id: UUID(), pid: 4242, host: "elsewhere.example", command: "photon apply", since: Date())
            try store.plantLock(remote)
            error = photonError { try store.forceUnlock(id: UUID().uuidString) }
            #expect(error?.message.contains("has the id \(remote.id.uuidString)") == true)
            #expect(try store.lockHolder()?.id == remote.id)

            try store.forceUnlock(id: remote.id.uuidString.lowercased())  // the id in either case
            #expect(try store.lockHolder() == nil)
            _ = try store.acquireLock(command: "photon apply")
        }
    }

    @Test("two stores on one new directory racing for the lock: exactly one wins", arguments: 0..<10)
    func race(round: Int) async throws {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            let contenders = (0..<2).map { index in
                Task { () -> Result<LockAcquisition, any Error> in
                    do {
                        let store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
                        return .success(try store.acquireLock(command: "photon apply #\(index)"))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var results: [Result<LockAcquisition, any Error>] = []
            for contender in contenders { results.append(await contender.value) }
            let winners = results.compactMap { try? $0.get() }
            #expect(winners.count == 1)
            for case .failure(let error) in results {
                #expect((error as? PhotonError)?.message.contains("is locked by") == true, "\(error)")
            }
            let holder = try SQLiteStateStore.open(directory: directory, deployment: "demo").lockHolder()
            #expect(holder?.id == winners.first?.id)
        }
    }

    @Test("etcd: the lock of a holder that stopped renewing it (its process or machine died) expires with its lease")
    func etcdLockExpiresWithItsHolder() async throws {
        try await withStore(.etcd) { fixture in
            let (dying, next) = try await twoStores(fixture, lockTTL: 3)
            let held = try await dying.acquireLock(command: "photon scale web workers=5")
            let run = try await dying.beginRun(command: "scale", blueprintDigest: nil)
            try await Task.sleep(for: .seconds(5))
            #expect(try await next.lockHolder()?.id == held.id, "renewed while its holder lives, past the TTL")
            #expect(await asyncPhotonError { _ = try await next.acquireLock(command: "photon apply") } != nil)

            try await dying.stopKeepingAlive(revoke: false)
            let started = Date()
            var taken: LockAcquisition?
            while taken == nil, Date().timeIntervalSince(started) < 10 {
                taken = try? await next.acquireLock(command: "photon apply")
                if taken == nil { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(taken != nil, "free once the lease expired")
            #expect(Date().timeIntervalSince(started) < 7, "within its TTL (3 s) and a few retries")
            #expect(try await next.runs(limit: 5).first { $0.id == run }?.status == .interrupted, "the dead holder's run reads interrupted")
            try await next.releaseLock(try #require(taken).id)
        }
    }
}

@Suite("Lock fencing in etcd")
struct LockFencingTests {
    @Test("a holder whose lease expired (its process was paused past the TTL) writes nothing more, even after another took the lock")
    func pausedHolderIsFenced() async throws {
        try await withStore(.etcd) { fixture in
            let (paused, next) = try await twoStores(fixture, lockTTL: 2)
            _ = try await paused.acquireLock(command: "photon apply")
            let run = try await paused.beginRun(command: "apply", blueprintDigest: nil)
            // Frozen: no more renewals (as SIGSTOP or a partition would do), but it still believes it holds the lock.
            paused.session.withLock { $0.keepAlive?.cancel() }
            var taken: LockAcquisition?
            let deadline = Date().addingTimeInterval(10)
            while taken == nil, Date() < deadline {
                taken = try? await next.acquireLock(command: "photon apply (new leader)")
                if taken == nil { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(taken != nil)
            let serial = try await next.currentSerial()
            let error = await asyncPhotonError {
                try await paused.record([transition("create:m-1", machine: "m-1", .started, effects: [.machineIntent(spec("m-1"))])])
            }
            #expect(error?.message.contains("lost the lock of 'demo'") == true, "\(String(describing: error))")
            #expect(try await next.currentSerial() == serial, "nothing was recorded")
            #expect(try await next.journal(run: run).isEmpty)
            #expect(await asyncPhotonError { try await paused.finishRun(run, status: .succeeded, summary: "done") } != nil)
            #expect(await asyncPhotonError { try await paused.storeGeneratedSecrets(["secrets.x": "y"]) } != nil)
            #expect(try await next.recordedState().generatedSecrets["secrets.x"] == nil)
            try await next.releaseLock(try #require(taken).id)
        }
    }
}

/// Two stores of one deployment in the fixture's etcd, as two photon processes would open it.
func twoStores(_ fixture: StoreFixture, lockTTL: Int) async throws -> (EtcdStateStore, EtcdStateStore) {
    let etcd = try #require(fixture.etcd).client()
    func store() async throws -> EtcdStateStore {
        try await EtcdStateStore(etcd: etcd, prefix: "/photon/demo/", deployment: "demo", keyDirectory: fixture.directory, lockTTL: lockTTL)
    }
    return (try await store(), try await store())
}

extension LockHolder {
    func with(since: Date) -> LockHolder {
        var copy = self
        copy.since = since
        return copy
    }
}
