import Engine
import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCore
import Testing

@testable import SSH

/// A step's runs hold its lock on the machine, against real sshd: the run a dropped connection left
/// behind keeps the lock until it ends, so the next run's guard sees what it finished, not a half.
@Suite("Step locks on the machine", .serialized)
struct StepLockTests {
    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "photon-steplock-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Whether a `flock -w SECONDS 9` process runs (the program itself, not a shell whose script names it).
    static func flockWaiting(_ seconds: Int) -> Bool {
        HostProcesses.mentioning("flock -w \(seconds) 9").contains { $0.contains(": flock -w \(seconds) 9") }
    }

    @Test("a guard waits for the run a dropped connection left on the machine (which writes on after the drop), then sees what it did")
    func guardWaitsForTheOrphan() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A wait no other test uses: its `flock -w 587` process shows when the guard is waiting.
        let lock = StepLock(directory: folder + "/steps", wait: .seconds(587))
        let done = folder + "/done", gate = folder + "/gate"

        // photon's connection ends halfway (here its deadline): the command goes on without it, until the
        // test opens its gate (no timing: the test decides when the orphan ends).
        // It writes output after its connection is gone, which must not end it (SIGPIPE) halfway.
        let orphan =
            "while ! test -e \(ShellQuoting.quote(gate)); do sleep 0.1; done; echo still working; echo and on stderr >&2; touch \(ShellQuoting.quote(done))"
        let first = try await server.connect()
        await #expect(throws: SSHError.self) { try await first.execute(lock.wrap(orphan, step: "m-1/configure/2"), timeout: .seconds(1)) }

        // The next photon's guard for the same step waits while the orphan runs, then finds the step done.
        let guardRun = Task { try await server.connect().execute(lock.wrap("test -e \(ShellQuoting.quote(done))", step: "m-1/configure/2")) }
        // The gate opens once the guard waits on the lock (however long its connection took), not after a guess.
        let waiting = ContinuousClock.now + .seconds(60)
        while !Self.flockWaiting(587), ContinuousClock.now < waiting { try await Task.sleep(for: .milliseconds(50)) }
        #expect(Self.flockWaiting(587), "the guard never waited on the lock")
        #expect(!FileManager.default.fileExists(atPath: done))
        // Another step's runs never wait for it.
        let other = try await server.connect().execute(lock.wrap("true", step: "m-1/configure/3"))
        #expect(other.succeeded && StepLock.waited(in: other.stderr) == nil)
        FileManager.default.createFile(atPath: gate, contents: nil)
        let result = try await guardRun.value
        #expect(result.succeeded, "the guard looked before the earlier run ended: \(result.stderr)")
        #expect((StepLock.waited(in: result.stderr) ?? -1) >= 0, "no word of the wait: \(result.stderr)")

    }

    @Test("a daemon the step starts does not hold its lock; exit codes and output pass through")
    func daemonsDoNotHoldTheLock() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lock = StepLock(directory: folder + "/steps", wait: .seconds(5))
        let connection = try await server.connect()
        let started = try await connection.execute(lock.wrap("sleep 30 >/dev/null 2>&1 </dev/null & echo $!", step: "m-1/service/1"))
        let pid = try #require(Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(pid, SIGKILL) }
        let again = try await connection.execute(lock.wrap("echo out; echo err >&2; exit 3", step: "m-1/service/1"), timeout: .seconds(10))
        #expect(StepLock.waited(in: again.stderr) == nil, "the daemon held the lock: \(again.stderr)")
        #expect(again.exitStatus == 3 && again.stdout == "out\n" && again.stderr == "err\n")
        // The output passed through files: readable by root alone while the step runs, gone after it.
        let modes = try await connection.execute(lock.wrap("stat -c %a \"$l.out\" \"$l.err\"", step: "m-1/service/2"))
        #expect(modes.stdout == "600\n600\n", "\(modes.stdout) \(modes.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: folder + "/steps").filter { !$0.hasSuffix(".lock") }
        #expect(left.isEmpty, "output files left: \(left)")
    }

    @Test("a run still held after the wait fails saying what holds the lock")
    func waitHasAnEnd() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let folder = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lock = StepLock(directory: folder + "/steps", wait: .seconds(1))
        let gate = folder + "/gate"
        defer { FileManager.default.createFile(atPath: gate, contents: nil) }
        let first = try await server.connect()
        await #expect(throws: SSHError.self) {
            try await first.execute(
                lock.wrap("while ! test -e \(ShellQuoting.quote(gate)); do sleep 0.1; done", step: "m-1/join/1"), timeout: .milliseconds(500))
        }
        let blocked = try await server.connect().execute(lock.wrap("true", step: "m-1/join/1"), timeout: .seconds(30))
        #expect(blocked.exitStatus == 75)
        #expect(blocked.stderr.contains("still runs on this machine after 1 s: it holds \(folder)/steps/m-1_join_1.lock"), "\(blocked.stderr)")
    }
}
