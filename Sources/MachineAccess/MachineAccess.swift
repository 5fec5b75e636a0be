import Foundation
import PhotonCore

// How photon reaches machines: a machine driver (the control plane) makes them, a remote shell (SSH)
// runs things on them. The engine drives both through these protocols; the LXC and static drivers
// and the SSH transport implement them, and EngineTestSupport has in-memory doubles.

/// What the engine asks a driver to make: everything from the plan's create-machine action.
public struct MachineSpec: Sendable, Hashable {
    public var name: String
    public var group: String
    public var kind: String
    public var role: String
    public var index: Int
    public var flavor: Flavor
    /// The address photon allocated, or nil when the driver assigns one.
    public var address: String?
    public var needs: [String]

    public init(name: String, group: String, kind: String, role: String, index: Int, flavor: Flavor, address: String?, needs: [String]) {
        self.name = name
        self.group = group
        self.kind = kind
        self.role = role
        self.index = index
        self.flavor = flavor
        self.address = address
        self.needs = needs
    }
}

/// A machine as a driver reports it: where to reach it and the host key to expect there.
public struct MachineHandle: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public var port: Int
    /// SSH user; nil for the deployment's default.
    public var user: String?
    /// "SHA256:…"; the shell refuses a server whose key differs.
    public var hostKeyFingerprint: String?
    /// The driver's own id for the machine (container name, VM id).
    public var driverID: String

    public init(name: String, address: String, port: Int = 22, user: String? = nil, hostKeyFingerprint: String?, driverID: String) {
        self.name = name
        self.address = address
        self.port = port
        self.user = user
        self.hostKeyFingerprint = hostKeyFingerprint
        self.driverID = driverID
    }
}

/// The control plane: makes and removes machines. Every operation is idempotent by name.
public protocol MachineDriver: Sendable {
    /// Makes the machine, or returns it when one of that name exists (how a machine made just before a crash is adopted).
    func create(_ spec: MachineSpec) async throws -> MachineHandle
    /// Removes the machine; removing one that does not exist succeeds.
    func delete(name: String) async throws
    func lookup(name: String) async throws -> MachineHandle?
    /// The deployment's machines.
    func list() async throws -> [MachineHandle]
    /// Whether the machine runs; nil when the control plane cannot tell without connecting.
    func isRunning(name: String) async -> Bool?
    /// Of these running machines (name → address), the ones whose SSH port does not answer: their
    /// sshd died while the rest of the machine goes on. Only a driver that can bring sshd back
    /// (`create` of the machine again does) answers; the others find none.
    func deafMachines(_ addresses: [String: String]) async -> Set<String>
    /// With none of the deployment's machines left, lets go of what the control plane holds for it (the
    /// local driver's bridge and folders, which a killed apply may have made before its first machine);
    /// does nothing while a machine remains.
    func releaseIfUnused() async throws
}

extension MachineDriver {
    public func isRunning(name: String) async -> Bool? { nil }
    public func deafMachines(_ addresses: [String: String]) async -> Set<String> { [] }
    public func releaseIfUnused() async throws {}
}

/// What a command printed and how it ended.
public struct CommandOutput: Sendable, Hashable {
    public var stdout: String
    public var stderr: String
    public var exitStatus: Int32
    /// The signal that ended it ("TERM"), if one did.
    public var signal: String?

    public init(stdout: String = "", stderr: String = "", exitStatus: Int32 = 0, signal: String? = nil) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitStatus = exitStatus
        self.signal = signal
    }

    public var succeeded: Bool { exitStatus == 0 && signal == nil }
}

/// Runs things on machines.
public protocol RemoteShell: Sendable {
    /// Writes `data` at `path` atomically (a machine never sees half a file), with `mode` and `owner`.
    func upload(_ data: [UInt8], to path: String, mode: Int, owner: String?, on machine: MachineHandle) async throws
    /// Runs a shell command line and returns its output; a non-zero exit is an output, not an error.
    func execute(_ command: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput
    /// Runs a command as one run of step `step` (its command or its guard): on a real machine under that
    /// step's lock (``StepLock``), so it waits for a run of the step that a stopped photon left there.
    func execute(_ command: String, asStep step: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput
    /// Copies a file of the machine to `localPath` on the installer (mode 0600); returns its size.
    func download(_ path: String, to localPath: String, on machine: MachineHandle) async throws -> Int
    /// Whether something accepts TCP connections at `host:port` (for `wait: {port}` steps).
    func isListening(host: String, port: Int, timeout: Duration) async -> Bool
    /// Ends the connections kept for reuse, once a run is over: before the process exits, so no session
    /// is freed while the process tears its libraries down.
    func closeAll() async
}

extension RemoteShell {
    public func closeAll() async {}

    /// Shells without files of their own (test doubles) have nothing to copy.
    public func download(_ path: String, to localPath: String, on machine: MachineHandle) async throws -> Int {
        throw PhotonError("this shell cannot copy files from machines", help: "backups need photon's SSH transport")
    }

    /// Shells without machines of their own (test doubles) hold no lock: each run is the only one.
    public func execute(_ command: String, asStep step: String, on machine: MachineHandle, timeout: Duration?) async throws -> CommandOutput {
        try await execute(command, on: machine, timeout: timeout)
    }
}

/// Errors that say whether trying again may help. Errors that do not conform are permanent.
public protocol RetryClassifying: Error {
    /// Connection refused or reset, a timeout, a driver that is busy: try again later.
    var isTransient: Bool { get }
}

/// Errors that already name the machine and the operation they concern, so the engine adds nothing.
public protocol MachineOperationError: Error {}
