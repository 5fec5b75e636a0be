import Engine
import EngineTestSupport
import Foundation
import Kinds
import MachineAccess
import PhotonCore
import Planning
import Testing

/// Values machines print, which photon captures and renders into later steps: they are encoded like
/// blueprint values and refused at apply when they cannot be written safely, and secret ones are masked
/// in everything photon shows.
@Suite("Captured values")
struct CapturedValueTests {
    @Test("a captured value that would add a line to a file fails the step that writes it, naming the capture")
    func hostileCapture() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = { command, machine in
            if command.hasPrefix("toy-token") { return CommandOutput(stdout: "TOKEN\nport=1\n") }
            return toyResponder(shell)(command, machine)
        }
        let (_, outcome) = try await Fixture.apply(Fixture.blueprint(members: 1), driver: driver, shell: shell, journal: journal)
        #expect(outcome.status == .failed)
        let failure = try #require(outcome.failures.first)
        #expect(failure.actionID == "t-c-members-1/configure/1")
        #expect(failure.message.contains("the value captured as token cannot be written into template toy-member.conf (text): it contains a line break"))
        // Nothing was written, and the capture's value is not shown.
        #expect(shell.file("/etc/toy.conf", on: "t-c-members-1") == nil)
        #expect(!failure.message.contains("TOKEN"))
    }

    @Test("a failing secret capture shows its errors, never its output; known secrets are masked in what machines print")
    func failingSecretCapture() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = { command, machine in
            if command.hasPrefix("toy-token") { return CommandOutput(stdout: "TOKEN-half-written\n", exitStatus: 1) }
            return toyResponder(shell)(command, machine)
        }
        let (_, outcome) = try await Fixture.apply(Fixture.blueprint(members: 1), driver: driver, shell: shell, journal: journal)
        let failure = try #require(outcome.failures.first { $0.actionID == "t-c-leaders-1/join/2" })
        #expect(failure.stderrTail == nil, "stdout of a secret capture is not an error message: \(failure.stderrTail ?? "")")

        // With stderr, the capture's own output is masked in it.
        let shell2 = InMemoryShell(), journal2 = InMemoryJournal()
        shell2.responder = { command, machine in
            if command.hasPrefix("toy-token") {
                return CommandOutput(stdout: "TOKEN-abcdef\n", stderr: "toy-token: wrote TOKEN-abcdef but the leader is read-only\n", exitStatus: 1)
            }
            return toyResponder(shell2)(command, machine)
        }
        let (_, second) = try await Fixture.apply(Fixture.blueprint(members: 1), driver: InMemoryDriver(), shell: shell2, journal: journal2)
        let masked = try #require(second.failures.first { $0.actionID == "t-c-leaders-1/join/2" })
        #expect(masked.stderrTail == "toy-token: wrote (sensitive) but the leader is read-only")
    }

    @Test("masking replaces every known secret, the longest first")
    func maskOrder() {
        #expect(SecretMasking.mask("a abcdef abcdefgh z", ["abcdef", "abcdefgh", "abc"]) == "a (sensitive) (sensitive) z")
    }
}
