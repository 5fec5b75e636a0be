import Foundation

/// Group commit: transitions recorded while a write is in flight go together in the next write, so a
/// durable journal (one fsync per transaction) keeps up with many actions finishing at once. Each caller
/// still returns only once its own transition is durable.
final class GroupCommit: @unchecked Sendable {
    private let journal: any RunJournal
    private let lock = NSLock()
    private var pending: [(transition: Transition, waiter: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false

    init(journal: any RunJournal) { self.journal = journal }

    func record(_ transition: Transition) async throws {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            let startFlushing = lock.withLock { () -> Bool in
                pending.append((transition, waiter))
                if flushing { return false }
                flushing = true
                return true
            }
            // Detached: an interrupted run must still get its last transitions written.
            if startFlushing { Task.detached { await self.flush() } }
        }
    }

    private func flush() async {
        while true {
            let batch = lock.withLock { () -> [(transition: Transition, waiter: CheckedContinuation<Void, any Error>)] in
                let batch = pending
                pending = []
                if batch.isEmpty { flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                try await journal.record(batch.map(\.transition))
                for entry in batch { entry.waiter.resume() }
            } catch {
                for entry in batch { entry.waiter.resume(throwing: error) }
            }
        }
    }
}
