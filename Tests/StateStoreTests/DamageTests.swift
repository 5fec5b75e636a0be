import Foundation
import GRDB
import PhotonCore
import Testing

@testable import StateStore

/// A state file photon did not write, or that was damaged, is refused with an error naming it, and left
/// byte for byte as it was.
@Suite("Damaged and foreign state files")
struct DamageTests {
    /// Writes `bytes` as the directory's state.sqlite, opens it, and checks the error and that the file is unchanged.
    func expectRefusal(_ bytes: [UInt8], _ phrase: String, deployment: String = "demo", sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws
    {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = "\(directory)/state.sqlite"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let error = try #require(
                photonError(sourceLocation: sourceLocation) { _ = try SQLiteStateStore.open(directory: directory, deployment: deployment) },
                sourceLocation: sourceLocation)
            #expect(error.message.contains(path), "names the file: \(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains("left it untouched"), "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(phrase), "\(error)", sourceLocation: sourceLocation)
            #expect(error.help != nil, sourceLocation: sourceLocation)
            #expect(fileBytes(path) == bytes, "the file is unchanged", sourceLocation: sourceLocation)
        }
    }

    /// The bytes of a real state file with some content, closed (checkpointed).
    func realStateFile(_ change: (@Sendable (Database) throws -> Void)? = nil) async throws -> [UInt8] {
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            let store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            try store.beginRun(command: "apply", blueprintDigest: nil)
            for batch in RecordTests.batches { try await store.record(batch) }
            try store.recordApplied(blueprint: Array(String(repeating: "clusters: []\n", count: 2000).utf8), digest: "sha256:x")
            if let change { try await store.pool.write(change) }
            try store.close()
            return try #require(fileBytes("\(directory)/state.sqlite"))
        }
    }

    @Test("garbage bytes")
    func garbage() async throws {
        var generator = SystemRandomNumberGenerator()
        try await expectRefusal((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }, "not an SQLite database")
        try await expectRefusal(Array("just some text\n".utf8), "not an SQLite database")
    }

    @Test("an empty file")
    func empty() async throws {
        try await expectRefusal([], "is empty")
    }

    @Test("truncated copies of a real state file")
    func truncated() async throws {
        let real = try await realStateFile()
        #expect(real.count > 4 * 4096)
        for length in [50, 99, 100, 1024, real.count / 4, real.count / 2, real.count - 4096, real.count - 1] {
            try await expectRefusal(Array(real.prefix(length)), "damaged")
        }
    }

    @Test("a damaged page in a real state file")
    func overwrittenPage() async throws {
        var real = try await realStateFile()
        for index in 4096..<(2 * 4096) { real[index] = 0xA5 }
        try await expectRefusal(real, "damaged")
    }

    @Test("an SQLite database of something else")
    func foreignDatabase() async throws {
        let bytes = try await withTemporaryDirectory { base -> [UInt8] in
            let path = "\(base)/other.sqlite"
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "CREATE TABLE machine (name TEXT PRIMARY KEY); INSERT INTO machine VALUES ('x')")
            }
            try queue.close()
            return try #require(fileBytes(path))
        }
        try await expectRefusal(bytes, "not a photon state file")
    }

    @Test("an SQLite database with no tables")
    func blankDatabase() async throws {
        let bytes = try await withTemporaryDirectory { base -> [UInt8] in
            let path = "\(base)/blank.sqlite"
            let queue = try DatabaseQueue(path: path)
            try await queue.write { try $0.execute(sql: "CREATE TABLE t (x); DROP TABLE t") }
            try queue.close()
            return try #require(fileBytes(path))
        }
        try await expectRefusal(bytes, "not a photon state file")
    }

    @Test("a state file from a newer photon")
    func newerSchema() async throws {
        let bytes = try await realStateFile { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v2-from-the-future')")
        }
        try await expectRefusal(bytes, "newer photon")
    }

    @Test("the state file of another deployment")
    func otherDeployment() async throws {
        let bytes = try await realStateFile()
        try await expectRefusal(bytes, "belongs to the deployment 'demo', not 'prod'", deployment: "prod")
    }

    @Test("a healthy copy of a real state file opens")
    func healthyCopyOpens() async throws {
        let bytes = try await realStateFile()
        try await withTemporaryDirectory { base in
            let directory = stateDirectory(in: base)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/state.sqlite"))
            let store = try SQLiteStateStore.open(directory: directory, deployment: "demo")
            #expect(try store.serial == RecordTests.batches.count + 1, "one per batch with effects, one for the applied blueprint")
            #expect(try store.machineHandles().count == 2)
        }
    }
}
