import Foundation
import Testing

@testable import Deployments
@testable import PhotonCommands

@Suite("The installer's agent processes")
struct AgentProcessTests {
    /// A process whose command line reads `… agent --state DIR`, as a photon agent's does: xargs
    /// waiting for its input (kept open) runs nothing until then.
    static func lookalike(state: String) throws -> (process: Process, input: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/xargs")
        process.arguments = ["agent", "--state", state]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, input)
    }

    @Test(
        "an agent no context names (its installer was killed before recording it) is found by its state folder and ended; another folder's agent is left alone")
    func unrecordedAgentsAreEnded() async throws {
        let ours = try Self.lookalike(state: "/var/tmp/photon-agent-test-a/.photon/d")
        let theirs = try Self.lookalike(state: "/var/tmp/photon-agent-test-b/.photon/d")
        defer {
            for process in [ours.process, theirs.process] where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        // Process.run can return before the child has exec'd (its command line is still the test's).
        for _ in 0..<50 where AgentProcess.processes(stateDirectory: "/var/tmp/photon-agent-test-a/.photon/d").isEmpty {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(AgentProcess.processes(stateDirectory: "/var/tmp/photon-agent-test-a/.photon/d") == [ours.process.processIdentifier])
        #expect(AgentProcess.processes(stateDirectory: "/var/tmp/photon-agent-test-a/.photon").isEmpty, "a prefix of the folder is another folder")
        AgentProcess.stopAll(stateDirectory: "/var/tmp/photon-agent-test-a/.photon/d", known: nil)
        for _ in 0..<50 where ours.process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!ours.process.isRunning)
        #expect(theirs.process.isRunning, "another deployment's agent stays")
    }
}
