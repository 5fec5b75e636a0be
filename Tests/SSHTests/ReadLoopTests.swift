import Engine
import Foundation
import MachineAccess
import PhotonCore
import Testing

@testable import SSH

/// The exec read loop against real sshd: a command that streams without pause still stops at its
/// deadline and when its task is cancelled, and a long quiet command keeps the session alive.
@Suite("SSH exec: deadlines, cancellation and keepalives during long commands", .serialized)
struct ReadLoopTests {
    /// Runs `operation`; if it has not ended after `limit`, kills the server's sessions so a loop that
    /// ignores its deadline cannot hang the test run, and reports how long it took either way.
    static func bounded(
        _ server: SSHD, limit: Duration = .seconds(40),
        _ operation: @escaping @Sendable () async throws -> CommandOutput
    ) async -> (result: Result<CommandOutput, any Error>, elapsed: Duration) {
        let started = ContinuousClock.now
        let watchdog = Task {
            try await Task.sleep(for: limit)
            server.killSessions()
        }
        defer { watchdog.cancel() }
        let result: Result<CommandOutput, any Error>
        do { result = .success(try await operation()) } catch { result = .failure(error) }
        return (result, ContinuousClock.now - started)
    }

    @Test("a command that streams without pause ends at its deadline")
    func streamingHonoursTheDeadline() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        // A consumer slower than the stream (here 1 ms a chunk, as a terminal can be) always finds data waiting.
        let (result, elapsed) = await Self.bounded(server) {
            try await connection.execute("yes", timeout: .seconds(1), onOutput: { _, _ in usleep(1000) })
        }
        guard case .failure(let error as SSHError) = result else {
            Issue.record("the command was not stopped by its deadline: \(result)")
            return
        }
        #expect(error.kind == .timeout, "\(error)")
        // The kind says the deadline ended it, not the watchdog (which kills the session: another error).
        // About 1.3 s alone; up to 12.5 s measured with the whole suite beside it on two cores.
        #expect(elapsed < .seconds(30), "stopped after \(elapsed)")
        #expect(connection.isBroken, "a timed-out session is dropped")
        #expect(try await server.connect().execute("echo fresh").stdout == "fresh\n")
    }

    @Test("a command that streams without pause ends when its task is cancelled")
    func streamingHonoursCancellation() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        let (result, elapsed) = await Self.bounded(server) {
            let task = Task { try await connection.execute("cat /dev/zero", onOutput: { _, _ in usleep(1000) }) }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            return try await task.value
        }
        guard case .failure(let error as SSHError) = result else {
            Issue.record("the command was not stopped by cancellation: \(result)")
            return
        }
        #expect(error.kind == .cancelled, "\(error)")
        #expect(elapsed < .seconds(30), "stopped after \(elapsed)")
    }

    @Test("a cancel that comes while the call waits its turn stops that call, and only that one")
    func cancelWhileQueued() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        // The connection runs one call at a time: the second waits behind the first when it is cancelled.
        let first = Task { try await connection.execute("sleep 2; echo first") }
        try await Task.sleep(for: .milliseconds(300))
        let (result, _) = await Self.bounded(server) {
            let second = Task { try await connection.execute("sleep 30; echo second") }
            try await Task.sleep(for: .milliseconds(100))
            second.cancel()
            return try await second.value
        }
        #expect(try await first.value.stdout == "first\n", "the other caller's command was stopped")
        guard case .failure(let error as SSHError) = result else {
            Issue.record("the queued call ran despite its cancel: \(result)")
            return
        }
        #expect(error.kind == .cancelled, "\(error)")
    }

    @Test("keepalives reach the server during a long, quiet command")
    func keepalivesDuringLongCommands() async throws {
        let server = try SSHD(debugLog: true)
        defer { server.stop() }
        let connection = try await SSHConnection.open(
            host: "127.0.0.1", port: server.port, user: server.user, credentials: server.credentials,
            expectedFingerprint: server.hostKeyFingerprint, keepaliveInterval: .seconds(1))
        let result = try await connection.execute("sleep 7", timeout: .seconds(20))
        #expect(result.succeeded)
        await connection.close()
        // The session's log lines reach the file when its process ends: wait for that, then count the
        // keepalives the server handled between the command's start and its exit.
        let deadline = ContinuousClock.now + .seconds(10)
        while !server.log.contains("Close session"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let log = server.log
        guard let start = log.range(of: "Starting session"), let exit = log.range(of: "Received SIGCHLD", range: start.upperBound..<log.endIndex) else {
            Issue.record("sshd's log lacks the session's start or exit:\n\(log)")
            return
        }
        // libssh2 makes an interval of 1 s 2 s: three are due in 7 s; without the loop's calls there is none.
        let during = Self.keepalives(in: String(log[start.upperBound..<exit.lowerBound]))
        #expect(during >= 2, "keepalives the server received during a 7 s command at a 2 s interval: \(during)")
    }

    /// OpenSSH logs each global request at DEBUG1 ("server_input_global_request: rtype keepalive@libssh2.org").
    static func keepalives(in log: String) -> Int {
        // sshd ends its lines with "\r\n", a single Character to Swift.
        log.split(whereSeparator: \.isNewline).filter { $0.contains("global_request") && $0.contains("rtype keepalive@") }.count
    }
}
