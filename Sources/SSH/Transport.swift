import Foundation
import MachineAccess

/// The engine's remote shell over SSH: one connection per machine for the whole run, opened on first
/// use, shared by concurrent callers, and opened again after a failure broke it.
public final class SSHTransport: RemoteShell, @unchecked Sendable {
    let credentials: SSHCredentials
    let defaultUser: String
    let connectTimeout: Duration
    /// The lock each step's runs hold on the machine.
    let stepLock: StepLock
    private let lock = NSLock()
    private var connections: [String: Task<SSHConnection, any Error>] = [:]

    public init(credentials: SSHCredentials, defaultUser: String = "root", connectTimeout: Duration = .seconds(10), stepLock: StepLock = StepLock()) {
        self.credentials = credentials
        self.stepLock = stepLock
        self.defaultUser = defaultUser
        self.connectTimeout = connectTimeout
    }

    /// The connection to `machine`, opening it when there is none (or the last one broke).
    public func connection(to machine: MachineHandle) async throws -> SSHConnection {
        guard let fingerprint = machine.hostKeyFingerprint else {
            throw SSHError(.hostKeyMismatch, "no host key is pinned for \(machine.name); photon never trusts a key on first use")
        }
        let key = "\(machine.name)@\(machine.address):\(machine.port)"
        let task: Task<SSHConnection, any Error> = lock.withLock {
            if let existing = connections[key] { return existing }
            let user = machine.user ?? defaultUser
            let credentials = self.credentials, timeout = connectTimeout
            let opening = Task {
                try await SSHConnection.open(
                    host: machine.address, port: machine.port, user: user, credentials: credentials,
                    expectedFingerprint: fingerprint, connectTimeout: timeout)
            }
            connections[key] = opening
            return opening
        }
        do {
            let connection = try await task.value
            if connection.isBroken {
                forget(key, task)
                return try await self.connection(to: machine)
            }
            return connection
        } catch {
            forget(key, task)
            throw error
        }
    }

    private func forget(_ key: String, _ task: Task<SSHConnection, any Error>) {
        lock.withLock { if connections[key] == task { connections[key] = nil } }
    }

    public func upload(_ data: [UInt8], to path: String, mode: Int, owner: String?, on machine: MachineHandle) async throws {
        try await connection(to: machine).upload(data, to: path, mode: mode, owner: owner)
    }

    public func download(_ path: String, to localPath: String, on machine: MachineHandle) async throws -> Int {
        try await connection(to: machine).download(path, to: localPath)
    }

    public func execute(_ command: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput {
        try await connection(to: machine).execute(command, timeout: timeout)
    }

    /// The command under the step's lock, with the lock's wait added to its deadline.
    public func execute(_ command: String, asStep step: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput {
        try await connection(to: machine).execute(stepLock.wrap(command, step: step), timeout: timeout.map { $0 + stepLock.wait })
    }

    public func isListening(host: String, port: Int, timeout: Duration) async -> Bool {
        // A blocking connect with poll: done on a thread of its own, never on the cooperative pool.
        let worker = WorkerThread(name: "probe \(host):\(port)")
        defer { worker.stop() }
        let result = try? await worker.run { () -> Bool in
            guard let fd = try? Session.connect(host: host, port: port, timeout: timeout, cancel: CancelFlag()) else { return false }
            close(fd)
            return true
        }
        return result ?? false
    }

    /// Closes every connection.
    public func closeAll() async {
        let open = lock.withLock { () -> [Task<SSHConnection, any Error>] in
            defer { connections = [:] }
            return Array(connections.values)
        }
        for task in open { await (try? task.value)?.close() }
    }
}

/// Runs an operation on many machines at once, at most `limit` at a time, each result reported on its
/// own: a slow or dead machine holds up only its own slot.
public enum FanOut {
    public static func run<Item: Sendable, Value: Sendable>(
        _ items: [Item], limit: Int = 64,
        _ operation: @escaping @Sendable (Item) async throws -> Value
    ) async -> [Result<Value, any Error>] {
        var results = [Result<Value, any Error>?](repeating: nil, count: items.count)
        await withTaskGroup(of: (Int, Result<Value, any Error>).self) { group in
            var next = 0
            func startNext() {
                guard next < items.count else { return }
                let index = next
                next += 1
                let item = items[index]
                group.addTask {
                    do { return (index, .success(try await operation(item))) } catch { return (index, .failure(error)) }
                }
            }
            for _ in 0..<min(max(limit, 1), items.count) { startNext() }
            while let (index, result) = await group.next() {
                results[index] = result
                startNext()
            }
        }
        return results.map { $0 ?? .failure(CancellationError()) }
    }
}
