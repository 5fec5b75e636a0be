import Foundation

// The JSON bodies of the plane's API; `Sources/PlaneAPI/openapi.yaml` describes the same shapes,
// and a test checks the running server against it.

public struct HealthBody: Codable, Sendable {
    public var status: String
    public var node: String
    public var leader: Bool
    public var etcd: Bool
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
    /// The operation queued or running, if any.
    public var operation: OperationRecord?
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
    public var workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }
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
