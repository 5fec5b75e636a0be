import Blueprints
// photon-testbed: photon with file-backed machines (EngineTestSupport.FileBackedMachines) instead of
// real ones, for the crash tests. PHOTON_TESTBED_MACHINES names the machines' directory;
// PHOTON_TESTBED_KILL_AT=N makes the process SIGKILL itself right after the Nth transition is durable;
// PHOTON_TESTBED_KILL_AFTER_COMMAND=N right after the Nth command ran on a machine, before its outcome
// is journaled — as if the power went at that instant. PHOTON_TESTBED_LATENCY_MS slows every command.
//
// `photon-testbed local-machine DIRECTORY NETWORK NAME ADDRESS AUTHORIZED_KEY` instead makes one LXC machine
// with the local driver, for the tests that SIGKILL the creating process halfway.
import Deployments
import Drivers
import Engine
import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCommands
import PhotonCore
import Planning

if CommandLine.arguments.count == 7, CommandLine.arguments[1] == "local-machine", let network = IPv4Network(CommandLine.arguments[3]) {
    let arguments = CommandLine.arguments
    let driver = LocalDriver(
        LocalDriver.Configuration(
            deployment: "testbed", network: network, machinesDirectory: arguments[2],
            hiddenPaths: [HiddenPath(arguments[2], reason: .state)], authorizedKey: arguments[6]))
    let spec = MachineSpec(
        name: arguments[4], group: "testbed", kind: "testbed", role: "machine", index: 1,
        flavor: Flavor.builtIn["small"]!, address: arguments[5], needs: [])
    do {
        let handle = try await driver.create(spec)
        print(handle.hostKeyFingerprint ?? "")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(1)
    }
}

let environment = ProcessInfo.processInfo.environment
let machines = FileBackedMachines(root: URL(fileURLWithPath: environment["PHOTON_TESTBED_MACHINES"] ?? "testbed-machines"))
let killAt = environment["PHOTON_TESTBED_KILL_AT"].flatMap { Int($0) }
let killAfterCommand = environment["PHOTON_TESTBED_KILL_AFTER_COMMAND"].flatMap { Int($0) }
let latency = Duration.milliseconds(environment["PHOTON_TESTBED_LATENCY_MS"].flatMap { Int($0) } ?? 0)
/// Commands starting with this fail (exit 3, a line on stderr): a step that fails for good.
let failing = environment["PHOTON_TESTBED_FAIL_COMMAND"].flatMap { $0.isEmpty ? nil : $0 }

/// The file-backed shell, slowed down or killed on request.
final class FaultyShell: RemoteShell, @unchecked Sendable {
    let inner: FileBackedMachines
    let lock = NSLock()
    var commands = 0

    init(_ inner: FileBackedMachines) { self.inner = inner }

    func upload(_ data: [UInt8], to path: String, mode: Int, owner: String?, on machine: MachineHandle) async throws {
        if latency > .zero { try await Task.sleep(for: latency) }
        try await inner.upload(data, to: path, mode: mode, owner: owner, on: machine)
    }

    func execute(_ command: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput {
        if latency > .zero { try await Task.sleep(for: latency) }
        if let failing, command.hasPrefix(failing) { return CommandOutput(stderr: "\(failing): refused on \(machine.name)\n", exitStatus: 3) }
        let output = try await inner.execute(command, on: machine, timeout: timeout)
        if let killAfterCommand, !command.hasPrefix("test -e "),
            lock.withLock({
                commands += 1
                return commands
            }) >= killAfterCommand
        {
            kill(getpid(), SIGKILL)
        }
        return output
    }

    func isListening(host: String, port: Int, timeout: Duration) async -> Bool { true }
}

/// Counts durable transitions and kills the process at the chosen one.
final class KillingJournal: RunJournal, @unchecked Sendable {
    let inner: any RunJournal
    let killAt: Int
    let lock = NSLock()
    var recorded = 0

    init(_ inner: any RunJournal, killAt: Int) {
        self.inner = inner
        self.killAt = killAt
    }

    func record(_ transitions: [Transition]) async throws {
        try await inner.record(transitions)
        let reached = lock.withLock { () -> Bool in
            recorded += transitions.count
            return recorded >= killAt
        }
        if reached { kill(getpid(), SIGKILL) }
    }

    func recordedState() async throws -> RecordedState { try await inner.recordedState() }
}

/// Runs a hook once a chosen transition of a chosen action is durable: the crash and repair tests of
/// real clusters kill the process there, or break a machine.
final class TransitionHookJournal: RunJournal, @unchecked Sendable {
    let inner: any RunJournal
    let actionID: String
    let status: Transition.Status
    let hook: @Sendable () async -> Void

    /// `ACTION:STATUS` (the action id may itself hold colons), or nil when the text is not one.
    init?(_ inner: any RunJournal, target: String, hook: @escaping @Sendable () async -> Void) {
        guard let colon = target.lastIndex(of: ":"), let status = Transition.Status(rawValue: String(target[target.index(after: colon)...])) else {
            return nil
        }
        self.inner = inner
        actionID = String(target[..<colon])
        self.status = status
        self.hook = hook
    }

    func record(_ transitions: [Transition]) async throws {
        try await inner.record(transitions)
        if transitions.contains(where: { $0.actionID == actionID && $0.status == status }) { await hook() }
    }

    func recordedState() async throws -> RecordedState { try await inner.recordedState() }
}

// PHOTON_TESTBED_REAL=1: photon's own drivers and SSH, with PHOTON_TESTBED_KILL_ON=ACTION:STATUS and
// PHOTON_TESTBED_KILL_DELAY_MS choosing when to die.
if environment["PHOTON_TESTBED_REAL"] == "1" {
    var backends = Backends.standard
    if let target = environment["PHOTON_TESTBED_KILL_ON"] {
        // At once, or after a delay so the kill lands while the action runs.
        let delay = UInt32(environment["PHOTON_TESTBED_KILL_DELAY_MS"].flatMap { Int($0) } ?? 0) * 1000
        backends.journal = { journal in
            TransitionHookJournal(journal, target: target) {
                if delay == 0 { kill(getpid(), SIGKILL) }
                Thread {
                    usleep(delay)
                    kill(getpid(), SIGKILL)
                }.start()
            } ?? journal
        }
    }
    // PHOTON_TESTBED_RUN_ON=ACTION:STATUS and PHOTON_TESTBED_RUN=COMMAND: run a host command (say, one
    // that kills a machine's sshd) once that transition is durable, and go on.
    if let target = environment["PHOTON_TESTBED_RUN_ON"], let command = environment["PHOTON_TESTBED_RUN"] {
        backends.journal = { journal in
            TransitionHookJournal(journal, target: target) { _ = try? await HostCommand.run(["/bin/sh", "-c", command]) } ?? journal
        }
    }
    await Photon.run(backends: backends)
}

await Photon.run(
    backends: Backends(
        driver: { _, _ in machines },
        shell: { _, _ in FaultyShell(machines) },
        journal: { journal in killAt.map { KillingJournal(journal, killAt: $0) } ?? journal }))
