import PhotonCore

/// What an operation asks of photon, as the API received it and its (authenticated) record keeps it.
///
/// Names are host name labels, checked when the request arrives (``problem``) and again when a server
/// hands it to the child that runs it (``OperationJob``).
public struct OperationRequest: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case apply, scale, destroy
    }

    public var kind: Kind
    /// The cluster scaled or destroyed; a destroy without one removes every cluster but the plane.
    public var cluster: String?
    /// Scale: the new count of each named role.
    public var counts: [String: Int]?
    /// Scale: allow counts the kind advises against (an even quorum).
    public var force: Bool?

    public static let apply = OperationRequest(kind: .apply)

    public static func scale(_ cluster: String, counts: [String: Int], force: Bool) -> OperationRequest {
        OperationRequest(kind: .scale, cluster: cluster, counts: counts, force: force ? true : nil)
    }

    public static func destroy(cluster: String?) -> OperationRequest {
        OperationRequest(kind: .destroy, cluster: cluster)
    }

    public init(kind: Kind, cluster: String? = nil, counts: [String: Int]? = nil, force: Bool? = nil) {
        self.kind = kind
        self.cluster = cluster
        self.counts = counts
        self.force = force
    }

    /// For people: "scale web workers=5", "destroy cluster web".
    public var summary: String {
        switch kind {
        case .apply: return "apply"
        case .scale: return "scale \(cluster ?? "") " + countArguments.joined(separator: " ")
        case .destroy: return cluster.map { "destroy cluster \($0)" } ?? "destroy every cluster"
        }
    }

    private var countArguments: [String] {
        (counts ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// Why the request cannot run, or nil: a name that is not a host name label, a scale without a
    /// cluster or counts, a negative count.
    public var problem: String? {
        for name in [cluster].compactMap({ $0 }) + (counts ?? [:]).keys.sorted() {
            if let problem = Hostname.problem(withLabel: name) {
                return "\(String(reflecting: name)) is not a cluster or role name: \(problem)"
            }
        }
        switch kind {
        case .apply:
            if cluster != nil || counts != nil || force != nil { return "an apply takes no cluster, counts or force" }
        case .scale:
            if cluster == nil { return "a scale names its cluster" }
            guard let counts, !counts.isEmpty, !counts.values.contains(where: { $0 < 0 }) else {
                return "counts must name at least one role, each with 0 or more machines"
            }
        case .destroy:
            if counts != nil || force != nil { return "a destroy takes no counts or force" }
        }
        return nil
    }
}
