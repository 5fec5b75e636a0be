import Engine
import Foundation
import GRDB
import PhotonCore
import Planning
import Testing

@testable import StateStore

@Suite("Recording transitions and effects")
struct RecordTests {
    /// Every effect, in an order an apply could produce: two machines brought up (one resumed midway),
    /// files, captured values, then one torn down.
    static let batches: [[Transition]] = [
        [
            transition("create:a", machine: "d-s-workers-1", .started, effects: [.machineIntent(spec("d-s-workers-1"))]),
            transition("create:b", machine: "d-s-workers-2", .started, effects: [.machineIntent(spec("d-s-workers-2", index: 2, address: nil))]),
        ],
        [
            transition("create:a", machine: "d-s-workers-1", effects: [.machineCreated(spec("d-s-workers-1"), handle("d-s-workers-1"))]),
            transition(
                "create:b", machine: "d-s-workers-2",
                effects: [.machineCreated(spec("d-s-workers-2", index: 2, address: nil), handle("d-s-workers-2", address: "10.0.0.9"))]),
        ],
        [
            transition(
                "upload:a", machine: "d-s-workers-1",
                effects: [
                    .fileUploaded(machine: "d-s-workers-1", path: "/etc/photon/a.conf", sha256: "aa", mode: 0o644, content: "x = 1\n"),
                    .fileUploaded(machine: "d-s-workers-1", path: "/etc/photon/token", sha256: "bb", mode: 0o600, content: nil),
                    .actionCompleted(machine: "d-s-workers-1", actionID: "upload:a"),
                ])
        ],
        [
            transition(
                "configure:a", machine: "d-s-workers-1",
                effects: [
                    .fileUploaded(machine: "d-s-workers-1", path: "/etc/photon/a.conf", sha256: "cc", mode: 0o640, content: "x = 2\n"),
                    .actionCompleted(machine: "d-s-workers-1", actionID: "configure:a"),
                    .captured(group: "s", name: "managerAddress", value: "10.0.0.5", secret: false),
                    .captured(group: "s", name: "joinToken", value: "SWMTKN-1-very-secret", secret: true),
                ]),
            transition("configure:b", machine: "d-s-workers-2", effects: [.actionCompleted(machine: "d-s-workers-2", actionID: "configure:b")]),
        ],
        [transition("health:a", machine: "d-s-workers-1", effects: [.machineReady(name: "d-s-workers-1")])],
        [
            transition(
                "drain:b", machine: "d-s-workers-2",
                effects: [
                    .machineDeleting(name: "d-s-workers-2"),
                    .actionCompleted(machine: "d-s-workers-2", actionID: "drain:b"),
                ])
        ],
        // Effects on machines the state does not hold change nothing (the reference semantics).
        [
            transition(
                "stray",
                effects: [
                    .machineReady(name: "ghost"), .fileUploaded(machine: "ghost", path: "/x", sha256: "0", mode: 0o600, content: "x"),
                    .actionCompleted(machine: "ghost", actionID: "stray"), .machineDeleting(name: "ghost"), .machineDeleted(name: "ghost"),
                ])
        ],
    ]

    static func reference(_ batches: [[Transition]]) -> RecordedState {
        var state = RecordedState.empty
        for effect in batches.joined().flatMap(\.effects) { state.apply(effect) }
        return state
    }

    static func sorted(_ machines: [RecordedMachine]) -> [RecordedMachine] { machines.sorted { $0.name < $1.name } }

    @Test("every effect lands in the recorded state as the reference semantics say", arguments: Backend.allCases)
    func everyEffectMatchesTheReference(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            try await store.beginRun(command: "apply", blueprintDigest: "sha256:1")
            var expected: [[Transition]] = []
            for batch in Self.batches {
                try await store.record(batch)
                expected.append(batch)
                let state = try await store.recordedState()
                let reference = Self.reference(expected)
                #expect(Self.sorted(state.machines) == Self.sorted(reference.machines))
                #expect(state.captured == reference.captured)
            }

            let state = try await store.recordedState()
            let a = try #require(state.machines.first { $0.name == "d-s-workers-1" })
            #expect(a.lifecycle == .ready)
            #expect(a.completedActions.isEmpty, "machineReady clears the completed actions")
            #expect(a.address == "10.0.0.5")
            #expect(a.hostKeyFingerprint == "SHA256:d-s-workers-1-key")
            #expect(
                a.files == [
                    "/etc/photon/a.conf": RecordedFile(sha256: "cc", mode: 0o640, content: "x = 2\n"),
                    "/etc/photon/token": RecordedFile(sha256: "bb", mode: 0o600, content: nil),
                ])
            let b = try #require(state.machines.first { $0.name == "d-s-workers-2" })
            #expect(b.lifecycle == .deleting)
            #expect(b.address == "10.0.0.9", "the driver's address replaces the missing one")
            #expect(b.completedActions == ["configure:b", "drain:b"], "resume data of a machine not ready")
            #expect(b.index == 2 && b.role == "workers" && b.group == "s" && b.kind == "swarm")
            #expect(state.captured["s/managerAddress"] == RecordedValue(value: "10.0.0.5", secret: false))
            #expect(state.captured["s/joinToken"] == RecordedValue(value: "SWMTKN-1-very-secret", secret: true))
            #expect(try await store.machineHandles().map(\.driverID) == ["lxc-d-s-workers-1", "lxc-d-s-workers-2"])
            #expect(try await store.machineHandles().first?.port == 2222)

            // Deleting removes the machine with its files and completed actions.
            try await store.record([transition("delete:b", machine: "d-s-workers-2", effects: [.machineDeleted(name: "d-s-workers-2")])])
            let after = try await store.recordedState()
            #expect(after.machines.map(\.name) == ["d-s-workers-1"])
            if let sqlite = store as? SQLiteStateStore {
                let orphans = try await sqlite.pool.read { db in
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT (SELECT COUNT(*) FROM machine_file WHERE machine = 'd-s-workers-2') + (SELECT COUNT(*) FROM completed_action WHERE machine = 'd-s-workers-2')"
                    )
                }
                #expect(orphans == 0)
            }

            // Everything survives a reopen, secrets included.
            try fixture.close(store)
            let reopened = try await fixture.open()
            let again = try await reopened.recordedState()
            #expect(again.machines == after.machines)
            #expect(again.captured == after.captured)
            #expect(again.serial == after.serial)
        }
    }

    @Test("a resumed bring-up keeps its completed actions; intent and adoption do not reset them", arguments: Backend.allCases)
    func resumeKeepsCompletedActions(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            try await store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record([transition("create", machine: "m", effects: [.machineIntent(spec("m")), .machineCreated(spec("m"), handle("m"))])])
            try await store.record([
                transition(
                    "step1", machine: "m",
                    effects: [
                        .actionCompleted(machine: "m", actionID: "step1"),
                        .fileUploaded(machine: "m", path: "/f", sha256: "1", mode: 0o644, content: "f"),
                    ])
            ])
            try fixture.close(store)

            // The next apply (after a crash) asks for the machine again and adopts it.
            let store2 = try await fixture.open()
            try await store2.beginRun(command: "apply", blueprintDigest: nil)
            try await store2.record([transition("create", machine: "m", .started, effects: [.machineIntent(spec("m", address: "10.9.9.9"))])])
            var machine = try #require(try await store2.recordedState().machines.first)
            #expect(machine.lifecycle == .creating)
            #expect(machine.completedActions == ["step1"])
            #expect(machine.files.keys.sorted() == ["/f"])
            #expect(machine.address == "10.0.0.5", "an intent for a recorded machine only changes its lifecycle")
            try await store2.record([transition("create", machine: "m", effects: [.machineCreated(spec("m"), handle("m"))])])
            machine = try #require(try await store2.recordedState().machines.first)
            #expect(machine.lifecycle == .bringingUp)
            #expect(machine.completedActions == ["step1"])
        }
    }

    @Test("a machine created without a recorded intent is recorded (adoption)", arguments: Backend.allCases)
    func createdWithoutIntent(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            try await store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record([
                transition("create", machine: "m", effects: [.machineCreated(spec("m", role: "managers", index: 3), handle("m", address: "10.1.1.1"))])
            ])
            let machine = try #require(try await store.recordedState().machines.first)
            #expect(
                machine
                    == RecordedMachine(
                        name: "m", group: "s", kind: "swarm", role: "managers", index: 3, address: "10.1.1.1",
                        hostKeyFingerprint: "SHA256:m-key", lifecycle: .bringingUp))
        }
    }

    @Test("a captured value can change between secret and not", arguments: Backend.allCases)
    func capturedValueChangesSecrecy(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            try await store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record([transition("c", effects: [.captured(group: "g", name: "v", value: "one", secret: true)])])
            #expect(try await store.recordedState().captured["g/v"] == RecordedValue(value: "one", secret: true))
            try await store.record([transition("c", effects: [.captured(group: "g", name: "v", value: "two", secret: false)])])
            #expect(try await store.recordedState().captured["g/v"] == RecordedValue(value: "two", secret: false))
            try await store.record([transition("c", effects: [.captured(group: "g", name: "v", value: "three", secret: true)])])
            #expect(try await store.recordedState().captured["g/v"] == RecordedValue(value: "three", secret: true))
        }
    }

    @Test("the serial moves once per batch with effects, not for journal-only batches, and never back across reopen", arguments: Backend.allCases)
    func serial(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            #expect(try await store.currentSerial() == 0)
            try await store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record(Self.batches[0])
            #expect(try await store.currentSerial() == 1)
            try await store.record(Self.batches[1] + Self.batches[2] + Self.batches[3])
            #expect(try await store.currentSerial() == 2, "one batch, one increment, however many transitions and effects")
            try await store.record([transition("x", machine: "d-s-workers-1", .started)])
            #expect(try await store.currentSerial() == 2, "a batch without effects changes no recorded state")
            try await store.record([])
            #expect(try await store.currentSerial() == 2)
            #expect(try await store.recordedState().serial == 2)
            try fixture.close(store)

            let reopened = try await fixture.open()
            #expect(try await reopened.currentSerial() == 2)
            try await reopened.beginRun(command: "apply", blueprintDigest: nil)
            try await reopened.record(Self.batches[4])
            #expect(try await reopened.currentSerial() == 3)
            try await reopened.storeGeneratedSecrets(["secrets.apiToken": "t0k3n"])
            #expect(try await reopened.currentSerial() == 4)
            try await reopened.storeGeneratedSecrets(["secrets.apiToken": "t0k3n"])
            #expect(try await reopened.currentSerial() == 4, "storing the same value again changes nothing")
            try await reopened.recordApplied(blueprint: Array("name: demo\n".utf8), digest: "sha256:1")
            #expect(try await reopened.currentSerial() == 5)
            try await reopened.recordApplied(blueprint: Array("name: demo\n".utf8), digest: "sha256:1")
            #expect(try await reopened.currentSerial() == 5)
            _ = try await reopened.acquireLock(command: "apply")
            try await reopened.beginRun(command: "apply", blueprintDigest: nil)
            #expect(try await reopened.currentSerial() == 5, "locks and runs are not recorded state")
        }
    }

    @Test("concurrent record calls from many tasks all land, in one numbered journal", arguments: Backend.allCases)
    func concurrentRecords(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            let run = try await store.beginRun(command: "apply", blueprintDigest: nil)
            let tasks = 64
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        let name = "m-\(task)"
                        try await store.record([
                            transition("create:\(name)", machine: name, .started, effects: [.machineIntent(spec(name, index: task))]),
                            transition(
                                "create:\(name)", machine: name,
                                effects: [
                                    .machineCreated(spec(name, index: task), handle(name)),
                                    .captured(group: "g", name: "v\(task)", value: "s\(task)", secret: task % 2 == 0),
                                ]),
                        ])
                    }
                }
                try await group.waitForAll()
            }
            let journal = try await store.journal(run: run)
            #expect(journal.count == tasks * 2)
            #expect(journal.map(\.sequence) == Array(1...(tasks * 2)))
            #expect(Set(journal.map(\.machine)).count == tasks)
            let state = try await store.recordedState()
            #expect(state.machines.count == tasks)
            #expect(state.machines.allSatisfy { $0.lifecycle == .bringingUp })
            #expect(state.captured.count == tasks)
            #expect(state.captured["g/v10"] == RecordedValue(value: "s10", secret: true))
            #expect(state.serial == tasks)
        }
    }

    @Test("a committed record is visible to another process's store at once", arguments: Backend.allCases)
    func recordIsCommittedOnReturn(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let writer = try await fixture.open()
            let reader = try await fixture.open()
            try await writer.beginRun(command: "apply", blueprintDigest: nil)
            try await writer.record(Self.batches[0])
            #expect(try await reader.recordedState().machines.count == 2)
        }
    }

    @Test("record still commits from a cancelled task (an interrupted engine records its interruptions)", arguments: Backend.allCases)
    func recordIgnoresCancellation(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            let run = try await store.beginRun(command: "apply", blueprintDigest: nil)
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await store.record([transition("a", machine: "m", .interrupted)])
            }
            try await task.value
            #expect(try await store.journal(run: run).map(\.status) == [.interrupted])
        }
    }

    @Test("recording before a run began is refused", arguments: Backend.allCases)
    func recordWithoutRun(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            let error = await asyncPhotonError { try await store.record(Self.batches[0]) }
            #expect(error?.message.contains("no run has begun") == true)
            #expect(try await store.currentSerial() == 0)
        }
    }
}
