import Etcd
import Foundation
import PhotonCore

/// Which API server runs workflows: the one whose value sits in the leader key, which is bound to an
/// etcd lease it keeps alive. When the leader (or its machine) dies, its lease expires after the TTL,
/// the key goes with it, and the next server to try takes it.
public final class Leadership: Sendable {
    let etcd: EtcdClient
    let key: String
    let me: String
    let ttl: Int
    private let state = Locked(State())

    struct State {
        var lease: Int64?
        var isLeader = false
        var leader: String?
        var lastRenewal = ContinuousClock.now
    }

    /// - Parameter me: this server's advertised URL, the value other servers forward writes to.
    public init(etcd: EtcdClient, key: String, me: String, ttl: Int) {
        self.etcd = etcd
        self.key = key
        self.me = me
        self.ttl = ttl
    }

    public var isLeader: Bool { state.withLock { $0.isLeader } }
    /// The current leader's URL, as last seen.
    public var leader: String? { state.withLock { $0.leader } }

    /// Campaigns and renews until cancelled; `onChange` is called with each change of role.
    public func run(onChange: @escaping @Sendable (Bool) async -> Void) async {
        while !Task.isCancelled {
            let was = isLeader
            await step()
            let now = isLeader
            if now != was { await onChange(now) }
            try? await Task.sleep(for: .seconds(now ? max(1, ttl / 3) : 1))
        }
        if let lease = state.withLock({ $0.lease }) { try? await etcd.revoke(lease: lease) }
    }

    /// One round: renew the lease held, or try to take the key; then read who leads.
    func step() async {
        do {
            var lease = state.withLock { $0.lease }
            if let held = lease {
                if try await !etcd.keepAlive(lease: held) {
                    state.withLock {
                        $0.lease = nil
                        $0.isLeader = false
                    }
                    lease = nil
                }
            }
            if lease == nil {
                let granted = try await etcd.grantLease(ttl: ttl)
                state.withLock { $0.lease = granted }
                lease = granted
            }
            guard let lease else { return }
            let result = try await etcd.transaction(if: [.version(key, equals: 0)], then: [.put(key, Array(me.utf8), lease: lease)], else: [.get(key)])
            let holder = result.succeeded ? me : result.reads.first?.first.map { $0.string }
            let holderLease = result.reads.first?.first?.lease
            state.withLock {
                $0.leader = holder
                $0.isLeader = holder == me && (result.succeeded || holderLease == lease)
                $0.lastRenewal = .now
            }
        } catch {
            // etcd unreachable (this machine cut off, say): a leader that cannot renew steps down
            // before its lease could have expired elsewhere.
            state.withLock {
                if ContinuousClock.now - $0.lastRenewal > .seconds(max(1, ttl / 2)) { $0.isLeader = false }
            }
        }
    }
}
