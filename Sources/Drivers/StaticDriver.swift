import Foundation
import MachineAccess
import PhotonCore
import SSH

/// Machines the user already has, listed in the blueprint. "Create" proves that the machine answers
/// with its pinned host key and accepts photon's key; "delete" forgets it (the kind's `remove` steps,
/// which reset it, have run before). Nothing is made or destroyed.
public final class StaticDriver: MachineDriver, @unchecked Sendable {
    /// A machine of the blueprint's `controlPlane.static.machines`.
    public struct Machine: Sendable, Hashable {
        public var address: String
        public var port: Int
        public var user: String?
        public var hostKeyFingerprint: String
        /// "photon.yaml:7:9", for errors.
        public var source: String

        public init(address: String, port: Int, user: String?, hostKeyFingerprint: String, source: String) {
            self.address = address
            self.port = port
            self.user = user
            self.hostKeyFingerprint = hostKeyFingerprint
            self.source = source
        }
    }

    let machines: [Machine]
    let credentials: SSHCredentials
    let defaultUser: String
    let connectTimeout: Duration
    /// Machines handed out, by name: those recorded by earlier runs and those checked in this one.
    private let known: Locked<[String: MachineHandle]>

    public init(machines: [Machine], credentials: SSHCredentials, defaultUser: String, connectTimeout: Duration, recorded: [MachineHandle]) {
        self.machines = machines
        self.credentials = credentials
        self.defaultUser = defaultUser
        self.connectTimeout = connectTimeout
        known = Locked(Dictionary(recorded.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }))
    }

    public func create(_ spec: MachineSpec) async throws -> MachineHandle {
        guard let address = spec.address, let machine = machines.first(where: { $0.address == address }) else {
            throw DriverError(
                machine: spec.name, operation: "create", "no static machine has the address \(spec.address ?? "(none)")",
                help: "list the machine under controlPlane.static.machines")
        }
        let user = machine.user ?? defaultUser
        do {
            let connection = try await SSHConnection.open(
                host: machine.address, port: machine.port, user: user, credentials: credentials,
                expectedFingerprint: machine.hostKeyFingerprint, connectTimeout: connectTimeout)
            await connection.close()
        } catch let error as SSHError {
            let help: String
            switch error.kind {
            case .hostKeyMismatch: help = "if the machine was reinstalled, pin its new key at \(machine.source) ('ssh-keyscan -t ed25519 \(machine.address)')"
            case .authentication: help = "add photon's public key to \(user)'s authorized_keys on \(machine.address)"
            default: help = "check that \(machine.address):\(machine.port) is up and reachable from this host"
            }
            throw DriverError(
                machine: spec.name, operation: "create",
                "the static machine \(machine.address):\(machine.port) (\(machine.source)) failed the check: \(error.message)",
                help: help, transient: error.isTransient)
        }
        let handle = MachineHandle(
            name: spec.name, address: machine.address, port: machine.port, user: user,
            hostKeyFingerprint: machine.hostKeyFingerprint, driverID: "static:\(machine.address):\(machine.port)")
        known.withLock { $0[spec.name] = handle }
        return handle
    }

    public func delete(name: String) async throws {
        known.withLock { $0[name] = nil }
    }

    public func lookup(name: String) async throws -> MachineHandle? {
        known.withLock { $0[name] }
    }

    public func list() async throws -> [MachineHandle] {
        known.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }
}
