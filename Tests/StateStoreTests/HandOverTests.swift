import Engine
import EngineTestSupport
import Etcd
import Foundation
import Planning
import Testing

@testable import StateStore

@Suite("Hand-over: the installer's state copied into the plane's etcd")
struct HandOverTests {
    @Test("every record arrives: machines with their handles, values, secrets, counts, the applied blueprint, runs and journals")
    func copyIsComplete() async throws {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            let local = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            let run = try local.beginRun(command: "apply", blueprintDigest: "sha256:1")
            for batch in RecordTests.batches { try await local.record(batch) }
            try local.finishRun(run, status: .succeeded, summary: "done")
            try local.storeGeneratedSecrets(["management/settings.apiToken": "0123456789abcdef"])
            try local.recordScaledCounts([ScaledCount(group: "s", role: "workers", count: 5, baseCount: 2)])
            try local.recordApplied(blueprint: Array("name: demo\n".utf8), digest: "sha256:1")

            let etcd = try LocalEtcd()
            defer { etcd.stop() }
            let plane = try await EtcdStateStore(
                etcd: try etcd.client(), prefix: "/photon/demo/", deployment: "demo",
                keyDirectory: directory)
            try await plane.importState(from: local)
            let copied = try await plane.recordedState()
            let original = try local.readRecordedState()
            #expect(copied.machines == original.machines)
            #expect(copied.captured == original.captured)
            #expect(copied.generatedSecrets == original.generatedSecrets)
            #expect(copied.scaledCounts == original.scaledCounts)
            #expect(copied.serial == original.serial)
            #expect(try await plane.machineHandles() == (try local.machineHandles()))
            #expect(try await plane.lastApplied()?.digest == "sha256:1")
            #expect(try await plane.runs(limit: 10).map(\.id) == [run])
            #expect(try await plane.journal(run: run) == (try local.journal(run: run)))

            // A second hand-over replaces, it does not merge.
            let second = try local.beginRun(command: "destroy", blueprintDigest: nil)
            try await local.record([transition("x", effects: [.machineDeleted(name: "d-s-workers-1")])])
            try local.finishRun(second, status: .succeeded, summary: nil)
            try await plane.importState(from: local)
            #expect(try await plane.recordedState().machines.map(\.name) == ["d-s-workers-2"])
            #expect(try await plane.currentSerial() == (try local.serial))

            // Not while an operation of the plane holds the lock.
            let lock = try await plane.acquireLock(command: "photon scale")
            #expect(await asyncPhotonError { try await plane.importState(from: local) }?.message.contains("locked") == true)
            try await plane.releaseLock(lock.id)
        }
    }
}
