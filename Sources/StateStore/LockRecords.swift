import Foundation
import GRDB
import PhotonCore

/// The process allowed to change a deployment.
public struct LockHolder: Sendable, Hashable, CustomStringConvertible {
    public var id: UUID
    public var pid: Int32
    public var host: String
    public var command: String
    public var since: Date

    public init(id: UUID, pid: Int32, host: String, command: String, since: Date) {
        self.id = id
        self.pid = pid
        self.host = host
        self.command = command
        self.since = since
    }

    /// "`photon apply` (pid 4242 on host build-1, since 2025-06-01T10:00:00Z)"
    public var description: String {
        let formatter = ISO8601DateFormatter()
        return "`\(command)` (pid \(pid) on host \(host), since \(formatter.string(from: since)))"
    }
}

/// A lock this process now holds.
public struct LockAcquisition: Sendable, Hashable {
    public var holder: LockHolder
    /// Set when the lock was taken over from a process on this host that no longer exists; names it.
    public var warning: String?

    public var id: UUID { holder.id }
}
