import Engine
import Foundation
import GRDB
import PhotonCore
import Planning
import Testing

@testable import StateStore

@Suite("Files, modes, pragmas, migrations and secrets at rest")
struct StorageTests {
    @Test("the directory is created 0700, the database and the key 0600; the key only once a secret is stored")
    func modes() async throws {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            let store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            #expect(mode(directory) == 0o700)
            #expect(mode("\(base)/.photon") == 0o700, "missing parents are created 0700 too")
            #expect(mode("\(directory)/state.sqlite") == 0o600)
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/secrets.key"), "the key is made on first use")

            try store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record([transition("c", effects: [.captured(group: "g", name: "t", value: "v", secret: true)])])
            #expect(mode("\(directory)/secrets.key") == 0o600)
            #expect(fileBytes("\(directory)/secrets.key")?.count == 32)
            for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: "\(directory)/state.sqlite\(suffix)") {
                #expect(mode("\(directory)/state.sqlite\(suffix)") == 0o600, "state.sqlite\(suffix)")
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".creating-") || $0.contains(".new-") }
            #expect(leftovers.isEmpty)
        }
    }

    @Test("an existing directory keeps its mode")
    func existingDirectory() async throws {
        try await withTemporaryDirectory { base in
            let directory = "\(base)/state"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o750])
            _ = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            #expect(mode(directory) == 0o750)
            #expect(mode("\(directory)/state.sqlite") == 0o600)
        }
    }

    @Test("WAL, synchronous FULL on the writer, foreign keys on, a busy timeout")
    func pragmas() async throws {
        try await withTemporaryDirectory { base in
            let store = try SQLiteStateStore.open(directory: stateDirectory(in: base), deployment: "demo")
            let (journalMode, synchronous, foreignKeys, busyTimeout) = try await store.pool.write { db in
                (
                    try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"),
                    try Int.fetchOne(db, sql: "PRAGMA foreign_keys"), try Int.fetchOne(db, sql: "PRAGMA busy_timeout")
                )
            }
            #expect(journalMode == "wal")
            #expect(synchronous == 2, "FULL: every commit syncs the WAL")
            #expect(foreignKeys == 1)
            #expect((busyTimeout ?? 0) > 0)
            let applicationID = try await store.pool.read { try Int32.fetchOne($0, sql: "PRAGMA application_id") }
            #expect(applicationID == Schema.applicationID)
        }
    }

    @Test("reopening runs no migration twice and keeps the data")
    func migrationsAreIdempotent() async throws {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            var store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            try store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record(RecordTests.batches[0])
            try store.close()
            for _ in 0..<3 {
                store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
                let applied = try await store.pool.read { try Schema.migrator.completedMigrations($0) }
                #expect(applied == Schema.knownMigrations)
                #expect(Schema.knownMigrations.first == "v1-initial")
                #expect(try store.readRecordedState().machines.count == 2)
                #expect(try store.serial == 1)
                try store.close()
            }
        }
    }

    @Test("two stores opening a new directory at once share one database")
    func concurrentCreation() async throws {
        for _ in 0..<5 {
            try await withTemporaryDirectory { base in
                let directory = stateDirectory(in: base)
                let stores = try await withThrowingTaskGroup(of: SQLiteStateStore.self) { group in
                    for _ in 0..<4 { group.addTask { try SQLiteStateStore.open(directory: directory, deployment: "demo") } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                try stores[0].beginRun(command: "apply", blueprintDigest: nil)
                try await stores[0].record(RecordTests.batches[0])
                for store in stores { #expect(try store.readRecordedState().machines.count == 2) }
            }
        }
    }

    @Test("secret captured values and generated secrets never reach the directory's files in plaintext")
    func noPlaintextSecrets() async throws {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            let capturedSecret = "SWMTKN-1-capturedsecret-4f9a2c"
            let generatedSecret = "generated-secret-71b3e0d5"
            let settingSecret = "settings-secret-9d1c44"
            let plainMarker = "plain-manager-address-marker"
            let store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            try store.storeGeneratedSecrets(["secrets.apiToken": generatedSecret, "s/settings.password": settingSecret])
            try store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record([
                transition(
                    "capture",
                    effects: [
                        .captured(group: "s", name: "joinToken", value: capturedSecret, secret: true),
                        .captured(group: "s", name: "managerAddress", value: plainMarker, secret: false),
                    ])
            ])

            func scan() throws -> [UInt8] {
                var all: [UInt8] = []
                for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                    all += fileBytes("\(directory)/\(name)") ?? []
                }
                return all
            }
            var bytes = try scan()
            #expect(bytes.contains(plainMarker), "sanity: the scan sees what the database holds")
            for secret in [capturedSecret, generatedSecret, settingSecret] { #expect(!bytes.contains(secret)) }

            let state = try await store.recordedState()
            #expect(state.captured["s/joinToken"] == RecordedValue(value: capturedSecret, secret: true))
            #expect(state.generatedSecrets == ["secrets.apiToken": generatedSecret, "s/settings.password": settingSecret])

            // After a checkpoint and close, the main file alone.
            try store.close()
            bytes = try scan()
            #expect(fileBytes("\(directory)/state.sqlite")?.contains(plainMarker) == true)
            for secret in [capturedSecret, generatedSecret, settingSecret] { #expect(!bytes.contains(secret)) }
        }
    }

    @Test("a missing key is an error, never a new key; a wrong key does not open and says so without the value")
    func keyFileProblems() async throws {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            var store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            try store.beginRun(command: "apply", blueprintDigest: nil)
            try await store.record([transition("c", effects: [.captured(group: "s", name: "joinToken", value: "the-secret-value", secret: true)])])
            try store.close()

            try FileManager.default.removeItem(atPath: "\(directory)/secrets.key")
            store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            var error = photonError { _ = try store.readRecordedState() }
            #expect(error?.message.contains("secrets.key is missing") == true)
            error = photonError { try store.storeGeneratedSecrets(["secrets.x": "y"]) }
            #expect(error?.message.contains("secrets.key is missing") == true)
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/secrets.key"))
            try store.close()

            try Data((0..<32).map { UInt8($0) }).write(to: URL(fileURLWithPath: "\(directory)/secrets.key"))
            store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            error = photonError { _ = try store.readRecordedState() }
            #expect(error?.message.contains("cannot decrypt the secret captured:s/joinToken") == true)
            #expect(error.map { !"\($0)".contains("the-secret-value") } == true)
            try store.close()

            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(directory)/secrets.key"))
            store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            error = photonError { _ = try store.readRecordedState() }
            #expect(error?.message.contains("is damaged") == true)
        }
    }

    @Test("generated secrets: stored sealed, replaced when different, read back")
    func generatedSecrets() async throws {
        try await withTemporaryDirectory { base in
            let store = try SQLiteStateStore.open(directory: stateDirectory(in: base), deployment: "demo")
            try store.storeGeneratedSecrets(["secrets.apiToken": "a", "s/settings.password": "b"])
            try store.storeGeneratedSecrets(["secrets.apiToken": "c"])
            #expect(try store.readRecordedState().generatedSecrets == ["secrets.apiToken": "c", "s/settings.password": "b"])
            #expect(try store.serial == 2)
            let plaintextColumns = try store.pool.read { try Row.fetchAll($0, sql: "SELECT * FROM generated_secret").map { Array($0.columnNames) } }
            #expect(plaintextColumns.allSatisfy { $0 == ["key", "sealed", "generated_at"] })
        }
    }

    @Test("the last-applied blueprint round-trips", arguments: Backend.allCases)
    func lastApplied(_ backend: Backend) async throws {
        try await withStore(backend) { fixture in
            let store = try await fixture.open()
            #expect(try await store.lastApplied() == nil)
            let bytes = Array("name: demo\nclusters: []\n".utf8) + [0, 255]
            let before = Date()
            try await store.recordApplied(blueprint: bytes, digest: "sha256:abc")
            let applied = try #require(try await store.lastApplied())
            #expect(applied.bytes == bytes)
            #expect(applied.digest == "sha256:abc")
            #expect(abs(applied.date.timeIntervalSince(before)) < 5)
            try await store.recordApplied(blueprint: [1], digest: "sha256:def")
            #expect(try await store.lastApplied()?.digest == "sha256:def")
        }
    }
}
