import EngineTestSupport
import Etcd
import Foundation
import Testing

/// Status reads share one revision read at a time; sharing must never hand a reader a revision older
/// than the moment it asked.
@Suite("etcd revision for many readers")
struct RevisionReaderTests {
    @Test("each of many concurrent readers, interleaved with writes, gets a revision no older than the last write before it asked")
    func freshForEveryReader() async throws {
        let etcd = try LocalEtcd()
        defer { etcd.stop() }
        let client = try etcd.client()
        let reader = RevisionReader(client: client)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for round in 0..<50 {
                        let written = try await client.put("/revision-test/\(writer)", Array("\(round)".utf8))
                        // Reads already under way started before this write: this one must not join them.
                        let seen = try await reader.current()
                        #expect(seen >= written, "wrote at \(written), then read \(seen)")
                    }
                }
            }
            for _ in 0..<300 {
                group.addTask {
                    let before = try await client.currentRevision()
                    let seen = try await reader.current()
                    #expect(seen >= before, "etcd was at \(before), then read \(seen)")
                }
            }
            try await group.waitForAll()
        }
        let last = try await client.put("/revision-test/last", Array("x".utf8))
        #expect(try await reader.current() == last)
    }
}
