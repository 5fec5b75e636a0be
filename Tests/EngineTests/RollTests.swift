import Engine
import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCore
import Planning
import Testing

@Suite("Rolling changes")
struct RollTests {
    static let options = EngineOptions(parallelism: 16, pollInterval: .milliseconds(1), defaultWaitTimeout: .milliseconds(100), sleep: { _ in })

    @Test("a machine that fails its health while a change rolls stops the roll: the role's other machines keep their old files; the next apply goes on")
    func failedHealthStopsTheRoll() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        let before = Fixture.blueprint(members: 4, rollout: "{maxInFlight: 1}")
        let (_, first) = try await Fixture.apply(before, driver: driver, shell: shell, journal: journal, options: Self.options)
        #expect(first.status == .succeeded)

        // The port changes: every member's file changes, one member at a time after the canary.
        let after = before.replacingOccurrences(of: "roles: {leaders: 1, members: 4}", with: "roles: {leaders: 1, members: 4}\n    settings: {port: 7001}")
        let broken = "t-c-members-2"
        shell.responder = { command, machine in
            if command.hasPrefix("toy-status"), command.contains(broken) { return CommandOutput(stderr: "\(broken) is not serving\n", exitStatus: 1) }
            return toyResponder(shell)(command, machine)
        }
        let (plan, rolled) = try await Fixture.apply(after, driver: driver, shell: shell, journal: journal, options: Self.options)
        #expect(plan.machines.filter { $0.change == .update }.count == 5)
        #expect(rolled.status == .failed && rolled.failures.map(\.machine) == ["t-c-leaders-1"], "\(rolled.failures)")
        func port(_ machine: String) -> String? {
            shell.file("/etc/toy.conf", on: machine)?.split(separator: "\n").first { $0.hasPrefix("port=") }.map(String.init)
        }
        #expect(port("t-c-members-1") == "port=7001" && port(broken) == "port=7001")
        let untouched = ["t-c-members-3", "t-c-members-4"].filter { port($0) == "port=7000" }
        #expect(untouched.count == 2, "the roll went on past the failed member: \(["t-c-members-3", "t-c-members-4"].map { port($0) ?? "-" })")
        #expect(rolled.notStarted > 0)

        // Repaired: the next apply finishes the roll.
        shell.responder = toyResponder(shell)
        let (_, resumed) = try await Fixture.apply(after, driver: driver, shell: shell, journal: journal, options: Self.options)
        #expect(resumed.status == .succeeded)
        #expect((1...4).allSatisfy { port("t-c-members-\($0)") == "port=7001" })
    }

    @Test("a roll reaches a role only once every earlier role has rolled")
    func rollsGoRoleByRole() async throws {
        let driver = InMemoryDriver(), shell = InMemoryShell(), journal = InMemoryJournal()
        shell.responder = toyResponder(shell)
        let before = Fixture.blueprint(members: 3, leaders: 3, rollout: "{maxInFlight: 100%}")
        #expect(try await Fixture.apply(before, driver: driver, shell: shell, journal: journal, options: Self.options).1.status == .succeeded)
        let after = before.replacingOccurrences(of: "roles: {leaders: 3, members: 3}", with: "roles: {leaders: 3, members: 3}\n    settings: {port: 7001}")
        let (plan, _) = try Fixture.plan(after, recorded: try await journal.recordedState())
        let order = Locked<[(machine: String, finished: Bool)]>([])
        let (_, rolled) = try await Fixture.apply(after, driver: driver, shell: shell, journal: journal, options: Self.options) { event in
            switch event {
            case .started(let index, 1): order.withLock { $0.append((plan.actions[index].machine, false)) }
            case .finished(let index, _, _, _): order.withLock { $0.append((plan.actions[index].machine, true)) }
            default: break
            }
        }
        #expect(rolled.status == .succeeded)
        let events = order.withLock { $0 }
        let lastLeader = events.lastIndex { $0.machine.contains("leaders") && $0.finished } ?? -1
        let firstMember = events.firstIndex { $0.machine.contains("members") && !$0.finished } ?? -1
        #expect(lastLeader >= 0 && firstMember > lastLeader, "a member started changing before the last leader finished")
    }
}
