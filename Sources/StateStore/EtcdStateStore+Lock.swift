import Crypto
import Engine
import Etcd
import Foundation
import MachineAccess
import PhotonCore
import Planning

extension EtcdStateStore {
    // MARK: - The lock

    public func acquireLock(command: String) async throws -> LockAcquisition {
        let mine = LockRecord(id: UUID(), pid: System.pid, host: System.hostName, command: command, since: Date())
        let lease = try await etcd.grantLease(ttl: lockTTL)
        let result = try await etcd.transaction(
            if: [.version(key("lock"), equals: 0)], then: [.put(key("lock"), try Self.encode(mine), lease: lease)],
            else: [.get(key("lock"))])
        guard result.succeeded else {
            try? await etcd.revoke(lease: lease)
            if let value = result.reads.first?.first {
                throw lockedError(by: try Self.decode(LockRecord.self, value.value, key: value.key).holder)
            }
            throw PhotonError("the deployment '\(deployment)' is locked", help: "another photon is changing this deployment: wait for it to finish")
        }
        let keepAlive = Task.detached { [etcd, lockTTL, session] in
            // Renewed at a third of the TTL, so two missed renewals still keep it. A renewal that finds the
            // lease expired, or no renewal for a whole TTL, means another photon may hold the lock now.
            var renewed = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(max(1, lockTTL / 3)))
                if Task.isCancelled { break }
                switch try? await etcd.keepAlive(lease: lease) {
                case true?: renewed = .now
                case false?: session.withLock { $0.lockLost = true }
                case nil: if ContinuousClock.now - renewed > .seconds(lockTTL) { session.withLock { $0.lockLost = true } }
                }
                if session.withLock({ $0.lockLost }) { break }
            }
        }
        session.withLock {
            $0.heldLock = mine.id
            $0.lockRevision = result.revision
            $0.lockLost = false
            $0.lease = lease
            $0.keepAlive = keepAlive
        }
        return LockAcquisition(holder: mine.holder, warning: nil)
    }

    func stopKeepingAlive(revoke: Bool) async throws {
        let (task, lease) = session.withLock { session -> (Task<Void, Never>?, Int64?) in
            defer {
                session.keepAlive = nil
                session.lease = nil
                session.heldLock = nil
                session.lockRevision = nil
                session.lockLost = false
            }
            return (session.keepAlive, session.lease)
        }
        task?.cancel()
        if revoke, let lease { try await etcd.revoke(lease: lease) }
    }

    @discardableResult
    public func releaseLock(_ id: UUID) async throws -> Bool {
        guard session.withLock({ $0.heldLock == id }) else { return false }
        let result = try await etcd.transaction(if: [.value(key("lock"), equals: try lockValue(id))], then: [.delete(key("lock"))])
        try await stopKeepingAlive(revoke: true)
        return result.succeeded
    }

    func lockValue(_ id: UUID) async throws -> [UInt8] {
        try await etcd.get(key("lock")).map(\.value) ?? []
    }

    public func forceUnlock(id: String) async throws {
        let wanted = id.trimmingCharacters(in: .whitespaces).lowercased()
        guard let value = try await etcd.get(key("lock")) else {
            throw PhotonError("the deployment '\(deployment)' is not locked", help: "there is nothing to unlock")
        }
        let holder = try Self.decode(LockRecord.self, value.value, key: value.key).holder
        guard holder.id.uuidString.lowercased() == wanted else {
            throw PhotonError(
                "the lock of the deployment '\(deployment)' has the id \(holder.id.uuidString), not \(id); it is held by \(holder)",
                help: "check that this holder is gone, then run `photon unlock --force \(holder.id.uuidString)`")
        }
        _ = try await etcd.transaction(if: [.modRevision(key("lock"), equals: value.modRevision)], then: [.delete(key("lock"))])
        if value.lease != 0 { try? await etcd.revoke(lease: value.lease) }
        if session.withLock({ $0.heldLock?.uuidString.lowercased() == wanted }) { try await stopKeepingAlive(revoke: false) }
    }

    public func lockHolder() async throws -> LockHolder? {
        guard let value = try await etcd.get(key("lock")) else { return nil }
        return try Self.decode(LockRecord.self, value.value, key: value.key).holder
    }

    func lockedError(by holder: LockHolder) -> PhotonError {
        let id = holder.id.uuidString
        return PhotonError(
            "the deployment '\(deployment)' is locked by \(holder), lock id \(id); if that process is gone, its lock expires within \(lockTTL) s, or run `photon unlock --force \(id)`",
            help: "another operation is changing this deployment: wait for it to finish")
    }
}
