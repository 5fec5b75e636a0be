/// etcd's current revision for many concurrent callers, with at most one request in flight.
///
/// A caller that arrives while a read is under way waits for the next one, which starts after the one
/// under way ends and so after the caller arrived: every caller gets a revision at least as new as the
/// moment it asked, and a hundred readers at once cost etcd one request at a time instead of a hundred.
public actor RevisionReader {
    private let client: EtcdClient
    /// The read under way (or the last one, finished).
    private var running: Task<Int64, any Error>?
    /// The read that starts when `running` ends; callers arriving now join it.
    private var waiting: Task<Int64, any Error>?

    public init(client: EtcdClient) {
        self.client = client
    }

    public func current() async throws -> Int64 {
        let read: Task<Int64, any Error>
        if let waiting {
            read = waiting
        } else {
            read = Task { [client, running] in
                _ = await running?.result
                await self.started()
                return try await client.currentRevision()
            }
            waiting = read
        }
        return try await read.value
    }

    /// The waiting read begins: callers from now on wait for the one after it.
    private func started() {
        running = waiting
        waiting = nil
    }
}
