import Blueprints
import Etcd
import Foundation
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// Where a deployment's state lives, however it was said (flags, or a plane's own configuration).
package struct StateLocation: Sendable {
    /// The state directory; nil for `.photon/<deployment>`.
    package var directory: String?
    /// The installer's own state even when a management plane runs the deployment.
    package var local = false

    package init(directory: String? = nil, local: Bool = false) {
        self.directory = directory
        self.local = local
    }

    package func directory(for deployment: String) -> String {
        if let plane = PlaneEnvironment.current { return plane.stateDirectory }
        return directory ?? ".photon/\(deployment)"
    }

    /// The deployment's store: the plane's etcd when this photon runs inside the plane (as an
    /// operation of `photon serve`), the SQLite file in the state directory otherwise.
    package func open(deployment: String) async throws -> OpenedState {
        try PlaneEnvironment.check()
        if let plane = PlaneEnvironment.current {
            guard plane.deployment == deployment else {
                throw PhotonError("this plane runs the deployment '\(plane.deployment)', not '\(deployment)'")
            }
            let store = try await EtcdStateStore(
                etcd: plane.etcdClient(localFirst: false), prefix: plane.prefix, deployment: deployment,
                keyDirectory: plane.stateDirectory)
            let agent = try await store.sealed("agent").map { try JSONDecoder().decode(AgentEndpoint.self, from: Data($0.utf8)) }
            return OpenedState(store: store, directory: plane.stateDirectory, agent: agent, inPlane: true)
        }
        let directory = directory(for: deployment)
        return OpenedState(store: try SQLiteStateStore.open(directory: directory, deployment: deployment), directory: directory, agent: nil, inPlane: false)
    }

    /// The recorded state when the deployment has one; empty for a new deployment, creating nothing.
    package func recorded(deployment: String) async throws -> RecordedState {
        if PlaneEnvironment.current != nil { return try await open(deployment: deployment).store.recordedState() }
        let path = directory(for: deployment) + "/" + SQLiteStateStore.databaseFileName
        guard FileManager.default.fileExists(atPath: path) else { return .empty }
        let store = try SQLiteStateStore.open(directory: directory(for: deployment), deployment: deployment)
        defer { try? store.close() }
        return try store.readRecordedState()
    }
}

/// A deployment's store, the folder of its keys and logs, and (inside the plane) the installer's agent.
package struct OpenedState: Sendable {
    package var store: any DeploymentStore
    package var directory: String
    package var agent: AgentEndpoint?
    package var inPlane: Bool
}

/// Set in the processes `photon serve` starts for operations: the server's configuration.
package enum PlaneEnvironment {
    package static let variable = PlaneServer.configurationVariable

    package static let loaded: Result<ServeConfiguration, any Error>? = {
        guard let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty else { return nil }
        return Result { try ServeConfiguration.load(path) }
    }()

    package static var current: ServeConfiguration? { try? loaded?.get() }

    /// Fails when the variable names a configuration that does not load.
    package static func check() throws {
        _ = try loaded?.get()
    }
}
