import PhotonCore

/// What an operation asks of photon, as the API received it and its (authenticated) record keeps it.
///
/// The plane's child `photon` gets its argument list from ``commandLine(blueprint:kinds:format:dryRun:)``
/// only: options first, then `--`, then the names. Names are host name labels, checked when the request
/// arrives (``problem``) and again when the command line is built, so no value can become an option.
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

    /// photon's arguments (after the executable) that run the request on the materialized blueprint and
    /// kinds, streaming JSON events; with `dryRun`, the plan it would carry out, in `format`.
    public func commandLine(blueprint: String, kinds: String, format: String = "json", dryRun: Bool = false) throws -> [String] {
        if let problem { throw PhotonError("the operation cannot run: \(problem)") }
        let files = ["-f", blueprint, "--templates", kinds]
        let output = ["--format", format == "json" ? "json" : "text"]
        switch kind {
        case .apply:
            return dryRun ? ["plan"] + files + output + ["--detailed-exitcode"] : ["apply"] + files + ["--yes"] + output
        case .scale:
            return ["scale"] + files + (dryRun ? ["--dry-run"] : ["--yes"]) + output + (force == true ? ["--force"] : [])
                + ["--", cluster!] + countArguments
        case .destroy:
            precondition(!dryRun, "the plane previews applies and scales only")
            return ["destroy"] + files + ["--yes"] + output + (cluster.map { ["--cluster", $0] } ?? ["--keep-management"])
        }
    }
}
