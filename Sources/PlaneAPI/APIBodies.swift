import Foundation
import Planning

// The JSON bodies of the plane's API; `Sources/PlaneAPI/openapi.yaml` describes the same shapes,
// and a test checks the running server against it.

/// `/v1/health`: without the token only `status` (HAProxy's check needs no secret); with it, the rest.
public struct HealthBody: Codable, Sendable {
    public var status: String
    public var node: String?
    public var leader: Bool?
    public var etcd: Bool?
    /// Whether the request carried the right token.
    public var authenticated: Bool
}

public struct PeerBody: Codable, Sendable {
    public var name: String
    public var url: String
}

public struct AppliedBody: Codable, Sendable {
    public var digest: String
    public var appliedAt: Date
}

public struct LockBody: Codable, Sendable {
    public var id: String
    public var command: String
    public var host: String
    public var pid: Int32
    public var since: Date
}

public struct DeploymentBody: Codable, Sendable {
    public var name: String
    public var serial: Int
    public var node: String
    /// The URL of the API server running workflows.
    public var leader: String?
    public var peers: [PeerBody]
    public var lastApplied: AppliedBody?
    public var lock: LockBody?
    public var clusters: [String]
    /// Counts set by `photon scale`, with the blueprint's count they replaced.
    public var scaled: [ScaledBody]
    /// The operation queued or running, if any.
    public var operation: OperationRecord?
    /// Certificates of the clusters that expire within 30 days (the next apply renews them).
    public var expiringCertificates: [ExpiringCertificate]?
}

public struct ScaledBody: Codable, Sendable {
    public var cluster: String
    public var role: String
    public var count: Int
    public var blueprintCount: Int
}

public struct MachineBody: Codable, Sendable {
    public var name: String
    public var role: String
    public var index: Int
    public var address: String
    public var lifecycle: String
}

public struct RoleBody: Codable, Sendable {
    public var name: String
    public var count: Int
    public var ready: Int
    public var machines: [MachineBody]
}

public struct ClusterBody: Codable, Sendable {
    public var name: String
    public var kind: String
    public var management: Bool
    /// "ready" when every machine finished its bring-up, "converging" while some have not, "changing"
    /// while machines are being removed.
    public var health: String
    public var roles: [RoleBody]
}

public struct RunBody: Codable, Sendable {
    public var id: Int64
    public var command: String
    public var status: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var summary: String?
}

public struct StepBody: Codable, Sendable {
    public var sequence: Int
    public var action: String
    public var machine: String
    public var status: String
    public var at: Date
    public var message: String?
    public var attempt: Int
}

public struct RunDetailBody: Codable, Sendable {
    public var run: RunBody
    public var steps: [StepBody]
}

public struct ApplyRequest: Codable, Sendable {
    public var workspace: BlueprintBundle
    public init(workspace: BlueprintBundle) { self.workspace = workspace }
}

public struct ScaleRequest: Codable, Sendable {
    public var counts: [String: Int]
    public var force: Bool?
    public init(counts: [String: Int], force: Bool?) {
        self.counts = counts
        self.force = force
    }
}

/// 202: the operation is recorded; its events stream from `events`.
public struct AcceptedBody: Codable, Sendable {
    public var operation: String
    public var status: String
    public var events: String
}

/// What `photon plan` (or `photon scale --dry-run`) would show, computed by the plane against its state.
public struct PlanRequest: Codable, Sendable {
    /// The blueprint to plan; nil plans the plane's current one.
    public var workspace: BlueprintBundle?
    /// Plans a scale of this cluster instead of an apply.
    public var scale: ScaleRequest?
    public var cluster: String?
    /// "text" or "json".
    public var format: String?

    public init(workspace: BlueprintBundle?, scale: ScaleRequest? = nil, cluster: String? = nil, format: String? = nil) {
        self.workspace = workspace
        self.scale = scale
        self.cluster = cluster
        self.format = format
    }

    /// The operation it previews: a scale of `cluster` when `scale` is given, otherwise an apply.
    public var request: OperationRequest {
        guard let scale else { return cluster.map { OperationRequest(kind: .apply, cluster: $0) } ?? .apply }
        return OperationRequest(kind: .scale, cluster: cluster, counts: scale.counts, force: scale.force)
    }
}

public struct PlanBody: Codable, Sendable {
    public var plan: String
    /// photon's exit status: 0, 1 (an error, in `errors`) or 2 (changes pending).
    public var exitStatus: Int32
    public var errors: String
}
