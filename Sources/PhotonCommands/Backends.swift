import Blueprints
import Engine
import Foundation
import PhotonCore
import StateStore

/// What `apply` and `destroy` run against: the control-plane driver and the remote shell for a
/// blueprint. photon's own binary uses the real ones; the crash-test bed substitutes file-backed machines.
public struct Backends: Sendable {
    public var driver: @Sendable (Blueprint, StateStore) throws -> any MachineDriver
    public var shell: @Sendable (Blueprint, StateStore) throws -> any RemoteShell
    /// Wraps the journal (the crash-test bed kills the process at a chosen transition).
    public var journal: @Sendable (any RunJournal) -> any RunJournal

    public init(driver: @escaping @Sendable (Blueprint, StateStore) throws -> any MachineDriver,
                shell: @escaping @Sendable (Blueprint, StateStore) throws -> any RemoteShell,
                journal: @escaping @Sendable (any RunJournal) -> any RunJournal = { $0 }) {
        self.driver = driver
        self.shell = shell
        self.journal = journal
    }

    /// The drivers and the SSH transport photon ships. They arrive with their own work (the LXC driver,
    /// the static driver, the libssh2 transport); until then `apply` says plainly that it cannot reach machines.
    public static let standard = Backends(
        driver: { blueprint, _ in
            throw PhotonError("this photon cannot create machines yet: the \(blueprint.controlPlane.driverName) driver is not part of this build",
                              help: "use 'photon plan' to see what apply would do")
        },
        shell: { _, _ in
            throw PhotonError("this photon cannot reach machines yet: the SSH transport is not part of this build",
                              help: "use 'photon plan' to see what apply would do")
        })

    static let current = Locked(Backends.standard)
}
